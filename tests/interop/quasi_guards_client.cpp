// quasi_guards_client: one stream through a specialized send handle over two taps
// while the network changes under it (tests/interop/guards_tap.sh; label guards).
//
//   quasi_guards_client --proto tcp|udp --policy reinforce|fallback
//       --tap0 IF --ip0 198.18.X.2/24 --tap1 IF --ip1 198.18.Y.2/24 --peer ADDR --port P
//       --gw0 ADDR --gw0b ADDR --gw1 ADDR --arp-dev KDEV --old-gw-dev KDEV --icmp-dev KDEV
//       [--bytes 64M] [--udp-size 1400] [--pmtu 1000] [--iface-mtu 900] [--seconds 40]
//
// The peer (an address on the kernel's loopback) is reachable through either tap. The
// stream starts routed via --gw0 on tap0; at the k-th sixth of it (k = 1..5, each
// change waiting until the previous one's new code was plugged) the client changes:
//  1. gateway: the route to the peer now goes via --gw0b (another MAC: a macvlan)
//  2. arp: a failover: the kernel announces --gw0b at a third MAC (a gratuitous ARP,
//     RFC 5227 3, written by this program onto the kernel's --arp-dev: it leaves
//     through tap0), then --old-gw-dev, which held it, goes down: frames to the old
//     MAC are lost from then on
//  3. route: the route moves to tap1, via --gw1 (a UDP socket bound to 0.0.0.0 now
//     sends from --ip1: the stale code's frames are NAT-translated)
//  4. icmp: --gw1 reports "fragmentation needed", next-hop MTU --pmtu (RFC 1191),
//     quoting a segment in flight (RFC 5927): a real frame written onto the kernel's
//     --icmp-dev (tap1's kernel end), which the kernel sends out to quasi
//  5. mtu: quasi's tap1 interface MTU drops to --iface-mtu
// Every next hop is resolved (ARP) before the stream starts, as a router's would be.
// TCP: --bytes of the stream (apps/app_common.hpp stream_bytes, seed 9) in 1448-byte
// units (the handle's declared ADU), then FIN and the peer's FIN. UDP: datagrams of
// --udp-size, paced (200 per 2 ms); datagram k: bytes 0..7 k (little-endian), bytes
// 8..9 the number of changes made when it was sent (the peer's delivery gaps per
// change), byte i >= 10 (k * 131 + i) mod 256.
//
// Prints one line per change:
//   quasi_guards_client: change=NAME at=OFFSET kind_violations=.. window_specialized=..
//     window_generic=.. after_specialized=.. reinforced_frames=.. recut=.. fragments=..
//     translations=.. replugged=0|1 gap_us=..
// (window: from the send that saw the change to the one that plugged new code;
// counters: the change's share; gap_us, TCP only: the longest time between advances of SND.UNA, i.e. of bytes the
// kernel acknowledged, from this change to the next), then the summary
//   quasi_guards_client: PASS|FAIL: proto=.. policy=.. sent=.. sha256_sent=.. specialized=..
//     generic=.. changes=N violations=.. reinforced_frames=.. replugs=..
// and the stack's statistics. Exit 0 iff the stream was sent (TCP: and the peer's FIN
// came) and every change was made; 1 otherwise; 2 on usage or setup errors.
#include "apps/app_common.hpp"
#include "apps/cli_options.hpp"
#include "apps/digest.hpp"
#include "jit/specialize.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/tap.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#include "stack/tcp_seq.hpp"
#include "tests/interop/kernel_frames.hpp"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace quasi;
using quasi::test::gratuitous_arp;
using quasi::test::icmp_frag_needed;
using quasi::test::KernelDevice;
using quasi::test::Quoted;

namespace {

constexpr uint32_t kTcpAdu = 1448;
constexpr uint64_t kStreamSeed = 9;
constexpr size_t kChanges = 5;
const char* const kChangeNames[kChanges] = {"gateway", "arp", "route", "icmp", "mtu"};
// The violation kind each change must show.
constexpr ViolationKind kChangeKinds[kChanges] = {ViolationKind::route, ViolationKind::neighbour, ViolationKind::route,
                                                  ViolationKind::path_mtu, ViolationKind::interface_mtu};

struct Options {
    std::string proto, policy, tap0, tap1, arp_dev, old_gw_dev, icmp_dev;
    Ipv4Addr ip0, ip1, peer, gw0, gw0b, gw1;
    uint8_t len0 = 0, len1 = 0;
    uint64_t port = 5001;
    uint64_t bytes = 64ull << 20;
    uint64_t udp_size = 1400;
    uint64_t pmtu = 1000;
    uint64_t iface_mtu = 900;
    uint64_t seconds = 40;
};

int parse_options(int argc, char** argv, Options& o) {
    CLI::App app{"a stream through a specialized handle over two taps while routes, ARP and MTUs change",
                 "quasi_guards_client"};
    app::take_last_values(app);
    app.add_option("--proto", o.proto, "tcp or udp")->required()->check(CLI::IsMember({"tcp", "udp"}));
    app.add_option("--policy", o.policy, "the handle's ViolationPolicy")
        ->required()
        ->check(CLI::IsMember({"reinforce", "fallback"}));
    app.add_option("--tap0", o.tap0, "quasi's first tap")->required();
    app.add_option("--tap1", o.tap1, "quasi's second tap")->required();
    app::add_cidr(app, "--ip0", o.ip0, o.len0, "quasi's address on tap0")->required();
    app::add_cidr(app, "--ip1", o.ip1, o.len1, "quasi's address on tap1")->required();
    app::add_ipv4(app, "--peer", o.peer, "the kernel peer, reachable through either tap")->required();
    app::add_size(app, "--port", o.port, 1, 65535, "the peer's port");
    app::add_ipv4(app, "--gw0", o.gw0, "the first gateway, on tap0")->required();
    app::add_ipv4(app, "--gw0b", o.gw0b, "the second gateway, on tap0 (another MAC)")->required();
    app::add_ipv4(app, "--gw1", o.gw1, "the gateway on tap1")->required();
    app.add_option("--arp-dev", o.arp_dev, "kernel device that announces --gw0b at its own MAC")->required();
    app.add_option("--old-gw-dev", o.old_gw_dev, "kernel device that held --gw0b, taken down after the announcement")
        ->required();
    app.add_option("--icmp-dev", o.icmp_dev, "kernel device (tap1's kernel end) the ICMP report leaves by")->required();
    app::add_size(app, "--bytes", o.bytes, 1 << 20, 1ull << 32, "bytes of the stream");
    app::add_size(app, "--udp-size", o.udp_size, 64, 1472, "datagram size (UDP)");
    app::add_size(app, "--pmtu", o.pmtu, 576, 1499, "next-hop MTU the ICMP report gives");
    app::add_size(app, "--iface-mtu", o.iface_mtu, 576, 1499, "tap1's interface MTU after the last change");
    app::add_size(app, "--seconds", o.seconds, 1, 600, "bound on the whole run");
    if (int rc = app::parse_command_line(app, argc, argv); rc >= 0) return rc;
    // DESIGN.md network safety: test traffic only inside 198.18.0.0/15.
    for (Ipv4Addr a : {o.ip0, o.ip1, o.peer, o.gw0, o.gw0b, o.gw1}) {
        if (!app::in_benchmark_range(a)) {
            std::fprintf(stderr, "quasi_guards_client: addresses must lie in 198.18.0.0/15\n");
            return 2;
        }
    }
    return -1;
}

Ipv4Addr network(Ipv4Addr a, unsigned prefix_len) {
    return Ipv4Addr{a.value & ~(0xFFFFFFFFu >> prefix_len)};
}

void sleep_us(uint64_t us) {
    timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
    nanosleep(&ts, nullptr);
}

// What one change did: counters of the handle at the change, at the replug, at the end.
struct ChangeRecord {
    bool made = false;
    uint64_t at = 0;  // stream offset (TCP bytes, UDP datagrams)
    TimeNs time = 0;
    SendHandleInfo before;
    bool violated = false;  // the handle saw the change (a frame from the kernel takes a while)
    SendHandleInfo at_violation;
    bool replugged = false;
    SendHandleInfo at_replug;  // when the new code started running (or at the next change)
    SendHandleInfo after;      // at the next change, or at the end
    TimeNs longest_gap = 0;
};

class Client {
public:
    Client(const Options& o, Stack& stack, TapNetif& tap0, TapNetif& tap1, SteadyClock& clock)
        : o_(o),
          stack_(stack),
          taps_{&tap0, &tap1},
          clock_(clock),
          end_(clock.now() + o.seconds * kSecond),
          arp_dev_(o.arp_dev),
          old_gw_dev_(o.old_gw_dev),
          icmp_dev_(o.icmp_dev) {}
    bool run();
    bool report(bool ok);
    void release() {
        h_.release();
        if (fd_ >= 0) close(stack_, fd_);
    }

private:
    bool out_of_time(const char* phase) {
        if (clock_.now() < end_ && !app::stop_requested()) return false;
        std::printf("quasi_guards_client: FAIL: time limit (--seconds %llu) or signal during %s\n",
                    (unsigned long long)o_.seconds, phase);
        return true;
    }
    void pump(TimeNs max_wait) {
        if (stack_.poll() != 0) return;
        pollfd pfd[2] = {{taps_[0]->fd(), POLLIN, 0}, {taps_[1]->fd(), POLLIN, 0}};
        timespec ts{0, static_cast<long>(max_wait)};
        ::ppoll(pfd, 2, &ts, nullptr);
    }
    bool resolve(size_t iface, Ipv4Addr next_hop);
    bool open_stream();
    bool send_tcp();
    bool send_udp();
    bool finish_tcp();
    bool room_for_unit() const;
    template <class Done>
    bool take_now(size_t index, Done done);
    void maybe_change(uint64_t offset);
    bool hold_for_last_change(uint64_t offset) const;
    void observe(const SendHandleInfo& now, const SendHandleInfo& before);
    void after_send();
    bool apply(size_t k);
    void track();

    const Options& o_;
    Stack& stack_;
    TapNetif* taps_[2];
    SteadyClock& clock_;
    const TimeNs end_;
    KernelDevice arp_dev_, old_gw_dev_, icmp_dev_;
    int fd_ = -1;
    SendHandle h_;
    uint64_t sent_ = 0, total_ = 0, partial_ = 0;
    size_t changes_ = 0;
    ChangeRecord rec_[kChanges];
    TimeNs stream_time_ = 0;
    SendHandleInfo pre_send_;  // the handle's counters before the current send
    uint32_t last_una_ = 0;
    TimeNs last_advance_ = 0;
    app::Sha256Digest sha_;
};

// A datagram to a next hop's discard port makes ARP resolve it (the kernel answers
// port unreachable, which is harmless); waits until it is reachable.
bool Client::resolve(size_t iface, Ipv4Addr next_hop) {
    int fd = socket(stack_, kAfInet, kSockDgram);
    uint8_t probe = 0;
    ArpCache& arp = stack_.interface(iface)->arp();
    for (int tries = 0; arp.state_of(next_hop) != ArpCache::State::reachable; ++tries) {
        if (tries % 200 == 0) {
            const SockAddr discard{next_hop, 9};
            sendto(stack_, fd, &probe, 1, 0, &discard);
        }
        if (tries > 1000 || out_of_time("ARP resolution")) {
            std::printf("quasi_guards_client: FAIL: next hop %u.%u.%u.%u on interface %zu did not resolve\n",
                        next_hop.value >> 24, (next_hop.value >> 16) & 255, (next_hop.value >> 8) & 255,
                        next_hop.value & 255, iface);
            close(stack_, fd);
            return false;
        }
        pump(5 * kMillisecond);
    }
    close(stack_, fd);
    return true;
}

bool Client::open_stream() {
    const bool tcp = o_.proto == "tcp";
    fd_ = socket(stack_, kAfInet, tcp ? kSockStream : kSockDgram);
    const SockAddr peer{o_.peer, static_cast<uint16_t>(o_.port)};
    if (!tcp) {
        // Bound to the wildcard: its source follows the route (NAT when it moves).
        if (bind(stack_, fd_, SockAddr{{}, 6000}) < 0 || connect(stack_, fd_, peer) < 0) {
            std::printf("quasi_guards_client: FAIL: UDP socket\n");
            return false;
        }
    } else {
        int one = 1;
        setsockopt(stack_, fd_, kIpProtoTcp, kTcpNodelay, &one, sizeof one);
        int rc = connect(stack_, fd_, peer);
        for (;;) {
            PollFd p{fd_, events::out, 0};
            poll(stack_, &p, 1);
            if ((rc < 0 && rc != -EINPROGRESS) || (p.revents & (events::err | events::hup))) {
                std::printf("quasi_guards_client: FAIL: TCP connect\n");
                return false;
            }
            if (p.revents & events::out) break;
            if (out_of_time("connect")) return false;
            pump(5 * kMillisecond);
        }
        last_una_ = stack_.descriptors().tcp(fd_)->snd_una;
    }
    SpecOptions spec;
    // TCP: a declared unit is cut into segments of the frozen MSS (re-cut when it
    // drops); UDP: any length (a declared 1400 could not be specialized again once the
    // path MTU is 1000).
    if (tcp) spec.message_size = kTcpAdu;
    spec.on_violation =
        o_.policy == "reinforce" ? ViolationPolicy::reinforce : ViolationPolicy::fallback_and_respecialize;
    auto h = specialize_send(stack_, fd_, spec);
    if (!h) {
        std::printf("quasi_guards_client: FAIL: specialize_send: %s\n", h.error().message.c_str());
        return false;
    }
    h_ = std::move(*h);
    std::printf("quasi_guards_client: %s handle ready (%zu code bytes, %.2f ms), policy %s\n", o_.proto.c_str(),
                h_.info().code_bytes, h_.info().compile_ms, o_.policy.c_str());
    return true;
}

bool Client::apply(size_t k) {
    const Options& o = o_;
    switch (k) {
        case 0: return stack_.add_route(network(o.peer, 28), 28, o.gw0b) == 0;  // longest prefix wins: one update
        case 1: {  // a failover: the new MAC announces the address, then the old one goes down
            const uint64_t generation = stack_.interface(0)->arp().generation();
            std::vector<uint8_t> f = gratuitous_arp(arp_dev_.mac(), o.gw0b);
            return arp_dev_.send(f.data(), f.size()) &&
                   take_now(0, [&] { return stack_.interface(0)->arp().generation() != generation; }) &&
                   old_gw_dev_.set_down();
        }
        case 2: return stack_.add_route(o.peer, 32, o.gw1) == 0;
        case 3: {
            Quoted q;
            if (o.proto == "tcp") {
                TcpSocket& s = *stack_.descriptors().tcp(fd_);
                q = Quoted{s.local_addr, o.peer, uint8_t(IpProtocol::tcp), {}};
                store_be16(q.transport.data(), s.local_port);
                store_be16(q.transport.data() + 2, s.remote_port);
                store_be32(q.transport.data() + 4, s.snd_una);  // in flight (RFC 5927)
            } else {
                q = Quoted{stack_.source_address_for(o.peer), o.peer, uint8_t(IpProtocol::udp), {}};
                store_be16(q.transport.data(), 6000);
                store_be16(q.transport.data() + 2, static_cast<uint16_t>(o.port));
            }
            std::vector<uint8_t> f = icmp_frag_needed(stack_.interface(1)->mac(), icmp_dev_.mac(), o.gw1, o.ip1, q,
                                                      static_cast<uint16_t>(o.pmtu));
            const uint64_t errors = stack_.stats()[Counter::icmp_errors_rx];
            // Before tap0's ACKs can move SND.UNA past the quoted sequence number (RFC
            // 5927: the report would be disbelieved).
            return icmp_dev_.send(f.data(), f.size()) &&
                   take_now(1, [&] { return stack_.stats()[Counter::icmp_errors_rx] != errors; });
        }
        case 4: stack_.interface(1)->mtu.guarded_write(static_cast<uint16_t>(o.iface_mtu)); return true;
    }
    return false;
}

// Notes when the handle saw the last change (`before`: its counters before the
// event that showed it) and when new code was plugged after it.
void Client::observe(const SendHandleInfo& now, const SendHandleInfo& before) {
    if (changes_ == 0) return;
    ChangeRecord& r = rec_[changes_ - 1];
    const ViolationKind kind = kChangeKinds[changes_ - 1];
    if (!r.violated && now.guards[kind] > r.before.guards[kind]) {
        r.violated = true;
        r.at_violation = before;
    }
    if (r.violated && !r.replugged && now.guards.replugs > r.at_violation.guards.replugs) {
        r.replugged = true;
        r.at_replug = before;  // the send that plugged it ran the new code
    }
    r.after = now;
}

// After each send: a violation the send itself found (an ARP generation, a guard
// word) started its window before it.
void Client::after_send() {
    observe(h_.info(), pre_send_);
}

// Reads tap `index` at once, until `done` (the frame the kernel was just handed
// arrived and was taken in): the stack sees the change before the next send. The
// kernel queues the frame on the tap as the packet socket's send returns; a few
// tries cover a busy qdisc.
template <class Done>
bool Client::take_now(size_t index, Done done) {
    PacketPtr frames[16];
    for (int tries = 0; tries < 100 && !done(); ++tries) {
        size_t n = taps_[index]->rx_burst(frames);
        for (size_t i = 0; i < n; ++i) stack_.ethernet_input(*stack_.interface(index), std::move(frames[i]));
        if (n == 0) sleep_us(100);
    }
    return done();
}

// Change k + 1 at the (k + 1)-th sixth of the stream, once change k's new code has
// run a few sends (or 3 s after the change: a re-specialization that cannot finish
// must not stop the test).
void Client::maybe_change(uint64_t offset) {
    const SendHandleInfo now = h_.info();
    observe(now, now);  // seen between sends (a frame the stack took in, the change itself)
    pre_send_ = now;
    if (changes_ == kChanges || offset < total_ * (changes_ + 1) / (kChanges + 1)) return;
    if (changes_ > 0) {
        ChangeRecord& last = rec_[changes_ - 1];
        const bool settled = last.replugged && now.specialized_sends >= last.at_replug.specialized_sends + 16;
        if (!settled && clock_.now() - last.time < 3 * kSecond) return;
        if (!last.replugged) last.at_replug = now;
    }
    ChangeRecord& r = rec_[changes_];
    r.at = offset;
    r.time = clock_.now();
    r.before = r.at_violation = r.after = now;
    r.made = apply(changes_);
    if (!r.made) std::printf("quasi_guards_client: change %s could not be made\n", kChangeNames[changes_]);
    ++changes_;
}

// TCP: bytes the kernel acknowledged; the longest wait for more, per change.
void Client::track() {
    if (o_.proto != "tcp") return;
    const TcpSocket* s = stack_.descriptors().tcp(fd_);
    if (!s || s->snd_una == last_una_) return;
    const TimeNs now = clock_.now();
    if (changes_ > 0) rec_[changes_ - 1].longest_gap = std::max(rec_[changes_ - 1].longest_gap, now - last_advance_);
    last_una_ = s->snd_una;
    last_advance_ = now;
}

// In the stream's last eighth with the last change's new code not yet run: one unit
// per 2 ms round, so the stream cannot end before the re-specialization lands (on a
// quiet machine 64 MiB took 1.1 s and once outran the compile after the MTU change:
// 0 specialized sends after it). Bounded as the changes are: 3 s after the change.
bool Client::hold_for_last_change(uint64_t offset) const {
    if (changes_ != kChanges || offset < total_ - total_ / 8) return false;
    const ChangeRecord& last = rec_[kChanges - 1];
    const bool ran = last.replugged && h_.info().specialized_sends > last.at_replug.specialized_sends;
    return !ran && clock_.now() - last.time < 3 * kSecond;
}

bool Client::send_tcp() {
    uint8_t unit[kTcpAdu];
    size_t unit_len = 0, unit_off = 0;
    total_ = o_.bytes;
    last_advance_ = clock_.now();
    while (sent_ < total_) {
        if (out_of_time("the TCP stream")) return false;
        size_t work = stack_.poll();
        track();
        bool held = false;
        for (int i = 0; i < 64 && sent_ < total_; ++i) {
            maybe_change(sent_);
            if (i > 0 && (held = hold_for_last_change(sent_))) break;
            if (unit_off == unit_len) {
                unit_len = static_cast<size_t>(std::min<uint64_t>(kTcpAdu, total_ - sent_));
                unit_off = 0;
                app::stream_bytes(kStreamSeed, sent_, unit, unit_len);
            }
            if (unit_off == 0 && unit_len == kTcpAdu && !room_for_unit()) break;
            ssize_t n = h_.send(unit + unit_off, unit_len - unit_off);
            after_send();
            if (n == -EAGAIN || n == 0) break;
            if (n < 0) {
                std::printf("quasi_guards_client: FAIL: send at %llu: %s\n", (unsigned long long)sent_,
                            std::strerror(int(-n)));
                return false;
            }
            sha_.update(unit + unit_off, size_t(n));
            if (unit_off + size_t(n) < unit_len) ++partial_;
            unit_off += size_t(n);
            sent_ += uint64_t(n);
            ++work;
        }
        if (work == 0 || held) pump(2 * kMillisecond);
    }
    return finish_tcp();
}

// The application sends a unit only when the windows take it whole and nothing is
// queued (context/tcp_frozen_send.hpp message_goes_straight): otherwise the handle's
// code declines every unit while a backlog lasts, guards or not, and the counts
// would say nothing about the guards.
bool Client::room_for_unit() const {
    const TcpSocket& s = *stack_.descriptors().tcp(fd_);
    const uint32_t in_flight = s.snd_nxt - s.snd_una;
    if (in_flight != s.send_buffer.size() || s.snd_nxt != s.snd_max) return false;
    const uint32_t cwnd = s.cc.cwnd();
    const uint32_t window_edge = s.snd_una + s.snd_wnd;
    return cwnd >= in_flight + kTcpAdu && seq_ge(window_edge, s.snd_nxt + kTcpAdu);
}

// Half-closes and waits for the peer's FIN: it comes once the peer has read every byte.
bool Client::finish_tcp() {
    if (shutdown(stack_, fd_, kShutWr) < 0) return false;
    uint8_t buf[2048];
    for (;;) {
        track();
        maybe_change(sent_);
        ssize_t n = recv(stack_, fd_, buf, sizeof buf);
        if (n == 0) return true;
        if (n != -EAGAIN) {
            std::printf("quasi_guards_client: FAIL: waiting for the peer's FIN: %zd\n", n);
            return false;
        }
        if (out_of_time("the close")) return false;
        pump(2 * kMillisecond);
    }
}

bool Client::send_udp() {
    std::vector<uint8_t> d(o_.udp_size);
    total_ = o_.bytes / o_.udp_size;
    uint64_t refused = 0;
    while (sent_ < total_) {
        if (out_of_time("the UDP stream")) return false;
        const uint64_t burst_start = sent_;
        for (uint64_t burst_end = std::min(total_, sent_ + 200); sent_ < burst_end;) {
            maybe_change(sent_);
            if (sent_ > burst_start && hold_for_last_change(sent_)) break;
            for (size_t i = 0; i < 8; ++i) d[i] = static_cast<uint8_t>(sent_ >> (8 * i));
            d[8] = static_cast<uint8_t>(changes_);
            d[9] = 0;
            for (size_t i = 10; i < d.size(); ++i) d[i] = static_cast<uint8_t>(sent_ * 131 + i);
            ssize_t rc = h_.send(d.data(), d.size());
            after_send();
            if (rc != ssize_t(d.size())) {  // a full transmit path: let the stack drain, retry
                if (++refused > 100000) {
                    std::printf("quasi_guards_client: FAIL: UDP send keeps failing: %zd\n", rc);
                    return false;
                }
                break;
            }
            sha_.update(d.data(), d.size());
            ++sent_;
        }
        stack_.poll();
        sleep_us(2000);
    }
    maybe_change(sent_);
    return true;
}

bool Client::run() {
    if (!arp_dev_.ok() || !old_gw_dev_.ok() || !icmp_dev_.ok()) {
        std::printf("quasi_guards_client: FAIL: cannot open the kernel devices %s, %s\n", o_.arp_dev.c_str(),
                    o_.icmp_dev.c_str());
        return false;
    }
    if (stack_.add_route(network(o_.peer, 24), 24, o_.gw0) < 0) return false;
    if (!resolve(0, o_.gw0) || !resolve(0, o_.gw0b) || !resolve(1, o_.gw1) || !open_stream()) return false;
    const TimeNs t0 = clock_.now();
    const bool ok = o_.proto == "tcp" ? send_tcp() : send_udp();
    stream_time_ = clock_.now() - t0;
    return ok;
}

bool Client::report(bool ok) {
    const SendHandleInfo end = h_.info();
    if (changes_ > 0 && !rec_[changes_ - 1].replugged) rec_[changes_ - 1].at_replug = end;
    if (changes_ > 0) rec_[changes_ - 1].after = end;
    for (size_t k = 0; k < changes_; ++k) {
        const ChangeRecord& r = rec_[k];
        const GuardStats &b = r.before.guards, &a = r.after.guards;
        std::printf(
            "quasi_guards_client: change=%s made=%d at=%llu kind_violations=%llu reinforce_policy=%llu "
            "window_specialized=%llu window_generic=%llu after_specialized=%llu reinforced_frames=%llu recut=%llu "
            "fragments=%llu translations=%llu replugged=%d gap_us=%.0f\n",
            kChangeNames[k], r.made ? 1 : 0, (unsigned long long)r.at,
            (unsigned long long)(a[kChangeKinds[k]] - b[kChangeKinds[k]]),
            (unsigned long long)(a[ViolationPolicy::reinforce] - b[ViolationPolicy::reinforce]),
            (unsigned long long)(r.at_replug.specialized_sends - r.at_violation.specialized_sends),
            (unsigned long long)(r.at_replug.generic_sends - r.at_violation.generic_sends),
            (unsigned long long)(r.after.specialized_sends - r.at_replug.specialized_sends),
            (unsigned long long)(a.reinforced_frames - b.reinforced_frames),
            (unsigned long long)(a.recut_segments - b.recut_segments), (unsigned long long)(a.fragments - b.fragments),
            (unsigned long long)(a.translations - b.translations), r.replugged ? 1 : 0,
            double(r.longest_gap) / double(kMicrosecond));
    }
    std::string kinds;
    for (size_t k = 0; k < kViolationKindCount; ++k)
        if (end.guards.violations[k])
            kinds += std::string(kinds.empty() ? "" : ",") + name(ViolationKind(k)) + ":" +
                     std::to_string(end.guards.violations[k]);
    ok = ok && sent_ == total_ && changes_ == kChanges;
    std::printf(
        "quasi_guards_client: %s: proto=%s policy=%s sent=%llu sha256_sent=%s specialized=%llu generic=%llu "
        "partial=%llu changes=%zu violations=%llu by_kind=%s reinforced_frames=%llu replugs=%llu last_error=%d "
        "stream_s=%.3f\n",
        ok ? "PASS" : "FAIL", o_.proto.c_str(), o_.policy.c_str(), (unsigned long long)sent_, sha_.hex().c_str(),
        (unsigned long long)end.specialized_sends, (unsigned long long)end.generic_sends, (unsigned long long)partial_,
        changes_, (unsigned long long)end.guards.total_violations(), kinds.c_str(),
        (unsigned long long)end.guards.reinforced_frames, (unsigned long long)end.guards.replugs, end.last_error,
        double(stream_time_) / double(kSecond));
    return ok;
}

std::unique_ptr<TapNetif> attach(const char* name, Stack& stack, uint8_t last_mac_byte, Ipv4Addr ip, uint8_t len,
                                 const Clock& clock) {
    auto tap = app::open_tap_and_wait("quasi_guards_client", name, stack.pool(),
                                      MacAddr{{0x02, 0, 0, 0, 0, last_mac_byte}}, 5000, clock);
    if (tap && stack.add_interface(*tap, ip, len) < 0) tap.reset();
    return tap;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (int rc = parse_options(argc, argv, o); rc >= 0) return rc;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    prewarm_specializer();
    SteadyClock clock;
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 8192;
    config.tcp.send_buffer = 1 << 20;
    Stack stack(config, clock);
    auto tap0 = attach(o.tap0.c_str(), stack, 1, o.ip0, o.len0, clock);
    auto tap1 = attach(o.tap1.c_str(), stack, 2, o.ip1, o.len1, clock);
    if (!tap0 || !tap1) return 2;
    app::install_stop_handlers();
    bool ok;
    {
        Client client(o, stack, *tap0, *tap1, clock);
        ok = client.report(client.run());
        client.release();
    }
    const TimeNs linger_until = clock.now() + 200 * kMillisecond;  // the last ACK goes out
    while (clock.now() < linger_until && !app::stop_requested())
        if (stack.poll() == 0) sleep_us(1000);
    app::print_stats(stdout, "stack statistics:", stack.stats());
    return ok ? 0 : 1;
}
