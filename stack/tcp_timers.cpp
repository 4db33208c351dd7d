// TCP timers: retransmission (RFC 6298) which also paces SYN retries and
// zero-window probes (RFC 9293 3.8.6.1), delayed ACKs (RFC 9293 3.8.6.3),
// keepalive (RFC 1122 4.2.3.6) and TIME-WAIT (RFC 9293 3.4.2).
#include "stack/stack.hpp"
#include "stack/tcp.hpp"
#include "stack/tcp_seq.hpp"

#include <cerrno>

namespace quasi {

void TcpLayer::init_timers(TcpSocket& s) {
    s.owner = this;  // timer callbacks know only the socket
    s.retransmit_timer.callback = &TcpLayer::on_retransmit_timer;
    s.retransmit_timer.context = &s;
    s.delayed_ack_timer.callback = &TcpLayer::on_delayed_ack_timer;
    s.delayed_ack_timer.context = &s;
    s.keepalive_timer.callback = &TcpLayer::on_keepalive_timer;
    s.keepalive_timer.context = &s;
    s.time_wait_timer.callback = &TcpLayer::on_time_wait_timer;
    s.time_wait_timer.context = &s;
}

void TcpLayer::arm_retransmit(TcpSocket& s) {
    TimeNs timeout = s.rtt.rto();
    s.timer_use = TcpTimerUse::rto;
    if (probe_allowed(s)) {
        // RFC 8985 7.2: the probe goes no later than the RTO would, and in its place
        // (TLP_calc_PTO: PTO = RTO_expire - now when later); the RTO follows the probe.
        const TimeNs pto = Rack::probe_timeout(s.rtt.srtt(), s.flight_size() <= data_mss(s));
        if (pto < timeout) timeout = pto;
        s.timer_use = TcpTimerUse::probe;
    }
    stack_.timers().schedule(s.retransmit_timer, stack_.now() + timeout);
}

void TcpLayer::on_retransmit_timer(Timer& t, TimeNs now) {
    TcpSocket& s = *static_cast<TcpSocket*>(t.context);
    switch (s.timer_use) {
    case TcpTimerUse::probe: return s.owner->tail_loss_probe(s);
    case TcpTimerUse::reorder:
        s.timer_use = TcpTimerUse::rto;
        s.owner->stack_.stats().count(Counter::tcp_rack_reorder_timeouts);
        s.owner->rack_detect_loss(s);
        if (!s.retransmit_timer.armed() && s.snd_una != s.snd_max) s.owner->arm_retransmit(s);
        return s.owner->output(s);
    case TcpTimerUse::rto: break;
    }
    s.owner->retransmit_timeout(s, now);
}

void TcpLayer::on_delayed_ack_timer(Timer& t, TimeNs) {
    TcpSocket& s = *static_cast<TcpSocket*>(t.context);
    if (s.synchronized() && s.state != TcpState::time_wait) s.owner->send_ack(s);
}

void TcpLayer::on_keepalive_timer(Timer& t, TimeNs now) {
    TcpSocket& s = *static_cast<TcpSocket*>(t.context);
    TcpLayer& layer = *s.owner;
    if (!s.keepalive || s.state != TcpState::established) return;
    TimeNs idle = now - s.last_receive_time;
    if (idle < s.keepalive_idle) {
        layer.stack_.timers().schedule(t, s.last_receive_time + s.keepalive_idle);
        return;
    }
    if (s.probes_sent >= s.keepalive_count) {
        layer.send_reset(s);
        return layer.abort(s, ETIMEDOUT);
    }
    // A segment one below SND.UNA: old data the peer must answer with an ACK.
    layer.emit_segment(s, s.snd_una - 1, 0, tcp_flags::ack);
    ++s.probes_sent;
    layer.stack_.stats().count(Counter::tcp_keepalive_probes);
    layer.stack_.timers().schedule(t, now + s.keepalive_interval);
}

void TcpLayer::on_time_wait_timer(Timer& t, TimeNs) {
    TcpSocket& s = *static_cast<TcpSocket*>(t.context);
    TcpLayer& layer = *s.owner;
    if (s.state == TcpState::fin_wait_2 || s.fd < 0) {
        // An orphan that waited 2*MSL for the peer's FIN.
        if (s.state != TcpState::closed) layer.send_reset(s);
        layer.abort(s, 0);
    }
}

// The FIFO's head is the first record to expire: retire every one that is due, then
// wait for the next.
void TcpLayer::on_time_wait_expiry(Timer& t, TimeNs now) {
    TcpLayer& layer = *static_cast<TcpLayer*>(t.context);
    while (TimeWaitRecord* r = layer.time_wait_.oldest()) {
        if (r->expires > now) return layer.stack_.timers().schedule(t, r->expires);
        layer.time_wait_.remove(*r);
    }
}

void TcpLayer::retransmit_timeout(TcpSocket& s, TimeNs now) {
    Stats& stats = stack_.stats();
    if (s.state == TcpState::syn_sent || s.state == TcpState::syn_received) {
        if (++s.retransmits > config_.syn_retries) return abort(s, ETIMEDOUT);
        s.rtt.backoff();
        uint8_t flags = tcp_flags::syn | (s.state == TcpState::syn_received ? tcp_flags::ack : 0);
        emit_segment(s, s.iss, 0, flags);
        stats.count(Counter::tcp_retransmits);
        ++s.total_retransmits;
        return arm_retransmit(s);
    }
    bool data_outstanding = s.snd_una != s.snd_max;
    bool over_user_timeout = s.user_timeout && now - s.last_receive_time > s.user_timeout;
    if (s.snd_wnd == 0 && s.send_buffer.size() > 0) {
        // Zero-window probing (RFC 9293 3.8.6.1, MUST-36): the peer may keep its
        // window shut as long as it answers probes (RFC 1122 4.2.2.17); unanswered
        // probes count like retransmissions, and the user timeout bounds it. A window
        // shrunk to zero under data in flight is probed the same way, and that data
        // goes again once it opens (RFC 1122 4.2.2.16).
        // Answered probes refresh last_receive_time, so the user timeout is taken
        // from when probing began: a window held shut that long without progress
        // ends the connection like unanswered data would (RFC 9293 3.8.6.1).
        bool held_too_long = s.user_timeout && s.persist_mode && now - s.persist_since > s.user_timeout;
        if (over_user_timeout || held_too_long || s.probes_sent >= config_.max_retransmits) {
            send_reset(s);
            return abort(s, ETIMEDOUT);
        }
        if (data_outstanding) {
            s.rtt_timing = false;
            s.snd_nxt = s.snd_una;
            if (s.fin_sent && seq_le(s.snd_una, s.fin_seq)) s.fin_sent = false;
        }
        zero_window_probe(s);
        s.rtt.backoff();
        return arm_retransmit(s);
    }
    if (!data_outstanding) return;
    if (++s.retransmits > config_.max_retransmits || over_user_timeout) {
        send_reset(s);
        return abort(s, ETIMEDOUT);
    }
    // RFC 6298 5.4-5.7 and RFC 5681 3.1: back off, collapse the window, resend from
    // SND.UNA.
    stats.count(Counter::tcp_rto_expiries);
    s.cc.on_timeout(s.flight_size(), now);
    s.rtt.backoff();
    s.dup_acks = 0;
    s.limited_transmit = 0;
    s.undo_armed = false;
    s.rack.probe_done();
    s.retransmit_log.clear();
    s.rtt_timing = false;
    s.high_rxt = s.snd_una;
    if (s.sack_ok && !s.fin_sent && s.snd_nxt == s.snd_max) {
        // SACK information kept across the timeout (RFC 6675 5.1 with its erratum
        // 1610, RFC 8985 6.3, as Linux): everything in flight and not SACKed is lost
        // and goes again in order as the window reopens, in SACK recovery, skipping
        // what the peer holds; a retransmission lost again is found from later SACKs
        // (RetransmitLog) instead of waiting for the next, backed-off, timeout. A
        // peer that reneges shows it by ACKing up to SACKed data (TcpLayer::
        // rack_on_ack), and the scoreboard is dropped then. With a FIN in flight (or
        // SND.NXT rewound) it is plain go-back-N as below.
        s.in_recovery = true;
        s.rto_recovery = true;
        s.rto_recover = s.snd_max;
        s.scoreboard.mark_lost_below(s.snd_una, s.snd_max);
        stats.count(Counter::tcp_rto_sack_recoveries);
    } else {
        // Go-back-N from SND.UNA without SACK information: the receiver may have
        // reneged (RFC 2018 8).
        s.in_recovery = false;
        s.rto_recovery = false;
        s.scoreboard.clear();
        s.snd_nxt = s.snd_una;
        if (s.fin_sent && seq_le(s.snd_una, s.fin_seq)) s.fin_sent = false;
    }
    arm_retransmit(s);
    output(s);
}

void TcpLayer::zero_window_probe(TcpSocket& s) {
    emit_segment(s, s.snd_una - 1, 0, tcp_flags::ack);
    ++s.probes_sent;
    if (!s.persist_mode) s.persist_since = stack_.now();
    s.persist_mode = true;
    stack_.stats().count(Counter::tcp_window_probes);
}

void TcpLayer::enter_time_wait(TcpSocket& s) {
    TimeWaitValues values;
    values.tuple = s.tuple();
    values.snd_nxt = s.ack_seq();
    values.rcv_nxt = s.rcv_nxt;
    values.ts_ok = s.ts_ok;
    values.ts_recent = s.ts_recent;
    values.ts_offset = s.ts_offset;
    // Our ACKs keep offering the window last offered (it never shrinks, RFC 9293 3.8.6.2.2).
    uint32_t window = seq_gt(s.rcv_adv, s.rcv_nxt) ? (s.rcv_adv - s.rcv_nxt) >> s.rcv_wscale : 0;
    values.window = static_cast<uint16_t>(window > 0xFFFF ? 0xFFFF : window);
    values.ttl = s.ttl;
    values.expires = stack_.now() + 2 * config_.msl;
    bool retired_early = false;
    if (time_wait_.insert(values, retired_early)) stack_.stats().count(Counter::tcp_time_wait_entered);
    if (retired_early) stack_.stats().count(Counter::tcp_time_wait_retired_early);
    if (!time_wait_timer_.armed() && time_wait_.oldest())
        stack_.timers().schedule(time_wait_timer_, time_wait_.oldest()->expires);
    // The socket is done with the network. An orphan goes back to the pool with its
    // rings now; one the user still holds (after shutdown(SHUT_WR) it may be reading)
    // stays CLOSED with what was received and not yet read, then EOF.
    s.retransmit_timer.cancel();
    s.keepalive_timer.cancel();
    s.delayed_ack_timer.cancel();
    s.time_wait_timer.cancel();
    if (s.is_linked()) connections_.erase(s);
    set_state(s, TcpState::closed);
    if (s.receive_buffer.size() == 0) release_buffers(s);
    else release_send_buffer(s);
    notify(s);
    maybe_recycle(s);
}

}  // namespace quasi
