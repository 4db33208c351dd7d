// quasi-echo: a UDP and TCP echo server (RFC 862) on a tap device or a DPDK port.
//
//   quasi-echo --tap IFNAME --ip 198.18.0.2/24 [--gw ADDR] [--udp-port 7]
//              [--tcp-port 7] [--mac MAC] [--seconds N] [--impair SPEC]
//   quasi-echo --dpdk --ip 198.18.0.2/24 --udp-port 7 --tcp-port 7 -- EAL ARGS
//
// `--help` lists every option. Prints the stack's counters and drop reasons on
// SIGINT/SIGTERM (or after --seconds); on DPDK also the port's counters and how many
// mbufs were not back in their mempools after the port stopped (0 unless a leak).
// --impair puts the seeded impairment decorator on the link, both directions
// (apps/impair_options.hpp), e.g. --impair loss=0.01,delay=20ms,reorder=0.1,seed=3.
#include "apps/app_common.hpp"
#include "apps/app_link.hpp"
#include "apps/tcp_server.hpp"
#include "ports/x86/steady_clock.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace quasi;

namespace {

struct Options {
    app::AppLinkOptions link;
    uint16_t udp_port = 7;
    uint16_t tcp_port = 0;  // 0: no TCP echo
    uint64_t seconds = 0;   // 0: until a signal
};

// 0 to go on, else the exit code (--help: 0 after printing).
int parse_options(int argc, char** argv, Options& o, bool& done) {
    std::vector<char*> args;
    app::split_eal_args(argc, argv, args, o.link.eal_args);
    CLI::App cli{"quasi-echo: UDP and TCP echo (RFC 862) on a tap or a DPDK port"};
    o.link.add_to(cli);
    cli.add_option("--udp-port", o.udp_port, "UDP echo port")->check(CLI::Range(1, 65535))->capture_default_str();
    cli.add_option("--tcp-port", o.tcp_port, "TCP echo port (none unless given)")->check(CLI::Range(1, 65535));
    cli.add_option("--seconds", o.seconds, "stop after N seconds (default: at SIGINT/SIGTERM)");
    done = true;
    try {
        cli.parse(static_cast<int>(args.size()), args.data());
    } catch (const CLI::ParseError& e) {
        return cli.exit(e);
    }
    std::string error;
    if (!o.link.check(&error)) {
        std::fprintf(stderr, "quasi-echo: %s\n%s", error.c_str(), cli.help().c_str());
        return 2;
    }
    done = false;
    return 0;
}

// TCP echo: whatever arrives goes back out.
void echo_back(app::TcpServer::Connection& c, void*) {
    c.out += c.in;
    c.in.clear();
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    bool done = false;
    if (int rc = parse_options(argc, argv, o, done); done) return rc;
    std::string error;
    auto link = app::AppLink::open("quasi-echo", o.link, &error);
    if (!link) {
        std::fprintf(stderr, "quasi-echo: %s\n", error.c_str());
        return 1;
    }
    SteadyClock clock;
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 8192;
    // Room for 2,000 connections at the default 256 KiB + 256 KiB rings: a ring's
    // pages are touched only as data flows through it, so idle ones cost address space.
    config.tcp.max_buffer_memory = size_t{1} << 30;
    config.max_descriptors = 4096;
    auto stack = std::make_unique<Stack>(config, clock, link->shared_pool());
    if (!link->attach(*stack, clock, &error)) {
        std::fprintf(stderr, "quasi-echo: %s\n", error.c_str());
        return 1;
    }
    int fd = socket(*stack, kAfInet, kSockDgram);
    if (int rc = fd < 0 ? fd : bind(*stack, fd, SockAddr{Ipv4Addr{}, o.udp_port}); rc < 0) {
        std::fprintf(stderr, "quasi-echo: cannot bind UDP port %u: %s\n", o.udp_port, std::strerror(-rc));
        return 1;
    }
    auto tcp_echo = std::make_unique<app::TcpServer>(*stack, echo_back, nullptr, nullptr);
    if (o.tcp_port) {
        if (int rc = tcp_echo->listen(o.tcp_port); rc < 0) {
            std::fprintf(stderr, "quasi-echo: cannot listen on TCP port %u: %s\n", o.tcp_port, std::strerror(-rc));
            return 1;
        }
    }
    char ip[16];
    std::printf("quasi-echo: %s on %s, UDP echo on port %u", format(o.link.ip, ip, sizeof ip), link->name(),
                o.udp_port);
    if (o.tcp_port) std::printf(", TCP echo on port %u", o.tcp_port);
    std::printf("\n");
    if (o.link.impair.requested()) std::printf("quasi-echo: impairment %s\n", o.link.impair.describe());
    std::fflush(stdout);

    app::install_stop_handlers();
    std::vector<uint8_t> buf(65536);
    TimeNs deadline = o.seconds ? clock.now() + o.seconds * kSecond : 0;
    uint64_t echoed = 0;
    while (!app::stop_requested() && (deadline == 0 || clock.now() < deadline)) {
        size_t work = stack->poll();
        SockAddr from;
        ssize_t n;
        while ((n = recvfrom(*stack, fd, buf.data(), buf.size(), 0, &from)) >= 0) {
            if (sendto(*stack, fd, buf.data(), size_t(n), 0, &from) == n) ++echoed;
            ++work;
        }
        if (o.tcp_port) work += tcp_echo->serve();
        link->flush_due();
        // idle: sleep until the tap has a frame, a timer may be due or a held frame is
        if (work == 0) link->idle_wait(clock, 5 * kMillisecond);
    }
    std::printf("quasi-echo: echoed %llu datagrams\n", (unsigned long long)echoed);
    if (o.tcp_port)
        std::printf("quasi-echo: tcp connections accepted %llu, open %zu, sockets in use %zu\n",
                    (unsigned long long)tcp_echo->accepted(), tcp_echo->connections(), stack->tcp().open_sockets());
    app::print_stats(stdout, "stack statistics:", stack->stats());
    link->detach(stdout);
    tcp_echo.reset();
    stack.reset();
    return link->finish(stdout) == 0 ? 0 : 1;
}
