// The TCP output path as templates over the context policy. Included by
// tcp_output.cpp (live instantiation) and by the specializer's bitcode unit (frozen);
// nothing else includes it.
#pragma once

#include "stack/stack.hpp"
#include "stack/tcp.hpp"
#include "stack/tcp_send.hpp"
#include "stack/tcp_seq.hpp"

#include <cerrno>

namespace quasi {

namespace tcp_detail {
constexpr unsigned kMaxSegmentsPerOutput = 64;  // bounds one call; the next ACK clocks out more

inline uint16_t advertised_window(TcpSocket& s, bool syn) {
    uint32_t window = s.receive_window();
    // Never shrink the window we offered (RFC 9293 3.8.6.2.2).
    if (seq_gt(s.rcv_adv, s.rcv_nxt + window)) window = s.rcv_adv - s.rcv_nxt;
    uint32_t field = syn ? window : window >> s.rcv_wscale;
    // Scaling rounds down; where that would pull the right edge left of the one
    // offered, round up instead (RFC 7323 2.4).
    if (!syn && seq_gt(s.rcv_adv, s.rcv_nxt + (field << s.rcv_wscale)))
        field = (s.rcv_adv - s.rcv_nxt + (1u << s.rcv_wscale) - 1) >> s.rcv_wscale;
    if (field > 0xFFFF) field = 0xFFFF;
    if (!syn) s.rcv_adv = s.rcv_nxt + (field << s.rcv_wscale);
    return static_cast<uint16_t>(field);
}

inline void fill_options(TcpLayer& layer, TcpSocket& s, TcpSegment& seg) {
    const TcpLayer::Config& cfg = layer.config();
    TcpOptions& o = seg.options;
    if (seg.flags & tcp_flags::syn) {
        o.has_mss = true;
        o.mss = layer.local_mss(s);
        bool reply = seg.flags & tcp_flags::ack;
        // A SYN-ACK offers only what the peer's SYN offered (RFC 7323 2.2, 2018 2).
        if (reply ? s.wscale_ok : cfg.window_scaling) {
            o.has_window_scale = true;
            o.window_scale = s.rcv_wscale;
        }
        o.sack_permitted = reply ? s.sack_ok : cfg.sack;
        if (reply ? s.ts_ok : cfg.timestamps) {
            o.has_timestamps = true;
            o.ts_val = layer.ts_now(s);
            o.ts_ecr = reply ? s.ts_recent : 0;
        }
        return;
    }
    if (s.ts_ok) {
        o.has_timestamps = true;
        o.ts_val = layer.ts_now(s);
        o.ts_ecr = s.ts_recent;
    }
    if (size_t blocks = s.sack_blocks_to_send(); blocks && (seg.flags & tcp_flags::ack))
        o.sack_count = static_cast<uint8_t>(s.out_of_order.most_recent(o.sacks.data(), blocks));
}
}  // namespace tcp_detail

// One segment with `payload` (RingPayload or UserPayload, stack/tcp_send.hpp):
// the frame, the ACK and window fields, the options, and what sending an ACK clears.
template <class Ctx, class Payload>
int tcp_emit_payload(Ctx& ctx, TcpLayer& layer, TcpSocket& s, uint32_t seq, uint8_t flags, const Payload& payload) {
    TcpFrameSpec spec;
    if (int rc = ctx.prepare(spec); rc != 0) return rc;
    PacketPtr frame = ctx.alloc_frame();
    if (!frame) return -ENOBUFS;
    TcpSegment seg;
    seg.seq = seq;
    seg.flags = flags;
    if (flags & tcp_flags::ack) seg.ack = s.rcv_nxt;
    seg.window = (flags & tcp_flags::rst) ? 0 : tcp_detail::advertised_window(s, flags & tcp_flags::syn);
    if (!(flags & tcp_flags::rst)) tcp_detail::fill_options(layer, s, seg);
    emit_tcp_frame(spec, *frame, seg, payload, ctx.ip_ident(spec));
    if (flags & tcp_flags::ack) {
        s.last_ack_sent = s.rcv_nxt;
        s.ack_now = false;
        s.unacked_segments = 0;
        s.delayed_ack_timer.cancel();
    }
    ctx.transmit(spec, static_cast<PacketPtr&&>(frame));
    return 0;
}

// A segment of `len` bytes of the send ring from `seq` (0: none).
template <class Ctx>
int tcp_emit(Ctx& ctx, TcpLayer& layer, TcpSocket& s, uint32_t seq, uint32_t len, uint8_t flags) {
    RingPayload payload{};
    if (len > 0) payload.spans = s.send_buffer.spans(seq - s.snd_una, len);
    return tcp_emit_payload(ctx, layer, s, seq, flags, payload);
}

// Sends what the congestion and receive windows allow (RFC 5681, RFC 6675 for
// recovery with SACK), applying Nagle (RFC 896) and sender-side silly window
// avoidance (RFC 9293 3.8.6.2.1); ends with a pure ACK if one is owed and no
// segment carried it.
template <class Ctx>
void tcp_output(Ctx& ctx, TcpLayer& layer, TcpSocket& s) {
    using namespace tcp_detail;
    bool can_send_data = s.state == TcpState::established || s.state == TcpState::close_wait ||
                         s.state == TcpState::fin_wait_1 || s.state == TcpState::closing ||
                         s.state == TcpState::last_ack;
    uint32_t mss = layer.payload_limit(s);
    for (unsigned n = 0; can_send_data && n < kMaxSegmentsPerOutput; ++n) {
        uint32_t cwnd = s.cc.cwnd() + s.limited_transmit;
        bool sack_recovery = s.in_recovery && s.sack_ok;
        uint32_t flight = sack_recovery ? s.scoreboard.pipe(s.snd_una, s.snd_max, s.high_rxt, mss)
                                        : s.snd_nxt - s.snd_una;
        uint32_t cwnd_room = cwnd > flight ? cwnd - flight : 0;
        if (sack_recovery && s.retransmit_log.size() > 0) {
            // A retransmission that was lost again (RetransmitLog) goes before anything.
            // Its octets are no longer in flight, though pipe counts them: it may go
            // when pipe without them is below cwnd.
            uint32_t seq = 0, len = 0;
            size_t mark = 0;
            const TimeNs now = layer.stack().now();
            const TimeNs wait = TcpLayer::lost_retransmit_wait(s);
            if (s.retransmit_log.next_lost(s.scoreboard, s.snd_una, s.snd_max, mss, now, wait, mark, seq, len) &&
                flight < uint64_t{cwnd} + len) {
                if (tcp_emit(ctx, layer, s, seq, len, tcp_flags::ack) != 0) return;
                s.retransmit_log.resent(mark, s.snd_max, now);
                ++s.total_retransmits;
                layer.stack().stats().count(Counter::tcp_retransmits);
                layer.stack().stats().count(Counter::tcp_lost_retransmits);
                continue;
            }
        }
        if (sack_recovery && cwnd_room > 0) {
            uint32_t seq = 0, len = 0;
            // RFC 6675 5 (C)/NextSeg rule 1: retransmit what is deemed lost first.
            if (s.scoreboard.next_seg(s.snd_una, s.snd_max, s.high_rxt, mss, false, seq, len)) {
                if (tcp_emit(ctx, layer, s, seq, len, tcp_flags::ack) != 0) return;
                s.high_rxt = seq + len;
                s.retransmit_log.add(seq, seq + len, s.snd_max, layer.stack().now());
                ++s.total_retransmits;
                layer.stack().stats().count(Counter::tcp_retransmits);
                continue;
            }
        }
        uint32_t buffered = static_cast<uint32_t>(s.send_buffer.size());
        uint32_t offset = s.snd_nxt - s.snd_una;
        uint32_t unsent = buffered > offset ? buffered - offset : 0;
        bool fin_due = s.fin_queued && !s.fin_sent && offset >= buffered;
        uint32_t window_edge = s.snd_una + s.snd_wnd;
        uint32_t window_room = seq_gt(window_edge, s.snd_nxt) ? window_edge - s.snd_nxt : 0;
        uint32_t len = unsent;
        if (len > mss) len = mss;
        if (len > cwnd_room) len = cwnd_room;
        if (len > window_room) len = window_room;
        bool last = len == unsent;
        bool fin = s.fin_queued && !s.fin_sent && last;
        if (len == 0 && !fin_due) break;
        if (len > 0 && len < mss && !fin) {
            // Nagle: a small segment waits while data is unacknowledged; SWS
            // avoidance: it may still go when it is all we have or half the window.
            bool idle = s.snd_nxt == s.snd_una;
            bool nagle_ok = s.nodelay || idle;
            bool sws_ok = (last && nagle_ok) || (s.max_snd_wnd > 0 && len >= s.max_snd_wnd / 2 && nagle_ok);
            // With nothing in flight no ACK will come to reopen things: fill what the
            // peer offers rather than wait forever (the override of 3.8.6.2.1).
            if (idle && len == window_room) sws_ok = true;
            if (!sws_ok) break;
        }
        uint32_t seq = s.snd_nxt;
        uint8_t flags = tcp_flags::ack;
        if (len > 0 && last) flags |= tcp_flags::psh;
        if (fin) flags |= tcp_flags::fin;
        if (tcp_emit(ctx, layer, s, seq, len, flags) != 0) return;
        bool retransmission = seq_lt(seq, s.snd_max);
        s.snd_nxt = seq + len + (fin ? 1 : 0);
        if (fin) {
            s.fin_sent = true;
            s.fin_seq = seq + len;
        }
        if (seq_gt(s.snd_nxt, s.snd_max)) s.snd_max = s.snd_nxt;
        if (retransmission) {
            ++s.total_retransmits;
            layer.stack().stats().count(Counter::tcp_retransmits);
        } else {
            if (len > 0) s.send_times.on_send(seq, seq + len, layer.stack().now());  // RACK
            if (!s.rtt_timing && !s.ts_ok) {
                s.rtt_timing = true;  // Karn: only segments sent once are timed
                s.rtt_seq = seq;
                s.rtt_start = layer.stack().now();
            }
        }
        s.last_send_time = layer.stack().now();
        if (retransmission) {
            if (!s.retransmit_timer.armed()) layer.arm_retransmit(s);
        } else {
            layer.arm_after_new_data(s);
        }
        if (fin) break;
    }
    // A pure ACK carries SND.MAX clamped to the peer's window (TcpSocket::ack_seq).
    if (s.ack_now && s.state != TcpState::closed && s.state != TcpState::listen && s.state != TcpState::syn_sent)
        tcp_emit(ctx, layer, s, s.ack_seq(), 0, tcp_flags::ack);
}

extern template int tcp_emit<TcpLiveContext>(TcpLiveContext&, TcpLayer&, TcpSocket&, uint32_t, uint32_t, uint8_t);
extern template void tcp_output<TcpLiveContext>(TcpLiveContext&, TcpLayer&, TcpSocket&);

}  // namespace quasi
