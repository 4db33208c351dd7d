// quasi-perf: netperf-like streams between two stacks.
//
//   quasi-perf [--link mem] [--proto udp|tcp] [--size 64,1472] [--seconds 2] [--count N]
//
// UDP: datagrams of each size. TCP: one connection, send() calls of each size
// (MSS 1448 with timestamps), bytes counted as the receiver reads them.
//
// On the in-memory link both stacks run in this process, polled alternately on one
// thread, so a figure measures the whole path: socket send, UDP, IPv4, ARP, Ethernet,
// link, and the same on receive up to recvfrom.
#include "apps/app_common.hpp"
#include "ports/x86/mem_link.hpp"
#include "ports/x86/steady_clock.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace quasi;

namespace {

struct Options {
    bool tcp = false;
    std::vector<size_t> sizes{64, 1472};
    double seconds = 2.0;
    uint64_t count = 0;  // 0: run for `seconds`
};

constexpr Ipv4Addr kAddrA = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kAddrB = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr uint16_t kPortA = 5001;
constexpr uint16_t kPortB = 5002;
constexpr size_t kBurst = 32;

struct StreamResult {
    uint64_t sent = 0;
    uint64_t received = 0;
    uint64_t send_errors = 0;
    double seconds = 0;
};

bool parse_sizes(const char* text, std::vector<size_t>& sizes) {
    sizes.clear();
    while (*text) {
        char* end = nullptr;
        unsigned long v = std::strtoul(text, &end, 10);
        if (end == text || v > (16ul << 20)) return false;
        sizes.push_back(v);
        text = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return false;
    }
    return !sizes.empty();
}

bool parse_options(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const char* arg = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = value != nullptr;
        if (!std::strcmp(arg, "--link") && ok) ok = !std::strcmp(value, "mem");
        else if (!std::strcmp(arg, "--size") && ok) ok = parse_sizes(value, o.sizes);
        else if (!std::strcmp(arg, "--proto") && ok) o.tcp = !std::strcmp(value, "tcp"), ok = o.tcp || !std::strcmp(value, "udp");
        else if (!std::strcmp(arg, "--seconds") && ok) o.seconds = std::atof(value), ok = o.seconds > 0 && o.seconds <= 3600;
        else if (!std::strcmp(arg, "--count") && ok) ok = app::parse_size(value, o.count);
        else {
            std::fprintf(stderr, "quasi-perf: unknown or incomplete option '%s'\n", arg);
            return false;
        }
        if (!ok) {
            std::fprintf(stderr, "quasi-perf: bad value for %s: '%s'\n", arg, value ? value : "");
            return false;
        }
        ++i;
    }
    return true;
}

// Drives stack b until its link is drained, receiving everything queued for fd.
uint64_t drain(Stack& b, int fd, std::vector<uint8_t>& buf) {
    uint64_t got = 0;
    for (int round = 0; round < 64; ++round) {
        size_t work = b.poll();
        while (recv(b, fd, buf.data(), buf.size()) >= 0) ++got;
        if (work == 0) break;
    }
    return got;
}

StreamResult run_udp_stream(size_t size, const Options& o) {
    SteadyClock clock;
    BufferPool pool{BufferPool::Config{.count = 8192}};
    MemLink link;
    Stack::Config config;
    config.seed = app::random_seed();
    Stack a(config, clock, &pool);
    config.seed = app::random_seed();
    Stack b(config, clock, &pool);
    a.add_interface(link.a(), kAddrA, 24);
    b.add_interface(link.b(), kAddrB, 24);
    int fa = socket(a, kAfInet, kSockDgram);
    int fb = socket(b, kAfInet, kSockDgram);
    bind(a, fa, SockAddr{kAddrA, kPortA});
    bind(b, fb, SockAddr{kAddrB, kPortB});
    connect(a, fa, SockAddr{kAddrB, kPortB});

    std::vector<uint8_t> payload(size, 0x5A), buf(65536);
    // Warm-up: resolve ARP both ways before the clock starts.
    send(a, fa, payload.data(), size);
    for (int i = 0; i < 16; ++i) a.poll(), drain(b, fb, buf);

    StreamResult r;
    TimeNs start = clock.now();
    TimeNs deadline = start + static_cast<TimeNs>(o.seconds * kSecond);
    TimeNs next_progress = start + 10 * kSecond;
    while (true) {
        for (size_t i = 0; i < kBurst; ++i) {
            if (send(a, fa, payload.data(), size) == ssize_t(size)) ++r.sent;
            else ++r.send_errors;
        }
        a.poll();
        r.received += drain(b, fb, buf);
        if (o.count ? r.sent >= o.count : clock.now() >= deadline) break;
        if (clock.now() >= next_progress) {  // long runs say they are alive
            std::fprintf(stderr, "  ... %zu B: %llu datagrams so far\n", size, (unsigned long long)r.sent);
            next_progress += 10 * kSecond;
        }
    }
    r.seconds = double(clock.now() - start) / kSecond;
    r.received += drain(b, fb, buf);
    return r;
}

// One TCP connection from a to b; `size` bytes per send() call.
StreamResult run_tcp_stream(size_t size, const Options& o) {
    SteadyClock clock;
    BufferPool pool{BufferPool::Config{.count = 8192}};
    MemLink link;
    Stack::Config config;
    config.seed = app::random_seed();
    Stack a(config, clock, &pool);
    config.seed = app::random_seed();
    Stack b(config, clock, &pool);
    a.add_interface(link.a(), kAddrA, 24);
    b.add_interface(link.b(), kAddrB, 24);
    int l = socket(b, kAfInet, kSockStream);
    bind(b, l, SockAddr{kAddrB, kPortB});
    listen(b, l, 1);
    int fa = socket(a, kAfInet, kSockStream);
    connect(a, fa, SockAddr{kAddrB, kPortB});
    int fb = -1;
    for (int i = 0; i < 1000 && fb < 0; ++i) {
        a.poll();
        b.poll();
        fb = accept(b, l, nullptr);
    }
    StreamResult r;
    if (fb < 0) {
        std::fprintf(stderr, "quasi-perf: TCP connection did not establish\n");
        return r;
    }
    std::vector<uint8_t> payload(size, 0x5A), buf(256 * 1024);
    TimeNs start = clock.now();
    TimeNs deadline = start + static_cast<TimeNs>(o.seconds * kSecond);
    uint64_t bytes_target = o.count * size;
    while (true) {
        for (size_t i = 0; i < kBurst; ++i) {
            ssize_t n = send(a, fa, payload.data(), size);
            if (n <= 0) break;
            r.sent += uint64_t(n);
        }
        a.poll();
        b.poll();
        ssize_t n;
        while ((n = recv(b, fb, buf.data(), buf.size())) > 0) r.received += uint64_t(n);
        if (o.count ? r.received >= bytes_target : clock.now() >= deadline) break;
    }
    r.seconds = double(clock.now() - start) / kSecond;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse_options(argc, argv, o)) {
        std::fprintf(stderr, "usage: quasi-perf [--link mem] [--proto udp|tcp] [--size N[,N...]] [--seconds S] [--count N]\n");
        return 2;
    }
    if (o.tcp) {
        std::printf("quasi-perf: TCP stream, two stacks on the in-memory link, one thread\n");
        std::printf("%8s %14s %10s\n", "send(B)", "received(B)", "Gbit/s");
        for (size_t size : o.sizes) {
            StreamResult r = run_tcp_stream(size, o);
            double gbps = r.seconds > 0 ? double(r.received) * 8 / r.seconds / 1e9 : 0;
            std::printf("%8zu %14llu %10.3f\n", size, (unsigned long long)r.received, gbps);
        }
        return 0;
    }
    for (size_t size : o.sizes) {
        if (size > 65507) {
            std::fprintf(stderr, "quasi-perf: a UDP datagram carries at most 65507 bytes (got %zu)\n", size);
            return 2;
        }
    }
    std::printf("quasi-perf: UDP stream, two stacks on the in-memory link, one thread\n");
    std::printf("%8s %12s %12s %10s %10s %8s\n", "size(B)", "sent", "received", "Mpps", "Gbit/s", "lost");
    for (size_t size : o.sizes) {
        StreamResult r = run_udp_stream(size, o);
        double mpps = double(r.received) / r.seconds / 1e6;
        double gbps = double(r.received) * double(size) * 8 / r.seconds / 1e9;
        std::printf("%8zu %12llu %12llu %10.3f %10.3f %8llu\n", size, (unsigned long long)r.sent,
                    (unsigned long long)r.received, mpps, gbps, (unsigned long long)(r.sent - r.received));
        if (r.send_errors) std::printf("         (%llu sends failed)\n", (unsigned long long)r.send_errors);
    }
    return 0;
}
