// quasi-perf: netperf-like streams between two stacks.
//
//   quasi-perf [--link mem] [--proto udp|tcp] [--size 64,1472] [--seconds 2] [--count N] [--compare]
//
// --compare: runs each size through send() and through a send handle specialized for
// the socket (jit/specialize.hpp), and prints the rows and the ratio. UDP: one
// handle with the size declared (when one frame carries it). TCP: two handles, one
// with the size declared as the ADU (whole segments sent straight while the windows
// allow) and one with nothing declared (the general loop over the frozen frame).
//
// UDP: datagrams of each size. TCP: one connection, send() calls of each size
// (MSS 1448 with timestamps), bytes counted as the receiver reads them.
//
// On the in-memory link both stacks run in this process, polled alternately on one
// thread, so a figure measures the whole path: socket send, UDP, IPv4, ARP, Ethernet,
// link, and the same on receive up to recvfrom.
#include "apps/app_common.hpp"
#include "jit/specialize.hpp"
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
    bool compare = false;  // generic and specialized side by side
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
    uint64_t specialized_sends = 0;  // a handle's calls that ran its code
    uint64_t generic_sends = 0;      // ... and that fell back to the generic path
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
        if (!std::strcmp(arg, "--compare")) {
            o.compare = true;
            continue;
        }
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
        i += 1;  // past the option's value
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

StreamResult run_udp_stream(size_t size, const Options& o, bool specialized = false) {
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
    // The specialized run: a handle compiled for this socket (and this size, when one
    // frame carries it), sending exactly as send() does.
    SendHandle handle;
    if (specialized) {
        SpecOptions spec;
        if (size <= 1472) spec.message_size = static_cast<uint32_t>(size);
        auto h = specialize_send(a, fa, spec);
        if (!h) {
            std::fprintf(stderr, "quasi-perf: specialization failed: %s\n", h.error().message.c_str());
            std::exit(1);
        }
        handle = std::move(*h);
    }

    StreamResult r;
    TimeNs start = clock.now();
    TimeNs deadline = start + static_cast<TimeNs>(o.seconds * kSecond);
    TimeNs next_progress = start + 10 * kSecond;
    while (true) {
        for (size_t i = 0; i < kBurst; ++i) {
            ssize_t rc = specialized ? handle.send(payload.data(), size) : send(a, fa, payload.data(), size);
            if (rc == ssize_t(size)) ++r.sent;
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

enum class TcpPath { generic, adu, any };
const char* name(TcpPath p) { return p == TcpPath::generic ? "generic" : p == TcpPath::adu ? "spec-adu" : "spec-any"; }

// One TCP connection from a to b; `size` bytes per send() call, through send() or a
// specialized handle.
StreamResult run_tcp_stream(size_t size, const Options& o, TcpPath path = TcpPath::generic) {
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
    SendHandle handle;
    if (path != TcpPath::generic) {
        SpecOptions spec;
        if (path == TcpPath::adu) spec.message_size = static_cast<uint32_t>(size);
        auto h = specialize_send(a, fa, spec);
        if (!h) {
            std::fprintf(stderr, "quasi-perf: specialization failed: %s\n", h.error().message.c_str());
            std::exit(1);
        }
        handle = std::move(*h);
    }
    std::vector<uint8_t> payload(size, 0x5A), buf(256 * 1024);
    TimeNs start = clock.now();
    TimeNs deadline = start + static_cast<TimeNs>(o.seconds * kSecond);
    uint64_t bytes_target = o.count * size;
    while (true) {
        for (size_t i = 0; i < kBurst; ++i) {
            ssize_t n = path == TcpPath::generic ? send(a, fa, payload.data(), size) : handle.send(payload.data(), size);
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
    if (handle.valid()) {
        SendHandleInfo info = handle.info();
        r.specialized_sends = info.specialized_sends;
        r.generic_sends = info.generic_sends;
    }
    return r;
}

}  // namespace

// --compare: each size through send() and through a specialized handle.
static int compare_udp(const Options& o) {
    std::printf("%8s %-12s %12s %12s %10s %10s %8s\n", "size(B)", "path", "sent", "received", "Mpps", "Gbit/s", "lost");
    for (size_t size : o.sizes) {
        double mpps[2];
        for (int specialized = 0; specialized < 2; ++specialized) {
            StreamResult r = run_udp_stream(size, o, specialized);
            mpps[specialized] = double(r.received) / r.seconds / 1e6;
            double gbps = double(r.received) * double(size) * 8 / r.seconds / 1e9;
            std::printf("%8zu %-12s %12llu %12llu %10.3f %10.3f %8llu\n", size, specialized ? "specialized" : "generic",
                        (unsigned long long)r.sent, (unsigned long long)r.received, mpps[specialized], gbps,
                        (unsigned long long)(r.sent - r.received));
        }
        std::printf("%8zu %-12s %12s %12s %10.3f\n", size, "ratio", "", "", mpps[1] / mpps[0]);
    }
    return 0;
}

// --compare --proto tcp: each size through send() and through two handles.
static int compare_tcp(const Options& o) {
    std::printf("%8s %-10s %14s %10s %8s %22s\n", "send(B)", "path", "received(B)", "Gbit/s", "ratio",
                "handle sends spec/gen");
    for (size_t size : o.sizes) {
        double generic = 0;
        for (TcpPath path : {TcpPath::generic, TcpPath::adu, TcpPath::any}) {
            StreamResult r = run_tcp_stream(size, o, path);
            double gbps = r.seconds > 0 ? double(r.received) * 8 / r.seconds / 1e9 : 0;
            if (path == TcpPath::generic) generic = gbps;
            char counts[64] = "";
            if (path != TcpPath::generic)
                std::snprintf(counts, sizeof counts, "%llu/%llu", (unsigned long long)r.specialized_sends,
                              (unsigned long long)r.generic_sends);
            std::printf("%8zu %-10s %14llu %10.3f %8.3f %22s\n", size, name(path), (unsigned long long)r.received, gbps,
                        generic > 0 ? gbps / generic : 0.0, counts);
        }
    }
    return 0;
}

int main(int argc, char** argv) {
    Options o;
    if (!parse_options(argc, argv, o)) {
        std::fprintf(stderr, "usage: quasi-perf [--link mem] [--proto udp|tcp] [--size N[,N...]] [--seconds S] [--count N] [--compare]\n");
        return 2;
    }
    // The JIT readies itself in the background while the stacks come up.
    if (o.compare) prewarm_specializer();
    if (o.tcp) {
        std::printf("quasi-perf: TCP stream, two stacks on the in-memory link, one thread\n");
        if (o.compare) return compare_tcp(o);
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
    if (o.compare) return compare_udp(o);
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
