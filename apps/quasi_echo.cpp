// quasi-echo: a UDP and TCP echo server (RFC 862) on a tap device.
//
//   quasi-echo --tap IFNAME --ip 198.18.0.2/24 [--gw ADDR] [--udp-port 7]
//              [--tcp-port 7] [--mac 02:00:00:00:00:01] [--seconds N] [--impair SPEC]
//
// Prints the stack's counters and drop reasons on SIGINT/SIGTERM (or after --seconds).
// --impair puts the seeded impairment decorator on the tap, both directions
// (apps/impair_options.hpp), e.g. --impair loss=0.01,delay=20ms,reorder=0.1,seed=3.
#include "apps/app_common.hpp"
#include "apps/impair_options.hpp"
#include "apps/tcp_server.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/tap.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace quasi;

namespace {

struct Options {
    const char* tap = nullptr;
    Ipv4Addr ip;
    uint8_t prefix_len = 0;
    Ipv4Addr gateway;
    uint16_t udp_port = 7;
    uint16_t tcp_port = 0;  // 0: no TCP echo
    MacAddr mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
    uint64_t seconds = 0;  // 0: until a signal
    app::LinkImpairment impair;
};

void usage() {
    std::fprintf(stderr,
                 "usage: quasi-echo --tap IFNAME --ip ADDR/LEN [--gw ADDR] [--udp-port PORT]\n"
                 "                  [--tcp-port PORT] [--mac MAC] [--seconds N] [--impair SPEC]\n");
}

bool parse_options(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const char* arg = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = value != nullptr;
        uint64_t n = 0;
        if (!std::strcmp(arg, "--tap") && ok) o.tap = value;
        else if (!std::strcmp(arg, "--ip") && ok) ok = app::parse_cidr(value, o.ip, o.prefix_len);
        else if (!std::strcmp(arg, "--gw") && ok) ok = parse_ipv4(value, o.gateway);
        else if (!std::strcmp(arg, "--mac") && ok) ok = parse_mac(value, o.mac);
        else if (!std::strcmp(arg, "--udp-port") && ok) ok = app::parse_size(value, n) && n > 0 && n < 65536, o.udp_port = uint16_t(n);
        else if (!std::strcmp(arg, "--tcp-port") && ok) ok = app::parse_size(value, n) && n > 0 && n < 65536, o.tcp_port = uint16_t(n);
        else if (!std::strcmp(arg, "--seconds") && ok) ok = app::parse_size(value, o.seconds);
        else if (!std::strcmp(arg, "--impair") && ok) ok = o.impair.parse(value);
        else {
            std::fprintf(stderr, "quasi-echo: unknown or incomplete option '%s'\n", arg);
            return false;
        }
        if (!ok) {
            std::fprintf(stderr, "quasi-echo: bad value for %s: '%s'\n", arg, value ? value : "");
            return false;
        }
        i += 1;  // past the option's value
    }
    if (!o.tap || o.prefix_len == 0) {
        std::fprintf(stderr, "quasi-echo: --tap and --ip are required\n");
        return false;
    }
    return true;
}

// TCP echo: whatever arrives goes back out.
void echo_back(app::TcpServer::Connection& c, void*) {
    c.out += c.in;
    c.in.clear();
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse_options(argc, argv, o)) {
        usage();
        return 2;
    }
    SteadyClock clock;
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 8192;
    // Room for 2,000 connections at the default 256 KiB + 256 KiB rings: a ring's
    // pages are touched only as data flows through it, so idle ones cost address space.
    config.tcp.max_buffer_memory = size_t{1} << 30;
    config.max_descriptors = 4096;
    Stack stack(config, clock);
    app::LinkImpairment::ReleaseGuard release_impairment{o.impair};  // before the stack and its pool go

    int error = 0;
    auto tap = TapNetif::open(o.tap, stack.pool(), TapNetif::Config{.mac = o.mac}, &error);
    if (!tap) {
        std::fprintf(stderr, "quasi-echo: cannot open tap '%s': %s (%s)\n", o.tap, std::strerror(error),
                     TapNetif::open_error_hint(error));
        return 1;
    }
    Netif& link = o.impair.wrap(*tap, stack.pool(), clock);
    if (int rc = stack.add_interface(link, o.ip, o.prefix_len); rc < 0) {
        std::fprintf(stderr, "quasi-echo: cannot add interface: %s\n", std::strerror(-rc));
        return 1;
    }
    if (!o.gateway.is_unspecified()) {
        if (int rc = stack.add_route(Ipv4Addr{}, 0, o.gateway); rc < 0) {
            std::fprintf(stderr, "quasi-echo: cannot add default route: %s\n", std::strerror(-rc));
            return 1;
        }
    }
    int fd = socket(stack, kAfInet, kSockDgram);
    if (int rc = fd < 0 ? fd : bind(stack, fd, SockAddr{Ipv4Addr{}, o.udp_port}); rc < 0) {
        std::fprintf(stderr, "quasi-echo: cannot bind UDP port %u: %s\n", o.udp_port, std::strerror(-rc));
        return 1;
    }
    app::TcpServer tcp_echo(stack, echo_back, nullptr, nullptr);
    if (o.tcp_port) {
        if (int rc = tcp_echo.listen(o.tcp_port); rc < 0) {
            std::fprintf(stderr, "quasi-echo: cannot listen on TCP port %u: %s\n", o.tcp_port, std::strerror(-rc));
            return 1;
        }
    }
    char ip[16];
    std::printf("quasi-echo: %s on %s, UDP echo on port %u", format(o.ip, ip, sizeof ip), o.tap, o.udp_port);
    if (o.tcp_port) std::printf(", TCP echo on port %u", o.tcp_port);
    std::printf("\n");
    if (o.impair.requested()) std::printf("quasi-echo: impairment %s\n", o.impair.describe());
    std::fflush(stdout);

    app::install_stop_handlers();
    std::vector<uint8_t> buf(65536);
    TimeNs deadline = o.seconds ? clock.now() + o.seconds * kSecond : 0;
    uint64_t echoed = 0;
    while (!app::stop_requested() && (deadline == 0 || clock.now() < deadline)) {
        size_t work = stack.poll();
        SockAddr from;
        ssize_t n;
        while ((n = recvfrom(stack, fd, buf.data(), buf.size(), 0, &from)) >= 0) {
            if (sendto(stack, fd, buf.data(), size_t(n), 0, &from) == n) ++echoed;
            ++work;
        }
        if (o.tcp_port) work += tcp_echo.serve();
        o.impair.flush_due();
        // idle: sleep until the tap has a frame, a timer may be due or a held frame is
        if (work == 0) o.impair.idle_wait(tap->fd(), clock, 5 * kMillisecond);
    }
    std::printf("quasi-echo: echoed %llu datagrams\n", (unsigned long long)echoed);
    if (o.tcp_port)
        std::printf("quasi-echo: tcp connections accepted %llu, open %zu, sockets in use %zu\n",
                    (unsigned long long)tcp_echo.accepted(), tcp_echo.connections(), stack.tcp().open_sockets());
    app::print_stats(stdout, "stack statistics:", stack.stats());
    o.impair.print(stdout);
    return 0;
}
