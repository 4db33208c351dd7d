// quasi_udp_client: the stack-originated direction of the UDP interop test.
//
//   quasi_udp_client --tap IFNAME --ip 198.18.X.2/24 --server 198.18.X.1:7777
//                    [--count 1000] [--max-size 8000] [--seed 12] [--timeout-ms 1000]
//                    [--retries 3] [--seconds 60] [--mac 02:00:00:00:00:01]
//                    [--expect-peer-mac MAC] [--linger-ms MS] [--wait-link-ms 5000]
//
// Opens the tap (inside the test's network namespace), sends `count` datagrams of
// 1..max-size bytes (deterministic sizes, always including 1, 1472, 1473 and max-size)
// to a UDP echo server on the kernel side, one at a time from a connected socket, and
// checks each echo byte for byte. Above 1472 bytes quasi fragments and the kernel's echo
// comes back fragmented (quasi reassembles). The kernel's MAC is resolved by the stack's
// own ARP: the program checks it is unknown before the first send and known (and equal
// to --expect-peer-mac, if given) afterwards.
//
// Output: progress lines, one "quasi_udp_client: PASS|FAIL: ..." summary line with
// sent/received/echoed/mismatches/lost, the stack's statistics. Exit status 0 iff every
// datagram came back intact (and the ARP checks held); 1 on a failure; 2 on bad usage or
// setup errors. Bounded: count <= 100000, retries <= 10, and --seconds overall.
// --wait-link-ms: after attaching, wait (bounded) until the kernel reports the tap's
// operstate "up" before sending anything. Attaching turns the carrier on, but the kernel
// applies that in its linkwatch work, which is rate-limited (one run per second, shared by
// every device on the machine); until it has run, the tap's qdisc is still noop and the
// kernel silently drops what it transmits (its ARP replies among them: counted as TX
// dropped on the tap).
// --linger-ms keeps the stack (and the tap, hence the kernel's neighbour entry, which the
// kernel flushes when the tap loses its carrier) alive that long after the traffic; the
// line "quasi_udp_client: traffic done, lingering" tells a script when to look.
#include "apps/app_common.hpp"
#include "apps/cli_options.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/tap.hpp"
#include "stack/random.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace quasi;

namespace {

struct Options {
    std::string tap;
    Ipv4Addr ip;
    uint8_t prefix_len = 0;
    SockAddr server;
    uint64_t count = 1000;
    uint64_t max_size = 8000;
    uint64_t seed = 12;
    uint64_t timeout_ms = 1000;
    uint64_t retries = 3;
    uint64_t seconds = 60;
    uint64_t linger_ms = 0;
    uint64_t wait_link_ms = 5000;
    MacAddr mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
    MacAddr expect_peer_mac;
    bool check_peer_mac = false;
};

// -1 to go on, else the exit status (0 after --help, 2 for a bad command line).
int parse_options(int argc, char** argv, Options& o) {
    CLI::App app{"UDP datagrams from quasi over a tap to the kernel's echo server, checked byte for byte",
                 "quasi_udp_client"};
    app::take_last_values(app);
    app.add_option("--tap", o.tap, "the tap to attach to (it must exist)")->required();
    app::add_cidr(app, "--ip", o.ip, o.prefix_len, "quasi's address and prefix, in 198.18.0.0/15")->required();
    app::add_endpoint(app, "--server", o.server, "the kernel's UDP echo server")->required();
    app::add_size(app, "--count", o.count, 1, 100000, "datagrams to send");
    app::add_size(app, "--max-size", o.max_size, 1, 65507, "largest datagram (bytes)");
    app::add_size(app, "--seed", o.seed, 0, UINT64_MAX, "seed of sizes and payloads");
    app::add_size(app, "--timeout-ms", o.timeout_ms, 1, 60000, "wait for each echo (ms)");
    app::add_size(app, "--retries", o.retries, 0, 10, "resends of a datagram whose echo did not come");
    app::add_size(app, "--seconds", o.seconds, 1, 3600, "bound on the whole run");
    app::add_size(app, "--wait-link-ms", o.wait_link_ms, 0, 60000, "wait for the kernel to see the tap up (ms)");
    app::add_size(app, "--linger-ms", o.linger_ms, 0, 10000, "keep the stack up after the traffic (ms)");
    app::add_mac(app, "--mac", o.mac, "quasi's MAC address");
    app::add_mac(app, "--expect-peer-mac", o.expect_peer_mac, "the kernel's MAC that ARP must resolve")
        ->each([&o](const std::string&) { o.check_peer_mac = true; });
    if (int rc = app::parse_command_line(app, argc, argv); rc >= 0) return rc;
    // DESIGN.md network safety: test traffic only inside 198.18.0.0/15.
    if (!app::in_benchmark_range(o.ip) || !app::in_benchmark_range(o.server.addr) || o.prefix_len < 15) {
        std::fprintf(stderr, "quasi_udp_client: addresses must lie in 198.18.0.0/15 (prefix >= /15)\n");
        return 2;
    }
    return -1;
}

// Edge sizes first (fragmentation boundaries for a 1500-byte MTU), then pseudo-random.
std::vector<size_t> plan_sizes(const Options& o) {
    std::vector<size_t> sizes;
    const size_t max = o.max_size;
    for (size_t s : {size_t{1}, size_t{2}, size_t{7}, size_t{8}, size_t{9}, size_t{1471}, size_t{1472}, size_t{1473},
                     size_t{1474}, size_t{1480}, size_t{1481}, size_t{2952}, size_t{2953}, size_t{2960}, size_t{2961},
                     size_t{4000}, max - 1, max}) {
        if (s >= 1 && s <= max && std::find(sizes.begin(), sizes.end(), s) == sizes.end() && sizes.size() < o.count)
            sizes.push_back(s);
    }
    Random rng(o.seed);
    while (sizes.size() < o.count) sizes.push_back(1 + rng.below(static_cast<uint32_t>(max)));
    return sizes;
}

// A 4-byte big-endian index, then seeded pseudo-random bytes: every datagram differs.
void make_payload(std::vector<uint8_t>& out, uint64_t index, size_t size, uint64_t seed) {
    out.resize(size);
    Random rng(seed * 1000003 + index);
    for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(rng.next() >> 56);
    for (size_t i = 0; i < 4 && i < size; ++i) out[i] = static_cast<uint8_t>(index >> (24 - 8 * i));
}

const char* mac_text(const MacAddr& m, char (&buf)[18]) { return format(m, buf, sizeof buf); }

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

    auto tap = app::open_tap_and_wait("quasi_udp_client", o.tap.c_str(), stack.pool(), o.mac, o.wait_link_ms, clock);
    if (!tap) return 2;
    int ifindex = stack.add_interface(*tap, o.ip, o.prefix_len);
    if (ifindex < 0) {
        std::fprintf(stderr, "quasi_udp_client: cannot add interface: %s\n", std::strerror(-ifindex));
        return 2;
    }
    Interface& iface = *stack.interface(static_cast<size_t>(ifindex));
    int fd = socket(stack, kAfInet, kSockDgram);
    int rc = fd < 0 ? fd : bind(stack, fd, SockAddr{Ipv4Addr{}, 0});
    if (rc == 0) rc = connect(stack, fd, o.server);
    if (rc < 0) {
        std::fprintf(stderr, "quasi_udp_client: socket/bind/connect failed: %s\n", std::strerror(-rc));
        return 2;
    }
    SockAddr local;
    getsockname(stack, fd, &local);
    char ip[16], sip[16], mac[18];
    std::printf("quasi_udp_client: %s:%u on %s (MAC %s) -> %s:%u, %llu datagrams of 1..%llu bytes, timeout %llu ms, "
                "%llu retries\n",
                format(o.ip, ip, sizeof ip), local.port, tap->name(), mac_text(o.mac, mac), format(o.server.addr, sip, sizeof sip),
                o.server.port, (unsigned long long)o.count, (unsigned long long)o.max_size,
                (unsigned long long)o.timeout_ms, (unsigned long long)o.retries);

    bool ok = true;
    // Stack->kernel ARP: nothing may be known about the server before we send.
    MacAddr peer;
    if (iface.arp().lookup(o.server.addr, peer)) {
        std::printf("quasi_udp_client: FAIL: ARP already knew %s as %s before the first send\n", sip, mac_text(peer, mac));
        ok = false;
    } else {
        std::printf("quasi_udp_client: arp: %s unresolved before the first send (as expected)\n", sip);
    }

    app::install_stop_handlers();
    const std::vector<size_t> sizes = plan_sizes(o);
    std::vector<uint8_t> data, buf(65536);
    const TimeNs start = clock.now();
    const TimeNs end = start + static_cast<TimeNs>(o.seconds) * kSecond;
    const TimeNs timeout = static_cast<TimeNs>(o.timeout_ms) * kMillisecond;
    uint64_t sent = 0, received = 0, echoed = 0, mismatches = 0, lost = 0, retries = 0, stray = 0, send_errors = 0,
             recv_errors = 0, bytes = 0;
    TimeNs arp_resolved_at = 0, worst_rtt = 0;
    constexpr uint64_t kMaxLostInARow = 3;  // a dead peer or stack: fail fast
    uint64_t lost_in_a_row = 0;
    constexpr size_t kMaxResent = 32;
    std::vector<std::vector<uint8_t>> resent;  // payloads sent more than once (latest kMaxResent)
    bool aborted = false;

    for (size_t i = 0; i < sizes.size() && !aborted; ++i) {
        const size_t size = sizes[i];
        make_payload(data, i, size, o.seed);
        bool done = false;
        for (uint64_t attempt = 0; attempt <= o.retries && !done; ++attempt) {
            if (attempt) {
                ++retries;
                if (attempt == 1) {
                    if (resent.size() == kMaxResent) resent.erase(resent.begin());
                    resent.push_back(data);
                }
                std::printf("quasi_udp_client: retry %llu for datagram %zu (%zu bytes)\n", (unsigned long long)attempt, i, size);
            }
            const TimeNs t0 = clock.now();
            ssize_t n = send(stack, fd, data.data(), size);
            if (n != static_cast<ssize_t>(size)) {
                ++send_errors;
                std::printf("quasi_udp_client: send of datagram %zu (%zu bytes) returned %zd (%s)\n", i, size, n,
                            n < 0 ? std::strerror(int(-n)) : "short");
            } else {
                ++sent;
            }
            stack.flush_all();
            const TimeNs deadline = std::min(t0 + timeout, end);
            while (!done) {
                const TimeNs now = clock.now();
                if (now >= deadline) break;
                size_t work = stack.poll();
                if (arp_resolved_at == 0 && iface.arp().lookup(o.server.addr, peer)) arp_resolved_at = clock.now();
                n = recv(stack, fd, buf.data(), buf.size());
                if (n == -EAGAIN) {
                    if (work == 0) {
                        pollfd pfd{tap->fd(), POLLIN, 0};
                        ::poll(&pfd, 1, 1);
                    }
                    continue;
                }
                if (n < 0) {
                    ++recv_errors;
                    std::printf("quasi_udp_client: recv error on datagram %zu: %s\n", i, std::strerror(int(-n)));
                    continue;
                }
                ++received;
                if (size_t(n) == size && std::equal(data.begin(), data.end(), buf.begin())) {
                    done = true;
                    worst_rtt = std::max(worst_rtt, clock.now() - t0);
                    break;
                }
                // A datagram sent more than once is echoed more than once: its extra echoes
                // may arrive while a later datagram is waited for.
                if (std::find(resent.begin(), resent.end(), std::vector<uint8_t>(buf.begin(), buf.begin() + n)) !=
                    resent.end()) {
                    ++stray;
                    std::printf("quasi_udp_client: extra echo of an earlier retried datagram (%zd bytes) ignored\n", n);
                    continue;
                }
                size_t diff = 0;
                while (diff < size && diff < size_t(n) && buf[diff] == data[diff]) ++diff;
                std::printf("quasi_udp_client: MISMATCH while waiting for datagram %zu: sent %zu bytes, got %zd bytes, "
                            "first difference at byte %zu\n",
                            i, size, n, diff);
                ++mismatches;
                // The datagram fails; keep waiting for its own echo all the same.
            }
            if (clock.now() >= end || app::stop_requested()) {
                if (!done) aborted = true;
                break;
            }
        }
        if (done) {
            ++echoed;
            bytes += size;
        } else {
            ++lost;
            std::printf("quasi_udp_client: LOST datagram %zu (%zu bytes)%s\n", i, size,
                        aborted ? " (time limit or signal)" : "");
            if (++lost_in_a_row >= kMaxLostInARow && !aborted) {
                std::printf("quasi_udp_client: FAIL: %llu datagrams lost in a row; giving up on the remaining %zu\n",
                            (unsigned long long)lost_in_a_row, sizes.size() - i - 1);
                lost += sizes.size() - i - 1;
                break;
            }
        }
        if (done) lost_in_a_row = 0;
        if ((i + 1) % 250 == 0) std::printf("quasi_udp_client: %zu/%zu done\n", i + 1, sizes.size());
    }
    if (aborted) {
        std::printf("quasi_udp_client: FAIL: stopped early (--seconds %llu reached or signal)\n",
                    (unsigned long long)o.seconds);
        lost = sizes.size() - echoed;
    }
    const TimeNs elapsed = clock.now() - start;
    if (o.linger_ms) {
        std::printf("quasi_udp_client: traffic done, lingering %llu ms\n", (unsigned long long)o.linger_ms);
        const TimeNs until = clock.now() + static_cast<TimeNs>(o.linger_ms) * kMillisecond;
        while (clock.now() < until && !app::stop_requested()) {
            if (stack.poll() == 0) {
                pollfd pfd{tap->fd(), POLLIN, 0};
                ::poll(&pfd, 1, 5);
            }
            while (recv(stack, fd, buf.data(), buf.size()) >= 0) ++stray;
        }
    }

    // Stack->kernel ARP must have resolved the server, to the kernel's real MAC.
    if (!iface.arp().lookup(o.server.addr, peer)) {
        std::printf("quasi_udp_client: FAIL: ARP never resolved %s\n", sip);
        ok = false;
    } else {
        std::printf("quasi_udp_client: arp: %s resolved to %s %.3f ms after the first send (%llu ARP request(s) sent, the start-up announcement included)\n",
                    sip, mac_text(peer, mac), double(arp_resolved_at - start) / double(kMillisecond),
                    (unsigned long long)stack.stats()[Counter::arp_requests_sent]);
        if (o.check_peer_mac && !(peer == o.expect_peer_mac)) {
            char want[18];
            std::printf("quasi_udp_client: FAIL: ARP resolved %s to %s, the kernel's tap MAC is %s\n", sip, mac, mac_text(o.expect_peer_mac, want));
            ok = false;
        }
    }
    // One request is the gratuitous announcement of add_interface; resolving needs another.
    if (stack.stats()[Counter::arp_requests_sent] < 2) {
        std::printf("quasi_udp_client: FAIL: the stack sent no ARP request of its own (it must resolve the kernel itself)\n");
        ok = false;
    }

    ok = ok && echoed == sizes.size() && mismatches == 0 && lost == 0 && send_errors == 0 && recv_errors == 0 &&
         stray <= retries;
    const auto& tc = tap->counters();
    std::printf("quasi_udp_client: %s: datagrams=%zu sent=%llu received=%llu echoed=%llu mismatches=%llu lost=%llu "
                "retries=%llu stray=%llu send_errors=%llu recv_errors=%llu bytes=%llu max_rtt_ms=%.2f elapsed_s=%.2f\n",
                ok ? "PASS" : "FAIL", sizes.size(), (unsigned long long)sent, (unsigned long long)received,
                (unsigned long long)echoed, (unsigned long long)mismatches, (unsigned long long)lost,
                (unsigned long long)retries, (unsigned long long)stray, (unsigned long long)send_errors,
                (unsigned long long)recv_errors, (unsigned long long)bytes, double(worst_rtt) / double(kMillisecond),
                double(elapsed) / double(kSecond));
    std::printf("tap counters: rx_frames %llu tx_frames %llu rx_oversize %llu rx_no_buffer %llu rx_errors %llu "
                "tx_would_block %llu tx_oversize %llu tx_errors %llu\n",
                (unsigned long long)tc.rx_frames, (unsigned long long)tc.tx_frames, (unsigned long long)tc.rx_oversize,
                (unsigned long long)tc.rx_no_buffer, (unsigned long long)tc.rx_errors, (unsigned long long)tc.tx_would_block,
                (unsigned long long)tc.tx_oversize, (unsigned long long)tc.tx_errors);
    app::print_stats(stdout, "stack statistics:", stack.stats());
    close(stack, fd);
    return ok ? 0 : 1;
}
