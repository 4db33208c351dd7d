#include "stack/tcp_rack.hpp"

#include "stack/stack.hpp"
#include "stack/tcp.hpp"
#include "stack/tcp_sack.hpp"

namespace quasi {

bool SendTimes::take() {
    if (records_) return true;
    if (!source_) return false;
    size_t cap = 8;
    while (cap < wanted_ && cap < 32768) cap *= 2;
    records_ = static_cast<Record*>(source_->allocate(cap * sizeof(Record), alignof(Record)));
    if (!records_) return false;
    mask_ = static_cast<uint16_t>(cap - 1);
    head_ = count_ = 0;
    return true;
}

void SendTimes::release() {
    if (records_) source_->deallocate(records_, capacity() * sizeof(Record), alignof(Record));
    records_ = nullptr;
    mask_ = head_ = count_ = 0;
}

void SendTimes::on_cumulative_ack(uint32_t snd_una) {
    while (count_ > 0 && seq_le(at(0).end, snd_una)) {
        first_seq_ = at(0).end;
        head_ = static_cast<uint16_t>((head_ + 1) & mask_);
        --count_;
    }
}

bool SendTimes::sent_at(uint32_t seq, uint32_t& stamp) const {
    if (count_ == 0 || seq_lt(seq, first_seq_) || !seq_lt(seq, at(count_ - 1).end)) return false;
    // Records are in sequence order: the first whose end lies beyond seq holds it.
    size_t lo = 0, hi = count_ - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (seq_gt(at(mid).end, seq))
            hi = mid;
        else
            lo = mid + 1;
    }
    stamp = at(lo).stamp;
    return true;
}

void Rack::on_delivered(uint32_t stamp, uint32_t end, TimeNs now) {
    const int32_t rtt = rack_stamp_diff(rack_stamp(now), stamp);
    if (rtt < 0) return;
    if (!has_sample_ || static_cast<uint32_t>(rtt) < min_rtt_us_) min_rtt_us_ = static_cast<uint32_t>(rtt);
    // RACK_sent_after(): later send time, or the same time and a higher sequence.
    const int32_t after = rack_stamp_diff(stamp, xmit_stamp_);
    if (has_sample_ && (after < 0 || (after == 0 && !seq_gt(end, end_seq_)))) return;
    has_sample_ = true;
    xmit_stamp_ = stamp;
    end_seq_ = end;
    rtt_us_ = static_cast<uint32_t>(rtt);
}

TimeNs Rack::reorder_window(bool in_recovery, bool dup_thresh_sacked, TimeNs srtt) const {
    if (!reordering_seen_ && (in_recovery || dup_thresh_sacked)) return 0;
    const TimeNs window = reo_wnd_mult_ * min_rtt() / 4;
    return window < srtt ? window : srtt;
}

void Rack::on_dsack(uint32_t snd_una, uint32_t snd_nxt) {
    if (dsack_round_open_ && seq_ge(snd_una, dsack_round_)) dsack_round_open_ = false;
    if (dsack_round_open_) return;
    dsack_round_open_ = true;
    dsack_round_ = snd_nxt;
    if (reo_wnd_mult_ < 64) ++reo_wnd_mult_;  // SRTT caps the window long before
    reo_wnd_persist_ = 16;
    reordering_seen_ = true;  // a spurious retransmission: the network reorders
}

void Rack::on_recovery_end() {
    if (reo_wnd_persist_ > 0 && --reo_wnd_persist_ == 0) reo_wnd_mult_ = 1;
}

TimeNs Rack::detect_loss(const SendTimes& times, SackScoreboard& sb, uint32_t snd_una, TimeNs now,
                         TimeNs reo_wnd) const {
    if (!has_sample_) return 0;
    const int64_t wait_us = static_cast<int64_t>(rtt_us_) + static_cast<int64_t>(reo_wnd / kMicrosecond);
    const uint32_t now_stamp = rack_stamp(now);
    const uint32_t judged = seq_max(snd_una, sb.lost_below());  // everything under it is decided
    for (size_t i = 0; i < times.size(); ++i) {
        // The record's first octet not yet judged nor SACKed (ranges never touch, so
        // one step past the range holding it is enough).
        const uint32_t from = sb.set().contiguous_from(seq_max(times.first_seq(i), judged));
        uint32_t to = times.end(i);
        if (!seq_lt(from, to)) continue;
        // Sent after the most recently delivered segment: neither it nor any later
        // record can be judged yet (times grow along the ring). At the same instant
        // (a record holds a burst), the sequence number decides (RACK_sent_after).
        const int32_t after = rack_stamp_diff(times.stamp(i), xmit_stamp_);
        if (after > 0) return 0;
        if (after == 0) {
            if (!seq_lt(from, end_seq_)) return 0;
            to = seq_min(to, end_seq_);
        }
        const int64_t elapsed = rack_stamp_diff(now_stamp, times.stamp(i));
        if (elapsed < wait_us) return TimeNs(wait_us - elapsed) * kMicrosecond;
        sb.mark_lost_below(snd_una, to);
    }
    return 0;
}

// ---- the connection's side of RACK-TLP ----

namespace {
// The last data octet sent plus one: SND.MAX less a FIN in flight.
uint32_t data_end(const TcpSocket& s) {
    return s.fin_sent && seq_lt(s.fin_seq, s.snd_max) ? s.fin_seq : s.snd_max;
}
}  // namespace

void TcpLayer::rack_on_ack(TcpSocket& s, const TcpOptions& options, uint32_t old_una, uint32_t fack) {
    const TimeNs now = stack_.now();
    auto delivered = [&](uint32_t end) {
        const uint32_t last = end - 1;
        uint32_t stamp = 0;
        // Octets below high_rxt were retransmitted in this recovery: which
        // transmission an ACK of them answers is ambiguous (RFC 8985 6.2 step 2), so
        // only first transmissions above it update RACK.
        if (s.in_recovery && seq_lt(last, s.high_rxt)) return;
        if (!s.send_times.sent_at(last, stamp)) return;
        s.rack.on_delivered(stamp, end, now);
        // A first transmission below what was SACKed before arrived after it: the
        // network reorders (6.2 step 3).
        if (seq_lt(last, fack)) s.rack.saw_reordering();
    };
    if (seq_gt(s.snd_una, old_una)) {
        delivered(s.snd_una);
        // RFC 2018 8 (and Linux's SACK reneging check): an ACK that stops at the
        // left edge of SACKed data says the receiver dropped what it SACKed.
        if (s.scoreboard.is_sacked(s.snd_una)) {
            s.scoreboard.clear();
            stack_.stats().count(Counter::tcp_sack_reneging);
        }
    }
    for (size_t i = 0; i < options.sack_count; ++i) {
        const SackBlock& b = options.sacks[i];
        if (seq_lt(b.left, b.right) && seq_gt(b.right, s.snd_una) && seq_le(b.right, s.snd_max)) delivered(b.right);
    }
    // RFC 2883 4: a first block below the cumulative ACK, or inside the second block,
    // reports a duplicate: data sent twice arrived twice.
    if (options.sack_count > 0) {
        const SackBlock& d = options.sacks[0];
        const bool below = seq_le(d.right, s.snd_una) && seq_lt(d.left, d.right);
        const bool inside = options.sack_count > 1 && seq_ge(d.left, options.sacks[1].left) &&
                            seq_le(d.right, options.sacks[1].right) && seq_lt(d.left, d.right);
        if (below || inside) {
            s.rack.on_dsack(s.snd_una, s.snd_max);
            stack_.stats().count(Counter::tcp_dsacks_rx);
        }
    }
    rack_detect_loss(s);
}

void TcpLayer::rack_detect_loss(TcpSocket& s) {
    if (!s.sack_ok || s.scoreboard.ranges() == 0 || s.snd_una == s.snd_max) return;
    const uint32_t smss = data_mss(s);
    // RACK.segs_sacked >= DupThresh: RFC 6675's IsLost for SND.UNA by SACKs alone.
    const bool dup_thresh_sacked = s.scoreboard.ranges() >= s.scoreboard.dup_thresh() ||
                                   s.scoreboard.set().covered_bytes() > (s.scoreboard.dup_thresh() - 1) * smss;
    const TimeNs reo_wnd = s.rack.reorder_window(s.in_recovery, dup_thresh_sacked, s.rtt.srtt());
    const uint32_t lost_before = s.scoreboard.lost_below();
    const TimeNs now = stack_.now();
    TimeNs wait = s.rack.detect_loss(s.send_times, s.scoreboard, s.snd_una, now, reo_wnd);
    // Retransmissions (RetransmitLog) waiting for time alone get the same timer.
    if (s.in_recovery) {
        const TimeNs due = s.retransmit_log.next_due(s.scoreboard, s.snd_una, now, lost_retransmit_wait(s));
        if (due != 0 && (wait == 0 || due < wait)) wait = due;
    }
    if (!s.in_recovery && s.scoreboard.lost_below() != lost_before && s.scoreboard.is_lost(s.snd_una, smss) &&
        s.cc.may_enter_recovery()) {
        stack_.stats().count(Counter::tcp_rack_recoveries);
        enter_fast_recovery(s);
    }
    if (wait > 0) {
        s.timer_use = TcpTimerUse::reorder;
        stack_.timers().schedule(s.retransmit_timer, now + wait);
    }
}

// RFC 8985 7.3: the probe timeout fired. One segment: new data if the windows let
// it out (beyond cwnd, as the RFC allows), else the last segment sent again. Then the
// RTO takes over.
void TcpLayer::tail_loss_probe(TcpSocket& s) {
    s.timer_use = TcpTimerUse::rto;
    if (!probe_allowed(s)) {
        if (s.snd_una != s.snd_max) arm_retransmit(s);
        return;
    }
    const uint32_t before = s.snd_max;
    const uint32_t saved_allowance = s.limited_transmit;
    s.limited_transmit += payload_limit(s);
    output(s);
    s.limited_transmit = saved_allowance;
    bool retransmission = s.snd_max == before;
    if (retransmission) {
        const uint32_t end = data_end(s);
        const uint32_t limit = payload_limit(s);
        const uint32_t len = end - s.snd_una < limit ? end - s.snd_una : limit;
        const bool fin = end != s.snd_max;
        if (len == 0 && !fin) return arm_retransmit(s);
        emit_segment(s, end - len, len, tcp_flags::ack | (fin ? tcp_flags::fin : 0));
        ++s.total_retransmits;
        stack_.stats().count(Counter::tcp_retransmits);
    }
    stack_.stats().count(Counter::tcp_tail_loss_probes);
    s.rack.probe_sent(s.snd_max, retransmission);
    arm_retransmit(s);  // the RTO: no second probe while this one is out
}

}  // namespace quasi
