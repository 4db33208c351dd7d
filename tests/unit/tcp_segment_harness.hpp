// Crafted-segment tests of the TCP state machine (lwIP test/unit/tcp/tcp_helper.c
// style): a real Stack on MemLink endpoint b (198.18.0.2/24, ManualClock, fixed seed)
// and the test as "the peer" on endpoint a (198.18.0.1). The peer builds every
// Ethernet+IPv4+TCP frame by hand (Seg: right by default, one knob per way to break
// it) and reads the stack's answers back through the wire views (Rx), answering the
// stack's ARP requests itself. Nothing but the socket API and crafted frames drives
// the stack; internal socket fields are only read, to assert on state.
#pragma once

#include "wire_harness.hpp"

#include "stack/tcp_seq.hpp"
#include "stack/wire/tcp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <initializer_list>
#include <optional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

namespace quasi::test {

// Packet buffers in the harness's pool (2 KiB each). The host keeps 4096; the board
// build (ports/arm/mps2-an385/CMakeLists.txt) defines QUASI_TEST_HARNESS_BUFFERS
// smaller, to fit its 4 MB of RAM (the tests all pass with as few as 64).
#ifndef QUASI_TEST_HARNESS_BUFFERS
#define QUASI_TEST_HARNESS_BUFFERS 4096
#endif
constexpr size_t kHarnessBuffers = QUASI_TEST_HARNESS_BUFFERS;

constexpr uint16_t kServerPort = 80;    // where the stack listens
constexpr uint16_t kPeerPort = 40000;   // the peer's port (its listener for active opens)
constexpr uint32_t kPeerIss = 0x10000000;

constexpr uint8_t kFin = tcp_flags::fin;
constexpr uint8_t kSyn = tcp_flags::syn;
constexpr uint8_t kRst = tcp_flags::rst;
constexpr uint8_t kPsh = tcp_flags::psh;
constexpr uint8_t kAck = tcp_flags::ack;
constexpr uint8_t kUrg = tcp_flags::urg;

inline std::string flag_names(uint8_t f) {
    std::string s;
    const char* names[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    for (int i = 0; i < 8; ++i) {
        if (!(f & (1 << i))) continue;
        if (!s.empty()) s += '|';
        s += names[i];  // in place: `"|" + std::string` makes GCC 12 -O3 warn falsely (-Wrestrict)
    }
    return s.empty() ? "none" : s;
}

// ---------------------------------------------------------------- what the peer sends

// One TCP segment from the peer, in an Ethernet+IPv4 frame with correct checksums.
struct Seg {
    uint16_t sport = kPeerPort;
    uint16_t dport = kServerPort;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = kAck;
    uint16_t window = 65535;
    uint16_t urgent = 0;
    TcpOptions options;
    Bytes payload;
    std::optional<Bytes> raw_options;   // the option bytes as they go on the wire (replaces options)
    std::optional<uint8_t> data_offset;  // in 32-bit words; default: from the options
    bool bad_checksum = false;
    Ipv4Addr src = kPeer;
    Ipv4Addr dst = kUs;

    Bytes tcp_bytes() const {
        Bytes opts;
        if (raw_options) {
            opts = *raw_options;
        } else {
            opts.resize(options.emitted_len());
            options.emit(opts.data());
        }
        // Sized once, then filled: header, options, payload (appending to the 20-byte
        // header makes GCC 12 at -O3 warn falsely, -Warray-bounds, on the reallocation).
        Bytes t(kTcpMinHeaderLen + opts.size() + payload.size());
        std::copy(opts.begin(), opts.end(), t.begin() + kTcpMinHeaderLen);
        std::copy(payload.begin(), payload.end(), t.begin() + kTcpMinHeaderLen + static_cast<ptrdiff_t>(opts.size()));
        store_be16(t.data(), sport);
        store_be16(t.data() + 2, dport);
        store_be32(t.data() + 4, seq);
        store_be32(t.data() + 8, ack);
        t[12] = static_cast<uint8_t>(data_offset.value_or(static_cast<uint8_t>((kTcpMinHeaderLen + opts.size()) / 4)) << 4);
        t[13] = flags;
        store_be16(t.data() + 14, window);
        store_be16(t.data() + 18, urgent);
        ChecksumAccumulator acc;
        add_pseudo_header(acc, src, dst, uint8_t(IpProtocol::tcp), static_cast<uint16_t>(t.size()));
        acc.add(t.data(), t.size());
        uint16_t c = acc.finish();
        if (bad_checksum) c = static_cast<uint16_t>(c ^ 0x5A5A);
        store_be16(t.data() + 16, c);
        return t;
    }

    Bytes frame() const {
        Frame f;
        f.protocol = uint8_t(IpProtocol::tcp);
        f.src = src;
        f.dst = dst;
        f.df = true;
        f.l4 = tcp_bytes();
        return f.build();
    }
};

// ---------------------------------------------------------------- what the stack sent

struct Rx {
    Ipv4Addr src, dst;
    TcpRepr h;
    Bytes payload;
    TimeNs at = 0;       // the virtual time the segment left the stack
    size_t ip_len = 0;   // total length of its IPv4 datagram
    uint16_t ip_ident = 0;
    bool has(uint8_t f) const { return (h.flags & f) != 0; }
    uint32_t seg_len() const {
        return static_cast<uint32_t>(payload.size()) + (has(kSyn) ? 1 : 0) + (has(kFin) ? 1 : 0);
    }
};

inline std::string describe(const Rx& r) {
    return flag_names(r.h.flags) + " seq=" + std::to_string(r.h.seq) + " ack=" + std::to_string(r.h.ack) +
           " win=" + std::to_string(r.h.window) + " len=" + std::to_string(r.payload.size());
}

// ---------------------------------------------------------------- a connection, as the peer sees it

// The peer's SYN options and initial values.
constexpr int kNotOffered = -1;

struct PeerOptions {
    int mss = 1460;              // kNotOffered: no MSS option
    int wscale = kNotOffered;    // offer window scaling with this shift
    bool sack = false;
    bool ts = false;
    uint16_t window = 65535;  // the window field the peer sends
    uint32_t iss = kPeerIss;
    uint16_t port = kPeerPort;
};

// How the stack's listener is set up (establish_passive).
struct ListenOptions {
    uint16_t port = kServerPort;
    int backlog = 16;
    int rcvbuf = 0;  // SO_RCVBUF before listen; 0 leaves the default
    int sndbuf = 0;
};

struct Conn {
    int fd = -1;        // the stack's descriptor for the connection
    int listener = -1;  // the stack's listening descriptor (passive opens)
    PeerOptions opts;
    uint16_t stack_port = kServerPort;
    uint32_t stack_iss = 0;
    uint32_t snd_nxt = 0;  // the peer's next sequence number (the stack's RCV.NXT when in order)
    uint32_t rcv_nxt = 0;  // what the peer has received from the stack, i.e. what it ACKs
    uint16_t window = 65535;
    bool ts = false;          // timestamps negotiated
    uint32_t ts_ecr = 0;      // the stack's latest TSval (the peer echoes it)
    uint32_t ts_offset = 5000;  // the peer's TSval clock is now in ms plus this
    TcpTuple tuple() const { return TcpTuple{kUs, stack_port, kPeer, opts.port}; }
};

// ---------------------------------------------------------------- the harness

inline Stack::Config tcp_stack_config() {
    Stack::Config c;
    c.seed = 4242;
    return c;
}

class TcpHarness {
public:
    explicit TcpHarness(const Stack::Config& config = tcp_stack_config(), uint16_t mtu = 1500,
                        TimeNs start = kSecond)
        : clock(start), link(MemLink::Config{.mtu = mtu}), stack(config, clock, &pool) {
        EXPECT_EQ(stack.add_interface(link.b(), kUs, 24), 0);
        // The stack learns the peer's MAC from its ARP request, as a neighbour would.
        inject(arp(ArpOp::request, kTestMac, kPeer, kUs));
        settle();
        other.clear();
    }
    TcpHarness(const TcpHarness&) = delete;
    TcpHarness& operator=(const TcpHarness&) = delete;

    // ---- raw frames ----

    void inject(const Bytes& frame) {
        PacketPtr p = pool.alloc();
        ASSERT_NE(p, nullptr);
        std::copy(frame.begin(), frame.end(), p->append(frame.size()));
        PacketPtr one[1] = {std::move(p)};
        ASSERT_EQ(link.a().tx_burst(one), 1u) << "frame of " << frame.size() << " bytes refused by the link";
    }

    // Sends one segment and lets the stack process it (and anything it triggers).
    void send(const Seg& s) {
        inject(s.frame());
        settle();
    }

    // Polls the stack until it is idle, collecting what it sends: TCP segments into
    // `rx`, anything else into `other`; ARP requests are answered.
    void settle() {
        for (int round = 0; round < 100000; ++round) {
            size_t work = stack.poll();
            size_t seen = collect();
            if (work == 0 && seen == 0 && link.b().rx_pending() == 0) return;
        }
        ADD_FAILURE() << "the stack never went idle";
    }

    // Advances the virtual clock by `duration` in steps, settling after each, so every
    // segment's Rx::at is accurate to one step.
    void advance(TimeNs duration, TimeNs step = kMillisecond) {
        for (TimeNs t = 0; t < duration; t += step) {
            clock.advance(step < duration - t ? step : duration - t);
            settle();
        }
    }

    // Advances until the stack sends a TCP segment (or `limit` passes); returns it.
    std::optional<Rx> wait_segment(TimeNs limit, TimeNs step = kMillisecond) {
        settle();
        for (TimeNs t = 0; rx.empty() && t < limit; t += step) {
            clock.advance(step);
            settle();
        }
        if (rx.empty()) return std::nullopt;
        Rx r = rx.front();
        rx.pop_front();
        return r;
    }

    // The next segment the stack sent (settling first), if any.
    std::optional<Rx> next() {
        settle();
        if (rx.empty()) return std::nullopt;
        Rx r = rx.front();
        rx.pop_front();
        return r;
    }

    // The next segment must have exactly `flags`, `seq` and `ack` (ack checked only
    // when the ACK flag is set).
    Rx expect_segment(uint8_t flags, std::optional<uint32_t> seq, uint32_t ack,
                      std::source_location loc = std::source_location::current()) {
        ::testing::ScopedTrace trace(loc.file_name(), static_cast<int>(loc.line()), "expect_segment");
        std::optional<Rx> r = next();
        if (!r) {
            ADD_FAILURE() << "expected " << flag_names(flags) << " seq=" << (seq ? std::to_string(*seq) : "any")
                          << " ack=" << ack
                          << ", the stack sent nothing; drops: " << drops_of(stack.stats());
            return Rx{};
        }
        EXPECT_EQ(flag_names(r->h.flags), flag_names(flags)) << describe(*r);
        if (seq) {
            EXPECT_EQ(r->h.seq, *seq) << describe(*r);
        }
        if (flags & kAck) {
            EXPECT_EQ(r->h.ack, ack) << describe(*r);
        }
        return *r;
    }
    // Same, and the peer's view of the connection takes the stack's timestamp.
    Rx expect_segment(Conn& c, uint8_t flags, std::optional<uint32_t> seq, uint32_t ack,
                      std::source_location loc = std::source_location::current()) {
        Rx r = expect_segment(flags, seq, ack, loc);
        if (r.h.options.has_timestamps) c.ts_ecr = r.h.options.ts_val;
        return r;
    }
    // A pure ACK for the connection's current state: SEQ = what the peer has ACKed
    // (the stack's SND.MAX as far as it knows), ACK = the peer's next sequence number.
    Rx expect_ack(Conn& c, std::source_location loc = std::source_location::current()) {
        return expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt, loc);
    }

    void expect_nothing(std::source_location loc = std::source_location::current()) {
        ::testing::ScopedTrace trace(loc.file_name(), static_cast<int>(loc.line()), "expect_nothing");
        settle();
        for (const Rx& r : rx) ADD_FAILURE() << "unexpected segment: " << describe(r);
        rx.clear();
    }

    // Every drop since `before` is listed (reason, count): nothing else was dropped.
    void expect_drops(const Stats& before, std::initializer_list<std::pair<Drop, uint64_t>> expected,
                      std::source_location loc = std::source_location::current()) {
        ::testing::ScopedTrace trace(loc.file_name(), static_cast<int>(loc.line()), "expect_drops");
        uint64_t sum = 0;
        for (auto [reason, n] : expected) {
            EXPECT_EQ(stack.stats()[reason] - before[reason], n) << name(reason) << "; drops: " << drops_of(stack.stats());
            sum += n;
        }
        EXPECT_EQ(stack.stats().total_drops() - before.total_drops(), sum) << "drops: " << drops_of(stack.stats());
    }
    uint64_t delta(const Stats& before, Counter c) const { return stack.stats()[c] - before[c]; }

    // ---- the peer's segments for a connection ----

    // A segment at the peer's current SEQ/ACK, with its timestamp when negotiated.
    Seg seg(const Conn& c, uint8_t flags = kAck, Bytes payload = {}) const {
        Seg s;
        s.sport = c.opts.port;
        s.dport = c.stack_port;
        s.seq = c.snd_nxt;
        s.ack = c.rcv_nxt;
        s.flags = flags;
        s.window = c.window;
        s.payload = std::move(payload);
        if (c.ts) {
            s.options.has_timestamps = true;
            s.options.ts_val = peer_tsval(c);
            s.options.ts_ecr = c.ts_ecr;
        }
        return s;
    }
    uint32_t peer_tsval(const Conn& c) const { return static_cast<uint32_t>(clock.now() / kMillisecond) + c.ts_offset; }

    // Sends data in order and advances the peer's SEQ.
    void send_data(Conn& c, const Bytes& data, uint8_t extra_flags = kPsh) {
        send(seg(c, kAck | extra_flags, data));
        c.snd_nxt += static_cast<uint32_t>(data.size());
    }
    // ACKs everything the stack sent so far (`upto` bytes of SEQ space beyond rcv_nxt).
    void ack(Conn& c, uint32_t upto) {
        c.rcv_nxt += upto;
        send(seg(c));
    }

    // The peer's SYN (with the options in `o`) to the stack's `port`.
    Seg syn(const PeerOptions& o, uint16_t port = kServerPort) const {
        Seg s;
        s.sport = o.port;
        s.dport = port;
        s.seq = o.iss;
        s.flags = kSyn;
        s.window = o.window;
        fill_syn_options(o, s.options, 0);
        return s;
    }
    void fill_syn_options(const PeerOptions& o, TcpOptions& opt, uint32_t ts_ecr) const {
        opt.has_mss = o.mss != kNotOffered;
        opt.mss = static_cast<uint16_t>(opt.has_mss ? o.mss : 0);
        opt.has_window_scale = o.wscale != kNotOffered;
        opt.window_scale = static_cast<uint8_t>(opt.has_window_scale ? o.wscale : 0);
        opt.sack_permitted = o.sack;
        opt.has_timestamps = o.ts;
        opt.ts_val = static_cast<uint32_t>(clock.now() / kMillisecond) + 5000;
        opt.ts_ecr = ts_ecr;
    }

    // A listening socket on `lo.port`.
    int listen_on(const ListenOptions& lo = {}) {
        int l = quasi::socket(stack, kAfInet, kSockStream);
        EXPECT_GE(l, 0);
        if (lo.rcvbuf) {
            EXPECT_EQ(setsockopt(stack, l, kSolSocket, kSoRcvbuf, &lo.rcvbuf, sizeof lo.rcvbuf), 0);
        }
        if (lo.sndbuf) {
            EXPECT_EQ(setsockopt(stack, l, kSolSocket, kSoSndbuf, &lo.sndbuf, sizeof lo.sndbuf), 0);
        }
        EXPECT_EQ(quasi::bind(stack, l, SockAddr{Ipv4Addr{}, lo.port}), 0);
        EXPECT_EQ(quasi::listen(stack, l, lo.backlog), 0);
        return l;
    }

    // Closes a connection from the stack's side into TIME-WAIT: our FIN out, the
    // peer's FIN in, our ACK out.
    void close_into_time_wait(Conn& c) {
        ASSERT_EQ(quasi::close(stack, c.fd), 0);
        fins_into_time_wait(c);
    }
    // After the user closed or shut down writing: our FIN out, the peer's FIN in, our
    // ACK out, TIME-WAIT.
    void fins_into_time_wait(Conn& c) {
        expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
        c.rcv_nxt += 1;
        send(seg(c, kFin | kAck));
        c.snd_nxt += 1;
        expect_ack(c);
        ASSERT_EQ(state(c), TcpState::time_wait);
    }

    // LISTEN -> SYN-RECEIVED -> ESTABLISHED: SYN in, SYN-ACK out, ACK in (after
    // `rtt` of virtual time), accept. `listener` < 0 makes a new listener.
    Conn establish_passive(const PeerOptions& o = {}, const ListenOptions& lo = {}, int listener = -1,
                           TimeNs rtt = 10 * kMillisecond,
                           std::source_location loc = std::source_location::current()) {
        ::testing::ScopedTrace trace(loc.file_name(), static_cast<int>(loc.line()), "establish_passive");
        Conn c;
        c.opts = o;
        c.stack_port = lo.port;
        c.listener = listener >= 0 ? listener : listen_on(lo);
        send(syn(o, lo.port));
        Rx synack = expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);
        c.stack_iss = synack.h.seq;
        c.snd_nxt = o.iss + 1;
        c.rcv_nxt = c.stack_iss + 1;
        c.window = o.window;
        c.ts = o.ts && synack.h.options.has_timestamps;
        if (c.ts) c.ts_ecr = synack.h.options.ts_val;
        advance(rtt);
        send(seg(c));
        SockAddr peer;
        c.fd = quasi::accept(stack, c.listener, &peer);
        EXPECT_GE(c.fd, 0) << drops_of(stack.stats());
        EXPECT_EQ(peer.addr, kPeer);
        EXPECT_EQ(peer.port, o.port);
        expect_nothing();
        return c;
    }

    // CLOSED -> SYN-SENT -> ESTABLISHED: connect (SO_RCVBUF `rcvbuf` when not 0), SYN
    // out, SYN-ACK in (after `rtt`), ACK out.
    Conn establish_active(const PeerOptions& o = {}, TimeNs rtt = 10 * kMillisecond, int rcvbuf = 0,
                          std::source_location loc = std::source_location::current()) {
        ::testing::ScopedTrace trace(loc.file_name(), static_cast<int>(loc.line()), "establish_active");
        Conn c;
        c.opts = o;
        c.fd = quasi::socket(stack, kAfInet, kSockStream);
        EXPECT_GE(c.fd, 0);
        if (rcvbuf) {
            EXPECT_EQ(setsockopt(stack, c.fd, kSolSocket, kSoRcvbuf, &rcvbuf, sizeof rcvbuf), 0);
        }
        EXPECT_EQ(quasi::connect(stack, c.fd, SockAddr{kPeer, o.port}), -EINPROGRESS);
        Rx s = expect_segment(kSyn, std::nullopt, 0);
        EXPECT_EQ(s.h.dst_port, o.port);
        c.stack_port = s.h.src_port;
        c.stack_iss = s.h.seq;
        c.rcv_nxt = c.stack_iss + 1;
        c.snd_nxt = o.iss;
        c.window = o.window;
        advance(rtt);
        Seg sa = seg(c, kSyn | kAck);
        sa.options = {};
        fill_syn_options(o, sa.options, s.h.options.ts_val);
        send(sa);
        c.snd_nxt = o.iss + 1;
        c.ts = o.ts && s.h.options.has_timestamps;
        expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
        return c;
    }

    // ---- looking at the stack ----

    TcpSocket* socket_of(const Conn& c) { return stack.tcp().find(c.tuple()); }
    // The connection's state; TIME-WAIT while a record holds the 4-tuple, CLOSED once
    // the stack has let go of it.
    TcpState state(const Conn& c) {
        TcpSocket* s = socket_of(c);
        if (!s && stack.tcp().time_wait().find(c.tuple())) return TcpState::time_wait;
        return s ? s->state : TcpState::closed;
    }
    int so_error(int fd) {
        int err = 0;
        size_t len = sizeof err;
        EXPECT_EQ(getsockopt(stack, fd, kSolSocket, kSoError, &err, &len), 0);
        return err;
    }
    // Everything the application can read right now.
    Bytes read_all(int fd) {
        Bytes out;
        uint8_t buf[4096];
        ssize_t n;
        while ((n = quasi::recv(stack, fd, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
        settle();
        return out;
    }
    const Stats& stats() const { return stack.stats(); }

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = kHarnessBuffers}};
    MemLink link;
    Stack stack;
    std::deque<Rx> rx;          // TCP segments the stack sent, not yet looked at
    std::vector<Bytes> other;   // other frames it sent (ICMP, ...), ARP answered aside

private:
    size_t collect() {
        size_t n_total = 0;
        PacketPtr burst[kBurstSize];
        while (size_t n = link.a().rx_burst(burst)) {
            n_total += n;
            for (size_t i = 0; i < n; ++i) {
                Bytes f(burst[i]->chain_length());
                burst[i]->copy_out(0, f.data(), f.size());
                burst[i].reset();
                take(std::move(f));
            }
        }
        return n_total;
    }

    void take(Bytes f) {
        EthernetView eth{f};
        if (eth.check()) return other.push_back(std::move(f));
        if (eth.ethertype() == uint16_t(EtherType::arp)) {
            if (!ArpView{eth.payload()}.check()) {
                ArpRepr a = ArpRepr::parse(ArpView{eth.payload()});
                if (a.op == ArpOp::request && a.target_ip != kUs && a.sender_ip != a.target_ip)
                    inject(arp(ArpOp::reply, kTestMac, a.target_ip, a.sender_ip, kTestMac, eth.src()));
            }
            return;  // announcements and the like
        }
        if (eth.ethertype() != uint16_t(EtherType::ipv4)) return other.push_back(std::move(f));
        Ipv4View ip{eth.payload()};
        if (ip.check() || ip.protocol() != uint8_t(IpProtocol::tcp)) return other.push_back(std::move(f));
        auto segment = ip.payload();
        TcpView tv{segment};
        EXPECT_FALSE(tv.check()) << "the stack sent a malformed TCP header";
        if (tv.check()) return;
        EXPECT_TRUE(tv.checksum_ok(ip.src(), ip.dst())) << "the stack sent a bad TCP checksum";
        Rx r;
        r.src = ip.src();
        r.dst = ip.dst();
        r.at = clock.now();
        r.ip_len = ip.total_len();
        r.ip_ident = ip.ident();
        EXPECT_FALSE(TcpRepr::parse(tv, r.h)) << "the stack sent malformed TCP options";
        r.payload.assign(tv.payload().begin(), tv.payload().end());
        rx.push_back(std::move(r));
    }
};

}  // namespace quasi::test
