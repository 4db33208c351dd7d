// quasi-remote-client: a Linux device without LLVM (x86-64, or the AArch64 build
// under qemu-aarch64) that gets its UDP send path from quasi-specd over a tap, with
// the RemoteClient a board runs (jit/remote/device/), and streams through it.
//
//   quasi-remote-client --tap IFNAME --ip 198.18.X.2/24 --specd 198.18.X.1:7700
//                       --device 7 --key HEX --sink 198.18.X.1:9
//                       [--count 2000] [--size 64] [--burst 100] [--gap-us 2000]
//                       [--cached 5] [--tcp-port 0] [--seconds 60] [--mac ..]
//
// 1. cold: asks for a UDP handle to --sink with --size declared and waits until the
//    code has arrived (request to usable handle, by this process's clock);
// 2. streams --count datagrams through the handle, --burst at a time with --gap-us
//    between bursts (the first sends of new code run in verify mode: each frame the
//    code built is compared with the generic path's before it leaves);
// 3. cached: releases the handle and asks again for the same context --cached times
//    (each answered from quasi-specd's cache), 16 sends through each new handle;
// 4. with --tcp-port, the same for a TCP connection to the sink's address at that
//    port, when this RemoteClient has remote TCP handles ("tcp: unsupported" if not).
// Output: "quasi_remote_client: udp: target=T cold_ms=.. cached_ms=..(median) code_bytes=..
// specialized_sends=.. verified_sends=.. generic_sends=.. verify_failed=.. installs=.."
// (and a tcp line), then "PASS|FAIL: ..." and the stack's statistics. Exit 0 iff
// every datagram was sent, every handle became specialized, verify mode compared
// its sends and caught nothing; 1 on failure; 2 on usage or setup errors.
#include "apps/app_common.hpp"
#include "apps/cli_options.hpp"
#include "jit/remote/device/mmap_exec_region.hpp"
#include "jit/remote/device/remote_client.hpp"
#include "jit/remote/device/target.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/tap.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace quasi;

namespace {

struct Options {
    std::string tap;
    Ipv4Addr ip;
    uint8_t prefix_len = 0;
    SockAddr specd;
    SockAddr sink;
    uint64_t device = 0;
    std::string key_hex;
    uint64_t count = 2000;
    uint64_t size = 64;
    uint64_t burst = 100;
    uint64_t gap_us = 2000;
    uint64_t cached = 5;
    uint64_t tcp_port = 0;
    uint64_t seconds = 60;
    uint64_t wait_link_ms = 5000;
    MacAddr mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
    std::vector<uint8_t> key;
};

bool parse_key(const std::string& hex, std::vector<uint8_t>& out) {
    if (hex.size() % 2 || hex.size() / 2 < remote::kMinKeyBytes || hex.size() / 2 > remote::kMaxKeyBytes) return false;
    for (size_t i = 0; i < hex.size(); i += 2) {
        unsigned v = 0;
        if (!isxdigit(hex[i]) || !isxdigit(hex[i + 1]) || std::sscanf(hex.c_str() + i, "%2x", &v) != 1) return false;
        out.push_back(static_cast<uint8_t>(v));
    }
    return true;
}

// -1 to go on, else the exit status (0 after --help, 2 for a bad command line).
int parse_options(int argc, char** argv, Options& o) {
    CLI::App app{"a device without LLVM: its UDP send path from quasi-specd, over a tap", "quasi-remote-client"};
    app::take_last_values(app);
    app.add_option("--tap", o.tap, "the tap to attach to (it must exist)")->required();
    app::add_cidr(app, "--ip", o.ip, o.prefix_len, "quasi's address and prefix, in 198.18.0.0/15")->required();
    app::add_endpoint(app, "--specd", o.specd, "quasi-specd's address and port")->required();
    app::add_endpoint(app, "--sink", o.sink, "where the datagrams go (a kernel UDP socket)")->required();
    app::add_size(app, "--device", o.device, 0, ~0ull, "this device's id in quasi-specd's keys")->required();
    app.add_option("--key", o.key_hex, "this device's key, in hex")->required();
    app::add_size(app, "--count", o.count, 1, 10'000'000, "datagrams through the first handle");
    app::add_size(app, "--size", o.size, 8, 1472, "datagram size, declared in the request");
    app::add_size(app, "--burst", o.burst, 1, 100'000, "datagrams per burst");
    app::add_size(app, "--gap-us", o.gap_us, 0, 1'000'000, "pause between bursts (us)");
    app::add_size(app, "--cached", o.cached, 0, 1000, "requests for the same context after the first");
    app::add_size(app, "--tcp-port", o.tcp_port, 0, 65535, "also a TCP handle to the sink's address (0: none)");
    app::add_size(app, "--seconds", o.seconds, 1, 3600, "bound on the whole run");
    app::add_size(app, "--wait-link-ms", o.wait_link_ms, 0, 60000, "wait for the kernel to see the tap up (ms)");
    app::add_mac(app, "--mac", o.mac, "quasi's MAC address");
    if (int rc = app::parse_command_line(app, argc, argv); rc >= 0) return rc;
    if (!parse_key(o.key_hex, o.key)) {
        std::fprintf(stderr, "quasi_remote_client: --key wants %zu..%zu bytes in hex\n", remote::kMinKeyBytes,
                     remote::kMaxKeyBytes);
        return 2;
    }
    // DESIGN.md network safety: test traffic only inside 198.18.0.0/15.
    if (!app::in_benchmark_range(o.ip) || !app::in_benchmark_range(o.specd.addr) ||
        !app::in_benchmark_range(o.sink.addr) || o.prefix_len < 15) {
        std::fprintf(stderr, "quasi_remote_client: addresses must lie in 198.18.0.0/15 (prefix >= /15)\n");
        return 2;
    }
    return -1;
}

void sleep_us(uint64_t us) {
    timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
    nanosleep(&ts, nullptr);
}

double ms(TimeNs ns) { return double(ns) / double(kMillisecond); }

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// What one path (UDP or TCP) came to.
struct PathResult {
    bool ok = true;
    double cold_ms = 0;
    std::vector<double> cached_ms;
    remote::RemoteHandleInfo first;  // of the cold handle, after its stream
    uint64_t sent = 0;
};

class Device {
public:
    Device(const Options& o, Stack& stack, TapNetif& tap, remote::RemoteClient& client, SteadyClock& clock)
        : o_(o), stack_(stack), tap_(tap), client_(client), clock_(clock), end_(clock.now() + o.seconds * kSecond) {}

    bool run_udp(PathResult& r);
    bool run_tcp(PathResult& r);

private:
    bool out_of_time(const char* phase) {
        if (clock_.now() < end_ && !app::stop_requested()) return false;
        std::printf("quasi_remote_client: FAIL: time limit (--seconds %llu) or signal during %s\n",
                    (unsigned long long)o_.seconds, phase);
        return true;
    }
    // Runs the stack and the client once; when nothing happened, waits for the tap.
    void pump(TimeNs max_wait) {
        size_t work = stack_.poll();
        client_.poll();
        if (work != 0) return;
        pollfd pfd{tap_.fd(), POLLIN, 0};
        timespec ts{0, static_cast<long>(max_wait)};
        ::ppoll(&pfd, 1, &ts, nullptr);
    }
    int ask(int fd);
    bool wait_usable(int h, const char* what, double& ms_out);
    bool send_through(int h, uint64_t count, const char* what, uint64_t& sent);
    bool cached_rounds(int fd, const char* what, PathResult& r);
    int connect_tcp();

    const Options& o_;
    Stack& stack_;
    TapNetif& tap_;
    remote::RemoteClient& client_;
    SteadyClock& clock_;
    const TimeNs end_;
};

// A handle, once the next hop's MAC is known (the context freezes it): until then
// one datagram through the generic path makes the stack resolve it.
int Device::ask(int fd) {
    int h = client_.specialize_send(fd, {.message_size = static_cast<uint32_t>(o_.size)});
    for (int tries = 0; h == -EHOSTUNREACH && tries < 200 && !out_of_time("ARP"); ++tries) {
        std::vector<uint8_t> d(o_.size);
        if (tries == 0) send(stack_, fd, d.data(), d.size());
        pump(10 * kMillisecond);
        h = client_.specialize_send(fd, {.message_size = static_cast<uint32_t>(o_.size)});
    }
    return h;
}

// Request to usable handle: from specialize_send() (just made) until its code is in.
bool Device::wait_usable(int h, const char* what, double& ms_out) {
    const TimeNs t0 = clock_.now();
    while (!client_.info(h).specialized) {
        remote::RemoteHandleInfo i = client_.info(h);
        if (!i.waiting && i.requests > 0 && i.last_status != remote::Status::ok) {
            std::printf("quasi_remote_client: FAIL: %s: refused: %s\n", what, remote::status_name(i.last_status));
            return false;
        }
        if (out_of_time(what)) return false;
        pump(200 * kMicrosecond);
    }
    ms_out = ms(clock_.now() - t0);
    return true;
}

// `count` datagrams of --size through handle h in bursts; datagram k starts with k.
bool Device::send_through(int h, uint64_t count, const char* what, uint64_t& sent) {
    std::vector<uint8_t> d(o_.size);
    uint64_t refused = 0;
    while (sent < count) {
        if (out_of_time(what)) return false;
        const uint64_t burst_end = std::min(count, sent + o_.burst);
        while (sent < burst_end) {
            for (size_t i = 0; i < 8; ++i) d[i] = static_cast<uint8_t>(sent >> (8 * i));
            ssize_t rc = client_.send(h, d.data(), d.size());
            if (rc == ssize_t(d.size())) {
                ++sent;
                continue;
            }
            // A full transmit path (-ENOBUFS, -EAGAIN): let the stack drain, retry later.
            if (++refused > 100000) {
                std::printf("quasi_remote_client: FAIL: %s: send keeps failing: %s\n", what, std::strerror(int(-rc)));
                return false;
            }
            break;
        }
        stack_.poll();
        client_.poll();
        if (o_.gap_us) sleep_us(o_.gap_us);
    }
    return true;
}

// The same context asked for again --cached times: each new handle's code comes
// from quasi-specd's cache (linked again for this buffer slot) and must run.
bool Device::cached_rounds(int fd, const char* what, PathResult& r) {
    for (uint64_t i = 0; i < o_.cached; ++i) {
        int h = ask(fd);
        double t = 0;
        uint64_t sent = 0;
        if (h < 0 || !wait_usable(h, what, t) || !send_through(h, 16, what, sent)) return false;
        remote::RemoteHandleInfo info = client_.info(h);
        if (!info.specialized || info.verify_failed || info.specialized_sends == 0) {
            std::printf("quasi_remote_client: FAIL: %s: cached handle %llu did not send specialized\n", what,
                        (unsigned long long)i);
            return false;
        }
        r.cached_ms.push_back(t);
        client_.release(h);
    }
    return true;
}

bool Device::run_udp(PathResult& r) {
    int fd = socket(stack_, kAfInet, kSockDgram);
    if (fd < 0 || connect(stack_, fd, o_.sink) < 0) {
        std::printf("quasi_remote_client: FAIL: UDP socket or connect\n");
        return false;
    }
    int h = ask(fd);
    if (h < 0) {
        std::printf("quasi_remote_client: FAIL: udp: specialize_send: %s\n", std::strerror(-h));
        return false;
    }
    if (!wait_usable(h, "udp (cold)", r.cold_ms) || !send_through(h, o_.count, "udp stream", r.sent)) return false;
    r.first = client_.info(h);
    client_.release(h);
    return cached_rounds(fd, "udp (cached)", r);
}

int Device::connect_tcp() {
    int fd = socket(stack_, kAfInet, kSockStream);
    if (fd < 0) return fd;
    int rc = connect(stack_, fd, SockAddr{o_.sink.addr, static_cast<uint16_t>(o_.tcp_port)});
    if (rc < 0 && rc != -EINPROGRESS) return rc;
    for (;;) {
        PollFd p{fd, events::out, 0};
        poll(stack_, &p, 1);
        if (p.revents & (events::err | events::hup)) return -ECONNREFUSED;
        if (p.revents & events::out) return fd;
        if (out_of_time("tcp connect")) return -ETIMEDOUT;
        pump(2 * kMillisecond);
    }
}

// Latency only (the stream of a remote TCP handle is the TCP tests' business).
bool Device::run_tcp(PathResult& r) {
    int fd = connect_tcp();
    if (fd < 0) {
        std::printf("quasi_remote_client: FAIL: tcp connect: %s\n", std::strerror(-fd));
        return false;
    }
    int h = client_.specialize_send(fd, {.message_size = 1448});
    if (h == -EOPNOTSUPP) {
        std::printf("quasi_remote_client: tcp: unsupported (this RemoteClient has no remote TCP handles)\n");
        r.ok = false;
        close(stack_, fd);
        return true;
    }
    if (h < 0) {
        std::printf("quasi_remote_client: FAIL: tcp: specialize_send: %s\n", std::strerror(-h));
        return false;
    }
    if (!wait_usable(h, "tcp (cold)", r.cold_ms)) return false;
    r.first = client_.info(h);
    client_.release(h);
    for (uint64_t i = 0; i < o_.cached; ++i) {
        double t = 0;
        int again = client_.specialize_send(fd, {.message_size = 1448});
        if (again < 0 || !wait_usable(again, "tcp (cached)", t)) return false;
        r.cached_ms.push_back(t);
        client_.release(again);
    }
    close(stack_, fd);
    return true;
}

void print_path(const char* what, const PathResult& r) {
    const remote::RemoteHandleInfo& i = r.first;
    std::printf(
        "quasi_remote_client: %s: target=%s cold_ms=%.2f cached_ms=%.3f cached_n=%zu code_bytes=%zu sent=%llu "
        "specialized_sends=%llu verified_sends=%llu generic_sends=%llu verify_failed=%d installs=%llu\n",
        what, std::string(remote::device_target()).c_str(), r.cold_ms, median(r.cached_ms), r.cached_ms.size(),
        i.code_bytes, (unsigned long long)r.sent, (unsigned long long)i.specialized_sends,
        (unsigned long long)i.verified_sends, (unsigned long long)i.generic_sends, i.verify_failed ? 1 : 0,
        (unsigned long long)i.installs);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (int rc = parse_options(argc, argv, o); rc >= 0) return rc;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    SteadyClock clock;
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 4096;
    Stack stack(config, clock);
    auto tap = app::open_tap_and_wait("quasi_remote_client", o.tap.c_str(), stack.pool(), o.mac, o.wait_link_ms, clock);
    if (!tap) return 2;
    remote::VerifyTap verify(*tap);  // between the interface and its port, for verify mode
    if (int rc = stack.add_interface(verify, o.ip, o.prefix_len); rc < 0) {
        std::fprintf(stderr, "quasi_remote_client: cannot add interface: %s\n", std::strerror(-rc));
        return 2;
    }
    remote::MmapExecRegion region(64 << 10);
    if (!region.valid()) {
        std::fprintf(stderr, "quasi_remote_client: cannot map the code buffer\n");
        return 2;
    }
    app::install_stop_handlers();
    const remote::RemoteConfig remote_config{.device_id = o.device, .key = o.key, .server = o.specd};
    bool ok;
    {
        remote::RemoteClient client(stack, region, &verify, remote_config);
        Device device(o, stack, *tap, client, clock);
        PathResult udp, tcp;
        ok = device.run_udp(udp);
        print_path("udp", udp);
        const remote::RemoteHandleInfo& u = udp.first;
        ok = ok && udp.sent == o.count && u.verified_sends == remote_config.verify_sends && !u.verify_failed &&
             u.specialized_sends + u.generic_sends == o.count && u.specialized_sends > 0 &&
             udp.cached_ms.size() == o.cached;
        if (ok && o.tcp_port) {
            ok = device.run_tcp(tcp);
            if (tcp.ok) print_path("tcp", tcp);
        }
        std::printf("quasi_remote_client: %s: udp_sent=%llu udp_specialized=%llu udp_verified=%llu udp_generic=%llu\n",
                    ok ? "PASS" : "FAIL", (unsigned long long)udp.sent, (unsigned long long)u.specialized_sends,
                    (unsigned long long)u.verified_sends, (unsigned long long)u.generic_sends);
    }
    app::print_stats(stdout, "stack statistics:", stack.stats());
    return ok ? 0 : 1;
}
