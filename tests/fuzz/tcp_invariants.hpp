// What tcp_fuzzer checks: the frames the stack sends (check_frame) and the state of
// every TCP socket (check_tcp_layer), after every segment and every clock step.
//
// The socket table is read through TcpTestPeer, the friend TcpLayer declares for
// tests; nothing here writes to the stack.
#pragma once

#include "tcp_records.hpp"

#include "stack/stack.hpp"
#include "stack/tcp.hpp"
#include "stack/tcp_seq.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <vector>

namespace quasi {

// Read-only access to what TcpLayer keeps private.
class TcpTestPeer {
public:
    // Every socket the pool holds, in use or freed and not yet reaped.
    static std::vector<TcpSocket*> sockets(TcpLayer& layer) {
        std::vector<TcpSocket*> all;
        layer.sockets_.for_each([&](TcpSocket& s) { all.push_back(&s); });
        return all;
    }
    static const Timer& time_wait_timer(TcpLayer& layer) { return layer.time_wait_timer_; }
    static bool listed_as_listener(TcpLayer& layer, const TcpSocket& s) {
        for (const TcpSocket& l : layer.listeners_)
            if (&l == &s) return true;
        return false;
    }
};

}  // namespace quasi

namespace quasi::fuzz {

constexpr Ipv4Addr kTcpOurAddress = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr Ipv4Addr kTcpPeerAddress = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr MacAddr kTcpPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};  // MemLink's defaults
constexpr MacAddr kTcpOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};

// Context printed with a violation: the socket or frame being checked.
inline const TcpSocket* g_checked_socket = nullptr;
inline std::span<const uint8_t> g_checked_frame;

inline void print_socket(const TcpSocket& s) {
    std::fprintf(stderr,
                 "tcp_fuzzer: socket %u -> %u, %s, fd %d%s\n"
                 "  iss %u snd_una +%u snd_nxt +%u snd_max +%u snd_wnd %u max_snd_wnd %u cwnd %u\n"
                 "  irs %u rcv_nxt +%u rcv_adv +%u send %zu/%zu receive %zu/%zu ooo %zu sacked %zu\n"
                 "  fin queued %d sent %d (+%u) received %d; timers rtx %d dack %d keep %d tw %d\n",
                 unsigned(s.local_port.get()), unsigned(s.remote_port.get()), name(s.state), s.fd,
                 s.listener ? " (child)" : "", s.iss, s.snd_una - s.iss, s.snd_nxt - s.iss, s.snd_max - s.iss,
                 s.snd_wnd, s.max_snd_wnd, s.cc.cwnd(), s.irs, s.rcv_nxt - s.irs, s.rcv_adv - s.irs,
                 s.send_buffer.size(), s.send_buffer.capacity(), s.receive_buffer.size(), s.receive_buffer.capacity(),
                 s.out_of_order.count(), s.scoreboard.ranges(), s.fin_queued, s.fin_sent, s.fin_seq - s.iss,
                 s.fin_received, s.retransmit_timer.armed(), s.delayed_ack_timer.armed(), s.keepalive_timer.armed(),
                 s.time_wait_timer.armed());
}

// The invariant, where it is written, and a trap: libFuzzer saves the input.
[[noreturn]] inline void tcp_violated(const char* what, const char* file, int line) {
    std::fprintf(stderr, "tcp_fuzzer: invariant violated at %s:%d: %s\n", file, line, what);
    if (g_checked_socket) print_socket(*g_checked_socket);
    if (!g_checked_frame.empty()) {
        std::fprintf(stderr, "tcp_fuzzer: in the frame the stack sent (%zu bytes):", g_checked_frame.size());
        for (size_t i = 0; i < g_checked_frame.size(); ++i)
            std::fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", g_checked_frame[i]);
        std::fprintf(stderr, "\n");
    }
    __builtin_trap();
}
#define TCP_CHECK(cond)                                                      \
    do {                                                                     \
        if (!(cond)) ::quasi::fuzz::tcp_violated(#cond, __FILE__, __LINE__); \
    } while (0)

// A check that a known, reported stack bug violates (README.md, "Reproducers") can
// be skipped by naming it in QUASI_TCP_FUZZ_TOLERATE (comma-separated), so that a
// long run looks past a bug that is not fixed yet. Without it, everything is checked.
inline bool tolerated(const char* check) {
    static const char* list = std::getenv("QUASI_TCP_FUZZ_TOLERATE");
    if (!list) return false;
    const size_t n = std::strlen(check);
    for (const char* p = list; (p = std::strstr(p, check)) != nullptr; p += n) {
        const bool starts = p == list || p[-1] == ',';
        const bool ends = p[n] == '\0' || p[n] == ',';
        if (starts && ends) return true;
    }
    return false;
}

// ---- frames the stack sends ----

// A TCP segment the stack sent, parsed.
struct SentSegment {
    TcpRepr h;
    std::span<const uint8_t> payload;
    bool has(uint8_t f) const { return (h.flags & f) != 0; }
    uint32_t seg_len() const {
        return static_cast<uint32_t>(payload.size()) + (has(tcp_flags::syn) ? 1 : 0) + (has(tcp_flags::fin) ? 1 : 0);
    }
};

// Well-formed, correctly summed, addressed to the peer, with options the stack's own
// parser accepts and a sane flag combination (RFC 9293 3.1, 3.10.7).
inline SentSegment check_tcp_frame(std::span<uint8_t> ip_bytes) {
    Ipv4View ip{ip_bytes};
    TCP_CHECK(!ip.check());
    TCP_CHECK(ip.checksum_ok());
    TCP_CHECK(ip.src() == kTcpOurAddress && ip.dst() == kTcpPeerAddress);
    TCP_CHECK(ip.protocol() == uint8_t(IpProtocol::tcp));
    TCP_CHECK(!ip.is_fragment() && ip.dont_fragment());  // TCP does path MTU discovery
    TCP_CHECK(ip.ttl() != 0 && ip.total_len() <= 1500);
    TcpView tcp{ip.payload()};
    TCP_CHECK(!tcp.check());
    TCP_CHECK(tcp.checksum_ok(ip.src(), ip.dst()));
    SentSegment out;
    TCP_CHECK(!TcpRepr::parse(tcp, out.h));
    out.payload = tcp.payload();
    using namespace tcp_flags;
    const uint8_t f = out.h.flags;
    TCP_CHECK((f & (syn | rst | ack)) != 0);
    TCP_CHECK((f & (syn | fin)) != (syn | fin) && (f & (syn | rst)) != (syn | rst));
    TCP_CHECK((f & (urg | ece | cwr)) == 0);  // never set by this stack
    if (f & rst) TCP_CHECK(out.payload.empty());
    if (f & syn) TCP_CHECK(out.payload.empty() && out.h.options.has_mss && out.h.options.mss >= 88);
    if (!(f & syn))
        TCP_CHECK(!out.h.options.has_mss && !out.h.options.has_window_scale && !out.h.options.sack_permitted);
    TCP_CHECK(out.h.dst_port >= kFirstPeerPort && out.h.dst_port < kFirstPeerPort + kSlots);
    return out;
}

// ---- socket state ----

// What the harness knows of a socket from the application's side.
struct AppView {
    bool valid = false;  // for the connection with this ISS
    uint32_t iss = 0;
    uint64_t sent = 0;          // bytes send() took
    uint64_t read = 0;          // bytes recv() returned
    bool synchronized = false;  // seen past SYN-SENT: IRS is meaningful
};

inline bool sends_data(TcpState st) {
    return st == TcpState::established || st == TcpState::close_wait || st == TcpState::fin_wait_1 ||
           st == TcpState::closing || st == TcpState::last_ack;
}

// RFC 9293 3.3.1: SND.UNA <= SND.NXT <= SND.MAX; what is in flight is buffered (the
// SYN and FIN take a sequence number each but no room); loss-recovery state within it.
inline void check_send_side(const TcpSocket& s) {
    TCP_CHECK(seq_le(s.snd_una, s.snd_nxt) && seq_le(s.snd_nxt, s.snd_max));
    TCP_CHECK(seq_le(s.iss, s.snd_una) && seq_lt(s.iss, s.snd_max));
    TCP_CHECK(s.send_buffer.size() <= s.send_buffer.capacity());
    const uint32_t flight = s.snd_max - s.snd_una;
    if (s.state == TcpState::time_wait) {
        TCP_CHECK(flight == 0);  // our FIN was acknowledged
    } else {
        const size_t allowance = s.send_buffer.size() + (s.snd_una == s.iss ? 1 : 0) + (s.fin_queued ? 1 : 0);
        TCP_CHECK(flight <= allowance);
    }
    if (s.fin_sent) TCP_CHECK(s.fin_queued && seq_lt(s.fin_seq, s.snd_max) && seq_ge(s.fin_seq, s.snd_una - 1));
    const SeqRangeSet& sacked = s.scoreboard.set();
    TCP_CHECK(sacked.count() <= sacked.max_ranges());
    for (size_t i = 0; i < sacked.count(); ++i) {
        TCP_CHECK(seq_lt(sacked[i].left, sacked[i].right));
        TCP_CHECK(seq_le(s.snd_una, sacked[i].left) && seq_le(sacked[i].right, s.snd_max));
        if (i > 0) TCP_CHECK(seq_lt(sacked[i - 1].right, sacked[i].left));
    }
    if (s.in_recovery) TCP_CHECK(seq_le(s.snd_una, s.high_rxt) && seq_le(s.high_rxt, s.snd_max));
    if (s.synchronized()) {
        TCP_CHECK(s.snd_wnd <= (0xFFFFu << 14));
        TCP_CHECK(s.max_snd_wnd >= s.snd_wnd);
        TCP_CHECK(s.cc.cwnd() > 0);
    }
}

// Out-of-order data lies beyond RCV.NXT and within the ring's free space (it is
// stored there); the ranges are bounded, sorted and disjoint.
inline void check_receive_side(const TcpSocket& s) {
    TCP_CHECK(s.receive_buffer.size() <= s.receive_buffer.capacity());
    const SeqRangeSet& ooo = s.out_of_order;
    TCP_CHECK(ooo.count() <= ooo.max_ranges());
    // A known bug (README.md): data beyond the peer's FIN stays out of order.
    const bool beyond_fin = s.fin_received && tolerated("ooo-beyond-fin");
    for (size_t i = 0; i < ooo.count(); ++i) {
        TCP_CHECK(seq_lt(ooo[i].left, ooo[i].right));
        if (beyond_fin) continue;
        TCP_CHECK(seq_gt(ooo[i].left, s.rcv_nxt));
        TCP_CHECK(ooo[i].right - s.rcv_nxt <= s.receive_buffer.free_space());
        if (i > 0) TCP_CHECK(seq_lt(ooo[i - 1].right, ooo[i].left));
    }
}

// Timers that must run, or the connection hangs or is never freed.
inline void check_timers(const TcpSocket& s) {
    if (s.state == TcpState::time_wait) TCP_CHECK(s.time_wait_timer.armed());
    if (s.state == TcpState::syn_sent || s.state == TcpState::syn_received) TCP_CHECK(s.retransmit_timer.armed());
    // RFC 6298 5.1: while data (or a FIN) is outstanding the retransmission timer runs.
    if (s.synchronized() && s.state != TcpState::time_wait && s.snd_una != s.snd_max)
        TCP_CHECK(s.retransmit_timer.armed());
    // RFC 9293 3.8.6.1: unsent data behind a zero window: the persist timer runs.
    const bool unsent = s.send_buffer.size() > s.snd_max - s.snd_una;
    // Nothing in flight and data to send: output() sent some (arming the timer) or
    // the window is shut (the persist timer); otherwise the data would never go.
    if (sends_data(s.state) && unsent && (s.snd_wnd == 0 || s.snd_una == s.snd_max) && !tolerated("persist"))
        TCP_CHECK(s.retransmit_timer.armed());
    // An ACK owed now went out with the step; one delayed runs its timer (RFC 9293
    // 3.8.6.3: within 500 ms).
    if (s.synchronized() && s.state != TcpState::time_wait) {
        TCP_CHECK(!s.ack_now);
        if (s.unacked_segments > 0) TCP_CHECK(s.delayed_ack_timer.armed());
    }
    // Nobody holds an orphan: a timer must end it.
    const bool held = s.fd >= 0 || s.in_accept_queue || s.listener;
    if (!held) TCP_CHECK(s.retransmit_timer.armed() || s.time_wait_timer.armed() || s.keepalive_timer.armed());
}

// Everything the peer sent in order was delivered: read by the application or still
// in the receive buffer (RCV.NXT counts the FIN too).
inline void check_delivery(const TcpSocket& s, const AppView& app) {
    if (!app.valid || app.iss != s.iss || !app.synchronized || s.fd < 0) return;
    const uint32_t delivered = s.rcv_nxt - s.irs - 1 - (s.fin_received ? 1 : 0);
    TCP_CHECK(app.read + s.receive_buffer.size() == delivered);
}

inline void check_listener(TcpLayer& layer, TcpSocket& l, const std::vector<TcpSocket*>& all) {
    TCP_CHECK(TcpTestPeer::listed_as_listener(layer, l));
    TCP_CHECK(!l.is_linked());
    size_t queued = 0;
    for (const TcpSocket* c = l.accept_head; c; c = c->accept_next) {
        TCP_CHECK(c->in_use && c->in_accept_queue && c->listener == &l);
        TCP_CHECK(++queued <= all.size());
        if (!c->accept_next) TCP_CHECK(l.accept_tail == c);
    }
    TCP_CHECK(queued == l.accept_queue_len);
    size_t half_open = 0;
    for (const TcpSocket* c : all)
        if (c->in_use && c->listener == &l && !c->in_accept_queue && c->state == TcpState::syn_received) ++half_open;
    TCP_CHECK(half_open == l.syn_queue_len);
}

inline void check_socket(TcpLayer& layer, TcpSocket& s, const std::vector<TcpSocket*>& all, AppView& app) {
    g_checked_socket = &s;
    TCP_CHECK(uint8_t(s.state) <= uint8_t(TcpState::time_wait));
    switch (s.state) {
        case TcpState::listen: check_listener(layer, s, all); break;
        case TcpState::closed:
            // Kept only while someone can still name it (TcpLayer::maybe_recycle).
            TCP_CHECK(s.fd >= 0 || s.in_accept_queue);
            TCP_CHECK(!s.is_linked());
            break;
        default:
            TCP_CHECK(layer.find(s.tuple()) == &s);
            if (s.state != TcpState::syn_sent) app.synchronized = app.valid && app.iss == s.iss;
            check_send_side(s);
            check_receive_side(s);
            check_timers(s);
            check_delivery(s, app);
            // Connections past the handshake have their rings (TIME-WAIT gave them back).
            if (sends_data(s.state) || s.state == TcpState::fin_wait_2)
                TCP_CHECK(s.send_buffer.capacity() > 0 && s.receive_buffer.capacity() > 0);
            break;
    }
    g_checked_socket = nullptr;
}

// Every socket, the socket count and the ring memory the layer accounts for.
inline void check_tcp_layer(TcpLayer& layer, std::map<const TcpSocket*, AppView>& apps) {
    std::vector<TcpSocket*> all = TcpTestPeer::sockets(layer);
    size_t in_use = 0;
    size_t ring_bytes = 0;
    for (TcpSocket* p : all) {
        TcpSocket& s = *p;
        ring_bytes += s.send_buffer.allocated() + s.receive_buffer.allocated();
        if (!s.in_use) {
            TCP_CHECK(s.send_buffer.capacity() == 0 && s.receive_buffer.capacity() == 0);
            continue;
        }
        ++in_use;
        check_socket(layer, s, all, apps[p]);
    }
    TCP_CHECK(in_use == layer.open_sockets());
    TCP_CHECK(ring_bytes == layer.buffer_memory());
}

}  // namespace quasi::fuzz
