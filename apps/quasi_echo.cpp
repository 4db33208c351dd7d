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

// One core's echo: its Stack (on its own queue with DPDK), UDP socket and TCP server.
struct EchoCore {
    std::unique_ptr<Stack> stack;
    std::unique_ptr<app::TcpServer> tcp;
    int udp_fd = -1;
    uint64_t echoed = 0;
};

// The core's stack, bound and listening; false after printing why not.
bool set_up_core(EchoCore& core, uint16_t index, app::AppLink& link, const Options& o, const Clock& clock) {
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 8192;
    // Room for 2,000 connections at the default 256 KiB + 256 KiB rings: a ring's
    // pages are touched only as data flows through it, so idle ones cost address space.
    config.tcp.max_buffer_memory = size_t{1} << 30;
    config.max_descriptors = 4096;
    link.configure(config, index);
    core.stack = std::make_unique<Stack>(config, clock, link.shared_pool(index));
    std::string error;
    if (!link.attach(*core.stack, clock, &error, index)) {
        std::fprintf(stderr, "quasi-echo: %s\n", error.c_str());
        return false;
    }
    Stack& stack = *core.stack;
    core.udp_fd = socket(stack, kAfInet, kSockDgram);
    int fd = core.udp_fd;
    if (int rc = fd < 0 ? fd : bind(stack, fd, SockAddr{Ipv4Addr{}, o.udp_port}); rc < 0) {
        std::fprintf(stderr, "quasi-echo: cannot bind UDP port %u: %s\n", o.udp_port, std::strerror(-rc));
        return false;
    }
    core.tcp = std::make_unique<app::TcpServer>(stack, echo_back, nullptr, nullptr);
    if (o.tcp_port) {
        if (int rc = core.tcp->listen(o.tcp_port); rc < 0) {
            std::fprintf(stderr, "quasi-echo: cannot listen on TCP port %u: %s\n", o.tcp_port, std::strerror(-rc));
            return false;
        }
    }
    return true;
}

// Run to completion until a signal or the deadline (0: none).
void serve_core(EchoCore& core, app::AppLink& link, const Options& o, const Clock& clock, TimeNs deadline) {
    Stack& stack = *core.stack;
    std::vector<uint8_t> buf(65536);
    while (!app::stop_requested() && (deadline == 0 || clock.now() < deadline)) {
        size_t work = stack.poll();
        SockAddr from;
        ssize_t n;
        while ((n = recvfrom(stack, core.udp_fd, buf.data(), buf.size(), 0, &from)) >= 0) {
            if (sendto(stack, core.udp_fd, buf.data(), size_t(n), 0, &from) == n) ++core.echoed;
            ++work;
        }
        if (o.tcp_port) work += core.tcp->serve();
        link.flush_due();
        // idle: sleep until the tap has a frame, a timer may be due or a held frame is
        if (work == 0) link.idle_wait(clock, 5 * kMillisecond);
    }
}

// Totals first (the tests read these lines), then each core's share.
void print_totals(const std::vector<EchoCore>& cores, const Options& o) {
    uint64_t echoed = 0, accepted = 0;
    size_t open = 0, in_use = 0;
    Stats stats;
    for (const EchoCore& c : cores) {
        echoed += c.echoed;
        accepted += c.tcp->accepted();
        open += c.tcp->connections();
        in_use += c.stack->tcp().open_sockets();
        app::add_stats(stats, c.stack->stats());
    }
    std::printf("quasi-echo: echoed %llu datagrams\n", (unsigned long long)echoed);
    if (o.tcp_port)
        std::printf("quasi-echo: tcp connections accepted %llu, open %zu, sockets in use %zu\n",
                    (unsigned long long)accepted, open, in_use);
    for (size_t i = 0; cores.size() > 1 && i < cores.size(); ++i)
        std::printf("quasi-echo: core %zu: tcp connections accepted %llu, datagrams echoed %llu\n", i,
                    (unsigned long long)cores[i].tcp->accepted(), (unsigned long long)cores[i].echoed);
    app::print_stats(stdout, "stack statistics:", stats);
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
    std::vector<EchoCore> cores(link->cores());
    for (uint16_t i = 0; i < cores.size(); ++i)
        if (!set_up_core(cores[i], i, *link, o, clock)) return 1;
    char ip[16];
    std::printf("quasi-echo: %s on %s, UDP echo on port %u", format(o.link.ip, ip, sizeof ip), link->name(),
                o.udp_port);
    if (o.tcp_port) std::printf(", TCP echo on port %u", o.tcp_port);
    if (cores.size() > 1) std::printf(", %zu cores", cores.size());
    std::printf("\n");
    if (o.link.impair.requested()) std::printf("quasi-echo: impairment %s\n", o.link.impair.describe());
    std::fflush(stdout);

    app::install_stop_handlers();
    TimeNs deadline = o.seconds ? clock.now() + o.seconds * kSecond : 0;
    link->run([&](uint16_t i) { serve_core(cores[i], *link, o, clock, deadline); });
    print_totals(cores, o);
    link->detach(stdout);
    cores.clear();  // servers, then stacks: every buffer back before the port goes
    return link->finish(stdout) == 0 ? 0 : 1;
}
