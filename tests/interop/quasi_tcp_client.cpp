// quasi_tcp_client: the stack-as-client direction of the TCP interop tests.
//
//   quasi_tcp_client --tap IFNAME --ip 198.18.X.2/24 --server 198.18.X.1:PORT
//                    [--bytes 64M] [--seed 1] [--seconds 60] [--impair SPEC]
//                    [--congestion cubic|newreno] [--shutdown after-send|after-echo]
//                    [--hold-reads-ms MS] [--mac 02:00:00:00:00:01] [--wait-link-ms 5000]
//                    [--linger-ms 300]
//   quasi_tcp_client ... --churn N [--concurrency C]
//
// Opens the tap (inside the test's network namespace; attach only), connects to an echo
// server on the kernel side (tests/interop/tcp_peer.py echo-server), sends `bytes`
// bytes of deterministic pseudo-random data while reading the echo back concurrently,
// half-closes (shutdown(SHUT_WR)) and expects exactly `bytes` bytes back followed by
// the server's FIN. --shutdown after-send (default) half-closes right after the last
// byte is accepted by send(), while most of the echo is still on its way (the server's
// FIN then arrives with unread data in our receive buffer); after-echo half-closes only
// once the whole echo has been read. --hold-reads-ms MS (with after-send) reads nothing
// until MS after the half-close, so for an echo that fits in the receive buffer the
// server's FIN deterministically arrives while all of it is still unread. Every
// received byte is compared with the
// generator as it arrives (the first mismatch offset is reported), and SHA-256 digests
// of the sent and the received stream are printed: the script compares the sent digest
// with the one the server logs for what it received.
//
// --churn N: instead of one long transfer, N short connections, C at a time: each
// connects, sends 32 bytes, reads their echo and closes first (so TIME-WAIT records
// pile up on quasi's side and, beyond the 16,384 ephemeral ports, tuples come back
// only as RFC 6191 allows). Summary line:
//   quasi_tcp_client: churn PASS|FAIL: connections=N completed=K refused=R reset=S
//     other_errors=E time_wait_reused=T elapsed_s=... per_second=...
//
// Data: byte i is byte (i mod 8) (little-endian) of splitmix64(seed * 2^32 + i / 8)
// (app::stream_bytes).
//
// --impair SPEC puts the seeded impairment decorator between the stack and the tap,
// both directions (apps/impair_options.hpp).
//
// Output: progress lines, one summary line
//   quasi_tcp_client: PASS|FAIL: bytes=N sent=S received=R mismatch_at=-1 sha256_sent=...
//     sha256_received=... connect_ms=... elapsed_s=... throughput_MBps=...
// (MB = 10^6 bytes; throughput = bytes / time from connected to the echo's last byte),
// the socket's own retransmission count, the stack's statistics, the impairment
// counters. Exit status 0 iff every byte came back intact; 1 on failure; 2 on bad usage
// or setup errors. Bounded by --seconds overall (connect included).
#include "apps/app_common.hpp"
#include "apps/cli_options.hpp"
#include "apps/digest.hpp"
#include "apps/impair_options.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/tap.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace quasi;
using quasi::app::Sha256Digest;

namespace {

// --- options -----------------------------------------------------------------------
struct Options {
    std::string tap;
    Ipv4Addr ip;
    uint8_t prefix_len = 0;
    SockAddr server;
    uint64_t bytes = 64ull << 20;
    uint64_t seed = 1;
    uint64_t seconds = 60;
    uint64_t wait_link_ms = 5000;
    uint64_t linger_ms = 300;
    int congestion = -1;  // -1: the stack's default
    bool shutdown_after_send = true;
    uint64_t hold_reads_ms = 0;
    uint64_t churn = 0;  // short connections instead of one transfer
    uint64_t concurrency = 16;
    MacAddr mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
    app::LinkImpairment impair;
};

// -1 to go on, else the exit status (0 after --help, 2 for a bad command line).
int parse_options(int argc, char** argv, Options& o) {
    CLI::App app{"quasi as a TCP client over a tap: a stream echoed by the kernel's server and checked, or --churn "
        "short connections", "quasi_tcp_client"};
    app::take_last_values(app);
    app.add_option("--tap", o.tap, "the tap to attach to (it must exist)")->required();
    app::add_cidr(app, "--ip", o.ip, o.prefix_len, "quasi's address and prefix, in 198.18.0.0/15")->required();
    app::add_endpoint(app, "--server", o.server, "the kernel's echo server")->required();
    app::add_size(app, "--bytes", o.bytes, 1, 16ull << 30, "bytes to send and get back");
    app::add_size(app, "--seed", o.seed, 0, (1ull << 32) - 1, "seed of the stream");
    app::add_size(app, "--seconds", o.seconds, 1, 3600, "bound on the whole run, connect included");
    app::add_size(app, "--wait-link-ms", o.wait_link_ms, 0, 60000, "wait for the kernel to see the tap up (ms)");
    app::add_size(app, "--linger-ms", o.linger_ms, 0, 60000, "keep the stack up after the close (ms)");
    app::add_size(app, "--hold-reads-ms", o.hold_reads_ms, 0, 60000,
                  "read nothing until this long after the half-close (needs --shutdown after-send)");
    app::add_mac(app, "--mac", o.mac, "quasi's MAC address");
    app::add_size(app, "--churn", o.churn, 0, 10'000'000, "short connections instead of one transfer");
    app::add_size(app, "--concurrency", o.concurrency, 1, 4096, "--churn connections at a time");
    app.add_option_function<std::vector<std::string>>(
           "--impair",
           [&o](const std::vector<std::string>& specs) {
               for (const std::string& spec : specs)
                   if (!o.impair.parse(spec.c_str())) throw CLI::ValidationError("--impair", "bad spec '" + spec + "'");
           },
           "impairment decorator between the stack and the tap (apps/impair_options.hpp); repeats accumulate")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->type_name("SPEC");
    std::map<std::string, bool> shutdowns{{"after-send", true}, {"after-echo", false}};
    app.add_option("--shutdown", o.shutdown_after_send, "half-close after the last send or after the whole echo")
        ->transform(CLI::CheckedTransformer(shutdowns).description(""))
        ->type_name("after-send|after-echo");
    std::map<std::string, int> congestion{{"cubic", 1}, {"newreno", 0}};
    app.add_option("--congestion", o.congestion, "congestion control (default: the stack's)")
        ->transform(CLI::CheckedTransformer(congestion).description(""))
        ->type_name("cubic|newreno");
    if (int rc = app::parse_command_line(app, argc, argv); rc >= 0) return rc;
    if (o.hold_reads_ms && !o.shutdown_after_send) {
        std::fprintf(stderr, "quasi_tcp_client: --hold-reads-ms needs --shutdown after-send\n");
        return 2;
    }
    // DESIGN.md network safety: test traffic only inside 198.18.0.0/15.
    if (!app::in_benchmark_range(o.ip) || !app::in_benchmark_range(o.server.addr) || o.prefix_len < 15) {
        std::fprintf(stderr, "quasi_tcp_client: addresses must lie in 198.18.0.0/15 (prefix >= /15)\n");
        return 2;
    }
    return -1;
}

double mb_per_s(uint64_t bytes, TimeNs ns) { return ns ? double(bytes) / 1e6 / (double(ns) / double(kSecond)) : 0.0; }

// --churn: N short connections, C at a time (see the top of the file).
template <class Pump>
int run_churn(Stack& stack, const Options& o, const Clock& clock, Pump pump) {
    constexpr size_t kRequest = 32;
    struct Slot {
        int fd = -1;
        bool sent = false;
        size_t got = 0;
    };
    std::vector<Slot> slots(o.concurrency);
    uint64_t started = 0, completed = 0, refused = 0, reset = 0, other = 0;
    uint8_t request[kRequest], echo[kRequest];
    const TimeNs start = clock.now(), end = start + o.seconds * kSecond;
    auto fail = [&](Slot& sl, int err) {
        if (err == ECONNREFUSED) ++refused;
        else if (err == ECONNRESET) ++reset;
        else ++other;
        if (other + refused + reset <= 10)
            std::printf("quasi_tcp_client: connection failed: %s\n", std::strerror(err));
        close(stack, sl.fd);
        sl.fd = -1;
    };
    while (completed + refused + reset + other < o.churn && clock.now() < end && !app::stop_requested()) {
        for (Slot& sl : slots) {
            if (sl.fd < 0) {
                if (started == o.churn) continue;
                sl = Slot{socket(stack, kAfInet, kSockStream)};
                int rc = sl.fd < 0 ? sl.fd : connect(stack, sl.fd, o.server);
                ++started;
                if (rc != -EINPROGRESS) {
                    if (sl.fd < 0) {
                        ++other;
                        continue;
                    }
                    fail(sl, -rc);
                }
                continue;
            }
            PollFd p{sl.fd, uint16_t(events::in | events::out), 0};
            poll(stack, &p, 1);
            if (p.revents & events::err) {
                int err = 0;
                size_t len = sizeof err;
                getsockopt(stack, sl.fd, kSolSocket, kSoError, &err, &len);
                fail(sl, err ? err : EIO);
                continue;
            }
            if (!sl.sent && (p.revents & events::out)) {
                app::stream_bytes(o.seed, started, request, kRequest);
                if (send(stack, sl.fd, request, kRequest) != ssize_t(kRequest)) {
                    fail(sl, EIO);
                    continue;
                }
                sl.sent = true;
            }
            ssize_t n;
            while (sl.sent && (n = recv(stack, sl.fd, echo, kRequest)) > 0) sl.got += size_t(n);
            if (sl.got >= kRequest) {
                close(stack, sl.fd);  // we close first: the TIME-WAIT record is ours
                sl.fd = -1;
                ++completed;
            } else if (p.revents & events::hup) {
                fail(sl, ECONNRESET);
            }
        }
        pump(kMillisecond);
    }
    for (Slot& sl : slots)
        if (sl.fd >= 0) close(stack, sl.fd);
    double secs = double(clock.now() - start) / double(kSecond);
    bool pass = completed == o.churn;
    std::printf("quasi_tcp_client: churn %s: connections=%llu completed=%llu refused=%llu reset=%llu other_errors=%llu "
                "time_wait_reused=%llu time_wait_retired_early=%llu elapsed_s=%.2f per_second=%.0f\n",
                pass ? "PASS" : "FAIL", (unsigned long long)o.churn, (unsigned long long)completed,
                (unsigned long long)refused, (unsigned long long)reset, (unsigned long long)other,
                (unsigned long long)stack.stats()[Counter::tcp_time_wait_reused],
                (unsigned long long)stack.stats()[Counter::tcp_time_wait_retired_early], secs,
                secs > 0 ? double(completed) / secs : 0.0);
    app::print_stats(stdout, "stack statistics:", stack.stats());
    return pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (int rc = parse_options(argc, argv, o); rc >= 0) return rc;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    SteadyClock clock;
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 8192;
    Stack stack(config, clock);
    app::LinkImpairment::ReleaseGuard release_impairment{o.impair};  // before the stack and its pool go

    auto tap = app::open_tap_and_wait("quasi_tcp_client", o.tap.c_str(), stack.pool(), o.mac, o.wait_link_ms, clock);
    if (!tap) return 2;
    Netif& link = o.impair.wrap(*tap, stack.pool(), clock);
    if (int rc = stack.add_interface(link, o.ip, o.prefix_len); rc < 0) {
        std::fprintf(stderr, "quasi_tcp_client: cannot add interface: %s\n", std::strerror(-rc));
        return 2;
    }
    if (o.impair.requested()) std::printf("quasi_tcp_client: impairment %s\n", o.impair.describe());

    if (o.churn) {
        app::install_stop_handlers();
        return run_churn(stack, o, clock, [&](TimeNs max_wait) {
            size_t work = stack.poll();
            o.impair.flush_due();
            if (work == 0) o.impair.idle_wait(tap->fd(), clock, max_wait);
        });
    }
    int fd = socket(stack, kAfInet, kSockStream);
    if (fd < 0) {
        std::fprintf(stderr, "quasi_tcp_client: socket: %s\n", std::strerror(-fd));
        return 2;
    }
    if (o.congestion >= 0) {
        if (int rc = setsockopt(stack, fd, kIpProtoTcp, kTcpCongestion, &o.congestion, sizeof o.congestion); rc < 0) {
            std::fprintf(stderr, "quasi_tcp_client: TCP_CONGESTION: %s\n", std::strerror(-rc));
            return 2;
        }
    }
    char sip[16], lip[16];
    format(o.server.addr, sip, sizeof sip);
    format(o.ip, lip, sizeof lip);
    app::install_stop_handlers();
    const TimeNs start = clock.now();
    const TimeNs end = start + o.seconds * kSecond;

    auto pump = [&](TimeNs max_wait) {
        size_t work = stack.poll();
        o.impair.flush_due();
        if (work == 0) o.impair.idle_wait(tap->fd(), clock, max_wait);
    };

    // --- connect ---
    int rc = connect(stack, fd, o.server);
    if (rc < 0 && rc != -EINPROGRESS) {
        std::printf("quasi_tcp_client: FAIL: connect to %s:%u: %s\n", sip, o.server.port, std::strerror(-rc));
        return 1;
    }
    for (;;) {
        PollFd p{fd, events::out, 0};
        poll(stack, &p, 1);
        if (p.revents & (events::err | events::hup)) {
            int err = 0;
            size_t len = sizeof err;
            getsockopt(stack, fd, kSolSocket, kSoError, &err, &len);
            std::printf("quasi_tcp_client: FAIL: connect to %s:%u: %s\n", sip, o.server.port,
                        std::strerror(err ? err : ECONNREFUSED));
            return 1;
        }
        if (p.revents & events::out) break;
        if (clock.now() >= end || app::stop_requested()) {
            std::printf("quasi_tcp_client: FAIL: connect to %s:%u timed out\n", sip, o.server.port);
            return 1;
        }
        pump(5 * kMillisecond);
    }
    const TimeNs connected = clock.now();
    SockAddr local;
    getsockname(stack, fd, &local);
    std::printf("quasi_tcp_client: %s:%u -> %s:%u connected in %.2f ms; echoing %llu bytes (seed %llu), "
                "shutdown(SHUT_WR) %s\n",
                lip, local.port, sip, o.server.port, double(connected - start) / double(kMillisecond),
                (unsigned long long)o.bytes, (unsigned long long)o.seed,
                o.shutdown_after_send ? "after the last send" : "after the whole echo");

    // --- transfer: send everything, read the echo concurrently ---
    constexpr size_t kChunk = 64 * 1024;
    std::vector<uint8_t> out(kChunk), in(kChunk), expect(kChunk);
    size_t out_len = 0, out_off = 0;  // generated, not yet accepted by send()
    uint64_t sent = 0, received = 0;
    int64_t mismatch_at = -1;
    bool shut = false, eof = false, failed = false, reads_resumed = false;
    uint64_t extra = 0;  // bytes beyond `bytes`
    Sha256Digest sha_sent, sha_received;
    TimeNs last_progress = connected, sent_all_at = 0, received_all_at = 0;
    uint64_t next_report = o.bytes / 4;
    while (!eof && !failed) {
        if (clock.now() >= end || app::stop_requested()) {
            std::printf("quasi_tcp_client: FAIL: time limit (--seconds %llu) or signal: sent %llu, received %llu of %llu\n",
                        (unsigned long long)o.seconds, (unsigned long long)sent, (unsigned long long)received,
                        (unsigned long long)o.bytes);
            failed = true;
            break;
        }
        size_t work = stack.poll();
        // send
        while (sent < o.bytes) {
            if (out_off == out_len) {
                out_len = static_cast<size_t>(std::min<uint64_t>(kChunk, o.bytes - sent));
                out_off = 0;
                app::stream_bytes(o.seed, sent, out.data(), out_len);
            }
            ssize_t n = send(stack, fd, out.data() + out_off, out_len - out_off);
            if (n == -EAGAIN || n == 0) break;
            if (n < 0) {
                std::printf("quasi_tcp_client: FAIL: send at offset %llu: %s\n", (unsigned long long)sent,
                            std::strerror(int(-n)));
                failed = true;
                break;
            }
            sha_sent.update(out.data() + out_off, size_t(n));
            out_off += size_t(n);
            sent += uint64_t(n);
            ++work;
        }
        if (failed) break;
        if (sent == o.bytes && !sent_all_at) sent_all_at = clock.now();
        if (sent == o.bytes && !shut && (o.shutdown_after_send || received >= o.bytes)) {
            if (int r = shutdown(stack, fd, kShutWr); r < 0) {
                std::printf("quasi_tcp_client: FAIL: shutdown(SHUT_WR): %s\n", std::strerror(-r));
                failed = true;
                break;
            }
            shut = true;
        }
        // receive (not before --hold-reads-ms after the half-close)
        const bool hold = o.hold_reads_ms && (!shut || clock.now() < sent_all_at + o.hold_reads_ms * kMillisecond);
        if (o.hold_reads_ms && !hold && !reads_resumed) {
            reads_resumed = true;
            if (TcpSocket* s = stack.descriptors().tcp(fd))
                std::printf("quasi_tcp_client: reads resume %llu ms after the half-close: state %s, %zu bytes "
                            "readable, peer FIN %s\n",
                            (unsigned long long)o.hold_reads_ms, name(s->state), s->receive_buffer.size(),
                            s->fin_received ? "received" : "not received");
        }
        for (; !hold;) {
            ssize_t n = recv(stack, fd, in.data(), in.size());
            if (n == -EAGAIN) break;
            if (n == 0) {
                eof = true;
                break;
            }
            if (n < 0) {
                std::printf("quasi_tcp_client: FAIL: recv after %llu bytes: %s\n", (unsigned long long)received,
                            std::strerror(int(-n)));
                failed = true;
                break;
            }
            ++work;
            size_t len = size_t(n);
            sha_received.update(in.data(), len);
            size_t check = static_cast<size_t>(std::min<uint64_t>(len, o.bytes > received ? o.bytes - received : 0));
            if (check < len) extra += len - check;
            if (mismatch_at < 0 && check) {
                app::stream_bytes(o.seed, received, expect.data(), check);
                if (std::memcmp(in.data(), expect.data(), check) != 0) {
                    size_t k = 0;
                    while (in[k] == expect[k]) ++k;
                    mismatch_at = int64_t(received + k);
                    std::printf("quasi_tcp_client: MISMATCH at stream offset %lld: got 0x%02x, expected 0x%02x\n",
                                (long long)mismatch_at, in[k], expect[k]);
                }
            }
            received += len;
            last_progress = clock.now();
            if (received >= o.bytes && !received_all_at) received_all_at = last_progress;
            if (received >= next_report && next_report) {
                std::printf("quasi_tcp_client: %llu/%llu bytes echoed (%.1f s)\n", (unsigned long long)received,
                            (unsigned long long)o.bytes, double(clock.now() - connected) / double(kSecond));
                next_report += o.bytes / 4;
            }
        }
        if (sent > 0 && last_progress < clock.now() - 5 * kSecond && received < o.bytes) {
            // Not fatal by itself (loss can stall for a few RTOs), but worth a line.
            last_progress = clock.now();
            std::printf("quasi_tcp_client: no data for 5 s (sent %llu, received %llu)\n", (unsigned long long)sent,
                        (unsigned long long)received);
        }
        o.impair.flush_due();
        if (work == 0) o.impair.idle_wait(tap->fd(), clock, 2 * kMillisecond);
    }
    const TimeNs finished = received_all_at ? received_all_at : clock.now();

    uint64_t socket_retransmits = 0;
    uint32_t cwnd = 0, mss = 0;
    TcpState state_at_end = TcpState::closed;
    if (TcpSocket* s = stack.descriptors().tcp(fd)) {
        socket_retransmits = s->total_retransmits;
        cwnd = s->cc.cwnd();
        mss = s->snd_mss;
        state_at_end = s->state;
    }
    close(stack, fd);
    // Let the last ACKs go out (our FIN's ACK came before the server's FIN; the ACK of
    // the server's FIN goes now), with the impairment still in the path.
    const TimeNs linger_until = clock.now() + o.linger_ms * kMillisecond;
    while (clock.now() < linger_until && !app::stop_requested()) pump(2 * kMillisecond);

    const std::string digest_sent = sha_sent.hex();
    const std::string digest_received = sha_received.hex();
    const bool ok = !failed && eof && sent == o.bytes && received == o.bytes && extra == 0 && mismatch_at < 0 &&
                    digest_sent == digest_received;
    const TimeNs elapsed = finished - connected;
    std::printf("quasi_tcp_client: %s: bytes=%llu sent=%llu received=%llu extra=%llu mismatch_at=%lld eof=%d "
                "sha256_sent=%s sha256_received=%s connect_ms=%.2f send_s=%.3f elapsed_s=%.3f throughput_MBps=%.1f\n",
                ok ? "PASS" : "FAIL", (unsigned long long)o.bytes, (unsigned long long)sent,
                (unsigned long long)received, (unsigned long long)extra, (long long)mismatch_at, eof ? 1 : 0,
                digest_sent.c_str(), digest_received.c_str(), double(connected - start) / double(kMillisecond),
                sent_all_at ? double(sent_all_at - connected) / double(kSecond) : -1.0,
                double(elapsed) / double(kSecond), mb_per_s(received, elapsed));
    std::printf("quasi_tcp_client: socket: state at end %s, retransmits %llu, cwnd %u, mss %u\n", name(state_at_end),
                (unsigned long long)socket_retransmits, cwnd, mss);
    const auto& tc = tap->counters();
    std::printf("tap counters: rx_frames %llu tx_frames %llu rx_oversize %llu rx_no_buffer %llu rx_errors %llu "
                "tx_would_block %llu tx_oversize %llu tx_errors %llu\n",
                (unsigned long long)tc.rx_frames, (unsigned long long)tc.tx_frames, (unsigned long long)tc.rx_oversize,
                (unsigned long long)tc.rx_no_buffer, (unsigned long long)tc.rx_errors,
                (unsigned long long)tc.tx_would_block, (unsigned long long)tc.tx_oversize,
                (unsigned long long)tc.tx_errors);
    std::printf("quasi_tcp_client: tcp sockets in use at exit %zu\n", stack.tcp().open_sockets());
    app::print_stats(stdout, "stack statistics:", stack.stats());
    o.impair.print(stdout);
    return ok ? 0 : 1;
}
