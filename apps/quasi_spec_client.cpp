// quasi-spec-client: an example of specialized send handles (jit/specialize.hpp) over a
// tap, against the Linux kernel's UDP and TCP (its test: tests/interop/spec_tap.sh).
//
//   quasi-spec-client --tap IFNAME --ip 198.18.X.2/24 --server 198.18.X.1
//                     [--udp-port 9000] [--udp-count 20000] [--udp-size 1024]
//                     [--udp-burst 250] [--udp-gap-us 2000]
//                     [--tcp-port 5001] [--tcp-bytes 32M] [--seed 1] [--seconds 60]
//                     [--mac 02:00:00:00:00:01] [--wait-link-ms 5000] [--linger-ms 300]
//
// Opens the tap (inside the test's namespace; attach only), connects TCP to the kernel
// peer (tests/interop/spec_peer.py) with TCP_NODELAY, then a UDP socket, and asks for
// two specialized handles: UDP with the message size declared (--udp-size), TCP with
// the ADU declared as 1448 (one full segment with timestamps).
//  1. UDP: --udp-count datagrams through the handle, --udp-burst at a time with
//     --udp-gap-us between bursts (the kernel's UDP receive buffer must not overflow).
//     Datagram k: bytes 0..7 are k (little-endian), byte i >= 8 is (k * 131 + i) mod 256.
//  2. TCP: --tcp-bytes of the stream through the handle in 1448-byte sends; a send the
//     windows take only in part is finished by the next call (which, not being 1448
//     bytes, takes the generic path); then shutdown(SHUT_WR) and the peer's FIN.
//     Stream byte i: byte (i mod 8) (little-endian) of splitmix64(seed * 2^32 + i / 8).
//
// Output: per handle "quasi_spec_client: udp|tcp handle: specialized_sends=N
// generic_sends=M installs=I code_bytes=B", then one summary line
//   quasi_spec_client: PASS|FAIL: udp_sent=N udp_specialized=.. udp_generic=.. udp_s=..
//     tcp_bytes=N tcp_specialized=.. tcp_generic=.. tcp_partial=.. sha256_sent=.. tcp_s=..
//     tcp_MBps=..
// (generic TCP sends: units the windows could not take whole, queued by TcpLayer::send,
// and the remainders of the tcp_partial units the send buffer took only in part)
// and the stack's statistics. Exit 0 iff everything was sent, the peer closed cleanly
// and both handles sent something specialized; 1 on failure; 2 on usage or setup
// errors. Bounded by --seconds overall.
#include "apps/app_common.hpp"
#include "apps/cli_options.hpp"
#include "apps/digest.hpp"
#include "jit/specialize.hpp"
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
using quasi::app::Sha256Digest;

namespace {

constexpr uint32_t kTcpAdu = 1448;

struct Options {
    std::string tap;
    Ipv4Addr ip;
    uint8_t prefix_len = 0;
    Ipv4Addr server;
    uint64_t udp_port = 9000;
    uint64_t udp_count = 20000;
    uint64_t udp_size = 1024;
    uint64_t udp_burst = 250;
    uint64_t udp_gap_us = 2000;
    uint64_t tcp_port = 5001;
    uint64_t tcp_bytes = 32ull << 20;
    uint64_t seed = 1;
    uint64_t seconds = 60;
    uint64_t wait_link_ms = 5000;
    uint64_t linger_ms = 300;
    MacAddr mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
};

// -1 to go on, else the exit status (0 after --help, 2 for a bad command line).
int parse_options(int argc, char** argv, Options& o) {
    CLI::App app{"specialized UDP and TCP send handles over a tap, against the kernel's sockets", "quasi-spec-client"};
    app::take_last_values(app);
    app.add_option("--tap", o.tap, "the tap to attach to (it must exist)")->required();
    app::add_cidr(app, "--ip", o.ip, o.prefix_len, "quasi's address and prefix, in 198.18.0.0/15")->required();
    app::add_ipv4(app, "--server", o.server, "the kernel peer (tests/interop/spec_peer.py)")->required();
    app::add_size(app, "--udp-port", o.udp_port, 1, 65535, "the peer's UDP port");
    app::add_size(app, "--udp-count", o.udp_count, 1, 10'000'000, "datagrams through the UDP handle");
    app::add_size(app, "--udp-size", o.udp_size, 8, 1472, "datagram size, declared to the specializer");
    app::add_size(app, "--udp-burst", o.udp_burst, 1, 100'000, "datagrams per burst");
    app::add_size(app, "--udp-gap-us", o.udp_gap_us, 0, 1'000'000, "pause between bursts (us)");
    app::add_size(app, "--tcp-port", o.tcp_port, 1, 65535, "the peer's TCP port");
    app::add_size(app, "--tcp-bytes", o.tcp_bytes, 1, 16ull << 30, "bytes through the TCP handle");
    app::add_size(app, "--seed", o.seed, 0, (1ull << 32) - 1, "seed of the TCP stream");
    app::add_size(app, "--seconds", o.seconds, 1, 3600, "bound on the whole run");
    app::add_size(app, "--wait-link-ms", o.wait_link_ms, 0, 60000, "wait for the kernel to see the tap up (ms)");
    app::add_size(app, "--linger-ms", o.linger_ms, 0, 60000, "keep the stack up after the close (ms)");
    app::add_mac(app, "--mac", o.mac, "quasi's MAC address");
    if (int rc = app::parse_command_line(app, argc, argv); rc >= 0) return rc;
    // DESIGN.md network safety: test traffic only inside 198.18.0.0/15.
    if (!app::in_benchmark_range(o.ip) || !app::in_benchmark_range(o.server) || o.prefix_len < 15) {
        std::fprintf(stderr, "quasi_spec_client: addresses must lie in 198.18.0.0/15 (prefix >= /15)\n");
        return 2;
    }
    return -1;
}

// Datagram k of the UDP phase (spec_peer.py checks the same pattern).
void fill_datagram(uint64_t k, uint8_t* out, size_t len) {
    for (size_t i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(k >> (8 * i));
    for (size_t i = 8; i < len; ++i) out[i] = static_cast<uint8_t>(k * 131 + i);
}

void sleep_us(uint64_t us) {
    timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
    nanosleep(&ts, nullptr);
}

double seconds(TimeNs ns) {
    return double(ns) / double(kSecond);
}

void print_handle(const char* what, const SendHandle& h) {
    SendHandleInfo i = h.info();
    std::printf(
        "quasi_spec_client: %s handle: specialized_sends=%llu generic_sends=%llu installs=%llu "
        "code_bytes=%zu compile_ms=%.2f specialized_now=%d last_error=%d\n",
        what, (unsigned long long)i.specialized_sends, (unsigned long long)i.generic_sends,
        (unsigned long long)i.installs, i.code_bytes, i.compile_ms, i.specialized ? 1 : 0, i.last_error);
}

class Client {
public:
    Client(const Options& o, Stack& stack, TapNetif& tap, SteadyClock& clock)
        : o_(o), stack_(stack), tap_(tap), clock_(clock), end_(clock.now() + o.seconds * kSecond) {}

    bool run();
    // Prints both handles' counts and the summary line; true when the run passed and
    // both handles sent through specialized code.
    bool report(bool ok);
    // Handles before sockets, both before the stack (jit/specialize.hpp).
    void release() {
        udp_.release();
        tcp_.release();
        if (udp_fd_ >= 0) close(stack_, udp_fd_);
        if (tcp_fd_ >= 0) close(stack_, tcp_fd_);
    }

private:
    bool out_of_time(const char* phase) {
        if (clock_.now() < end_ && !app::stop_requested()) return false;
        std::printf("quasi_spec_client: FAIL: time limit (--seconds %llu) or signal during %s\n",
                    (unsigned long long)o_.seconds, phase);
        return true;
    }
    // Runs the stack once; when it had nothing to do, waits for the tap (<= max_wait).
    void pump(TimeNs max_wait) {
        if (stack_.poll() != 0) return;
        pollfd pfd{tap_.fd(), POLLIN, 0};
        timespec ts{0, static_cast<long>(max_wait)};
        ::ppoll(&pfd, 1, &ts, nullptr);
    }
    bool connect_tcp();
    bool specialize();
    bool send_udp();
    bool send_tcp();
    bool finish_tcp();

    const Options& o_;
    Stack& stack_;
    TapNetif& tap_;
    SteadyClock& clock_;
    const TimeNs end_;
    int tcp_fd_ = -1;
    int udp_fd_ = -1;
    SendHandle udp_, tcp_;
    uint64_t udp_sent_ = 0, tcp_sent_ = 0;
    uint64_t tcp_partial_ = 0;  // 1448-byte units the send buffer took only in part
    TimeNs udp_time_ = 0, tcp_time_ = 0;
    Sha256Digest sha_;
};

bool Client::connect_tcp() {
    tcp_fd_ = socket(stack_, kAfInet, kSockStream);
    int one = 1;
    if (tcp_fd_ < 0 || setsockopt(stack_, tcp_fd_, kIpProtoTcp, kTcpNodelay, &one, sizeof one) < 0) {
        std::printf("quasi_spec_client: FAIL: TCP socket or TCP_NODELAY\n");
        return false;
    }
    const SockAddr server{o_.server, static_cast<uint16_t>(o_.tcp_port)};
    int rc = connect(stack_, tcp_fd_, server);
    if (rc < 0 && rc != -EINPROGRESS) {
        std::printf("quasi_spec_client: FAIL: connect: %s\n", std::strerror(-rc));
        return false;
    }
    const TimeNs t0 = clock_.now();
    for (;;) {
        PollFd p{tcp_fd_, events::out, 0};
        poll(stack_, &p, 1);
        if (p.revents & (events::err | events::hup)) {
            std::printf("quasi_spec_client: FAIL: connect refused or reset\n");
            return false;
        }
        if (p.revents & events::out) break;
        if (out_of_time("connect")) return false;
        pump(5 * kMillisecond);
    }
    std::printf("quasi_spec_client: TCP connected in %.2f ms (TCP_NODELAY)\n", seconds(clock_.now() - t0) * 1e3);
    return true;
}

bool Client::specialize() {
    udp_fd_ = socket(stack_, kAfInet, kSockDgram);
    if (udp_fd_ < 0 || connect(stack_, udp_fd_, SockAddr{o_.server, static_cast<uint16_t>(o_.udp_port)}) < 0) {
        std::printf("quasi_spec_client: FAIL: UDP socket or connect\n");
        return false;
    }
    // The TCP handshake resolved the kernel's MAC: both contexts can freeze it.
    auto u = specialize_send(stack_, udp_fd_, {.message_size = static_cast<uint32_t>(o_.udp_size)});
    if (!u) {
        std::printf("quasi_spec_client: FAIL: specialize_send(UDP): %s\n", u.error().message.c_str());
        return false;
    }
    udp_ = std::move(*u);
    auto t = specialize_send(stack_, tcp_fd_, {.message_size = kTcpAdu});
    if (!t) {
        std::printf("quasi_spec_client: FAIL: specialize_send(TCP): %s\n", t.error().message.c_str());
        return false;
    }
    tcp_ = std::move(*t);
    std::printf(
        "quasi_spec_client: handles ready: UDP %llu B (%zu code bytes, %.2f ms), TCP ADU %u (%zu code bytes, "
        "%.2f ms)\n",
        (unsigned long long)o_.udp_size, udp_.info().code_bytes, udp_.info().compile_ms, kTcpAdu,
        tcp_.info().code_bytes, tcp_.info().compile_ms);
    return true;
}

bool Client::send_udp() {
    std::vector<uint8_t> d(o_.udp_size);
    const TimeNs t0 = clock_.now();
    uint64_t refused = 0;
    while (udp_sent_ < o_.udp_count) {
        if (out_of_time("the UDP phase")) return false;
        const uint64_t burst_end = std::min(o_.udp_count, udp_sent_ + o_.udp_burst);
        while (udp_sent_ < burst_end) {
            fill_datagram(udp_sent_, d.data(), d.size());
            ssize_t rc = udp_.send(d.data(), d.size());
            if (rc == ssize_t(d.size())) {
                ++udp_sent_;
                continue;
            }
            // A full transmit path (-ENOBUFS, -EAGAIN): let the stack drain, retry later.
            if (++refused > 100000) {
                std::printf("quasi_spec_client: FAIL: UDP send keeps failing: %s\n", std::strerror(int(-rc)));
                return false;
            }
            break;
        }
        stack_.poll();
        if (o_.udp_gap_us) sleep_us(o_.udp_gap_us);
    }
    udp_time_ = clock_.now() - t0;
    std::printf("quasi_spec_client: UDP: %llu datagrams of %llu B in %.3f s (%llu refused and retried)\n",
                (unsigned long long)udp_sent_, (unsigned long long)o_.udp_size, seconds(udp_time_),
                (unsigned long long)refused);
    return true;
}

bool Client::send_tcp() {
    uint8_t unit[kTcpAdu];
    size_t unit_len = 0, unit_off = 0;  // the current 1448-byte unit and how much of it was taken
    const TimeNs t0 = clock_.now();
    uint64_t next_report = o_.tcp_bytes / 4;
    while (tcp_sent_ < o_.tcp_bytes) {
        if (out_of_time("the TCP phase")) return false;
        size_t work = stack_.poll();
        for (int i = 0; i < 64 && tcp_sent_ < o_.tcp_bytes; ++i) {
            if (unit_off == unit_len) {
                unit_len = static_cast<size_t>(std::min<uint64_t>(kTcpAdu, o_.tcp_bytes - tcp_sent_));
                unit_off = 0;
                app::stream_bytes(o_.seed, tcp_sent_, unit, unit_len);
            }
            ssize_t n = tcp_.send(unit + unit_off, unit_len - unit_off);
            if (n == -EAGAIN || n == 0) break;
            if (n < 0) {
                std::printf("quasi_spec_client: FAIL: TCP send at offset %llu: %s\n", (unsigned long long)tcp_sent_,
                            std::strerror(int(-n)));
                return false;
            }
            sha_.update(unit + unit_off, size_t(n));
            if (unit_off + size_t(n) < unit_len) ++tcp_partial_;
            unit_off += size_t(n);
            tcp_sent_ += uint64_t(n);
            ++work;
        }
        if (tcp_sent_ >= next_report && next_report) {
            std::printf("quasi_spec_client: TCP: %llu/%llu bytes accepted (%.2f s)\n", (unsigned long long)tcp_sent_,
                        (unsigned long long)o_.tcp_bytes, seconds(clock_.now() - t0));
            next_report += o_.tcp_bytes / 4;
        }
        if (work == 0) pump(2 * kMillisecond);
    }
    if (!finish_tcp()) return false;
    tcp_time_ = clock_.now() - t0;
    return true;
}

// Half-closes and waits for the peer's FIN: it comes once the peer has read every byte.
bool Client::finish_tcp() {
    if (int rc = shutdown(stack_, tcp_fd_, kShutWr); rc < 0) {
        std::printf("quasi_spec_client: FAIL: shutdown(SHUT_WR): %s\n", std::strerror(-rc));
        return false;
    }
    uint8_t buf[2048];
    for (;;) {
        ssize_t n = recv(stack_, tcp_fd_, buf, sizeof buf);
        if (n == 0) return true;
        if (n > 0) {
            std::printf("quasi_spec_client: FAIL: the peer sent %zd unexpected bytes\n", n);
            return false;
        }
        if (n != -EAGAIN) {
            std::printf("quasi_spec_client: FAIL: waiting for the peer's FIN: %s\n", std::strerror(int(-n)));
            return false;
        }
        if (out_of_time("the close")) return false;
        pump(2 * kMillisecond);
    }
}

bool Client::run() {
    if (!connect_tcp() || !specialize()) return false;
    return send_udp() && send_tcp();
}

bool Client::report(bool ok) {
    const SendHandleInfo u = udp_.info(), t = tcp_.info();
    print_handle("udp", udp_);
    print_handle("tcp", tcp_);
    ok = ok && udp_sent_ == o_.udp_count && tcp_sent_ == o_.tcp_bytes && u.specialized_sends > 0 &&
         t.specialized_sends > 0;
    const double tcp_s = seconds(tcp_time_);
    std::printf(
        "quasi_spec_client: %s: udp_sent=%llu udp_specialized=%llu udp_generic=%llu udp_s=%.3f "
        "tcp_bytes=%llu tcp_specialized=%llu tcp_generic=%llu tcp_partial=%llu sha256_sent=%s tcp_s=%.3f "
        "tcp_MBps=%.1f\n",
        ok ? "PASS" : "FAIL", (unsigned long long)udp_sent_, (unsigned long long)u.specialized_sends,
        (unsigned long long)u.generic_sends, seconds(udp_time_), (unsigned long long)tcp_sent_,
        (unsigned long long)t.specialized_sends, (unsigned long long)t.generic_sends, (unsigned long long)tcp_partial_,
        sha_.hex().c_str(), tcp_s, tcp_s > 0 ? double(tcp_sent_) / 1e6 / tcp_s : 0.0);
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (int rc = parse_options(argc, argv, o); rc >= 0) return rc;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    prewarm_specializer();  // the JIT readies itself while the link comes up and ARP resolves
    SteadyClock clock;
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 8192;
    Stack stack(config, clock);
    auto tap = app::open_tap_and_wait("quasi_spec_client", o.tap.c_str(), stack.pool(), o.mac, o.wait_link_ms, clock);
    if (!tap) return 2;
    if (int rc = stack.add_interface(*tap, o.ip, o.prefix_len); rc < 0) {
        std::fprintf(stderr, "quasi_spec_client: cannot add interface: %s\n", std::strerror(-rc));
        return 2;
    }
    app::install_stop_handlers();

    bool ok;
    {
        Client client(o, stack, *tap, clock);
        ok = client.report(client.run());
        client.release();
    }
    // Let the last ACK (of the peer's FIN) go out.
    const TimeNs linger_until = clock.now() + o.linger_ms * kMillisecond;
    while (clock.now() < linger_until && !app::stop_requested()) {
        if (stack.poll() == 0) sleep_us(1000);
    }
    app::print_stats(stdout, "stack statistics:", stack.stats());
    return ok ? 0 : 1;
}
