// RACK-TLP (RFC 8985): loss detection by time, and the tail loss probe.
//
// RACK's rule (RFC 8985 6): a segment is lost once a segment sent after it has been
// delivered (ACKed or SACKed) and more than RACK.rtt + reo_wnd has passed since it
// was sent. It needs the send time of every segment in flight. Here:
//  - first transmissions: SendTimes, one 8-byte record per segment in a ring
//    allocated with the send buffer (not in TcpSocket: an idle connection holds
//    none). Their times grow with their sequence numbers, so "every unSACKed octet
//    below X is lost" is RACK's verdict on them, kept as the scoreboard's lost
//    mark (SackScoreboard::mark_lost_below), which RFC 6675's NextSeg and pipe use;
//  - retransmissions: the RetransmitLog of the recovery (stack/tcp_sack.hpp), whose
//    time rule is RACK's rule for retransmitted segments.
// The reordering window (6.2 step 4): min_RTT / 4, capped at SRTT, 0 during
// recovery or once DupThresh segments are SACKed unless reordering was seen, and
// widened by a quarter min_RTT per round trip that brings a D-SACK (a spurious
// retransmission). Where the rule says "not yet", the reordering timer waits for the
// rest (6.3).
//
// TLP (RFC 8985 7): with data in flight, no recovery and no probe out, the timer
// is a probe timeout, PTO = 2 * SRTT (at least 10 ms, as Linux; plus the 200 ms
// worst-case delayed ACK when one segment is in flight), capped at the RTO, in place
// of the RTO. When it fires, one segment goes (new data if the windows allow, else
// the last one sent) so the ACK it draws starts SACK recovery instead of the tail
// waiting for the RTO; the RTO is armed after it.
//
// Both timers are the connection's retransmission timer (TcpSocket::timer_use), so
// no timer is added to the socket. Times are kept as 32-bit microseconds (wrapping
// every 71 minutes; compared as differences, so any two within 35 minutes compare
// right, far more than a segment stays in flight before the retry limit).
#pragma once

#include "stack/clock.hpp"
#include "stack/memory.hpp"
#include "stack/tcp_seq.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace quasi {

class SackScoreboard;

inline uint32_t rack_stamp(TimeNs t) {
    return static_cast<uint32_t>(t / kMicrosecond);
}
// a - b for stamps, correct across the wrap while the two are within 2^31 us.
inline int32_t rack_stamp_diff(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b);
}

// Send times of first transmissions, oldest first. Bounded: with the ring full, the
// newest record grows to cover the new segment and takes its time, which only makes
// the older part look sent later (a loss found later, never a false one).
class SendTimes {
public:
    SendTimes() = default;
    ~SendTimes() { release(); }
    SendTimes(const SendTimes&) = delete;
    SendTimes& operator=(const SendTimes&) = delete;

    // Room for `records` segments (rounded up to a power of two) from `source`, taken
    // at the first send (take) and given back by release() whenever nothing is in
    // flight, so an idle connection holds none. Without it (out of memory) RACK finds
    // nothing by time: RFC 6675 and the RTO still work.
    void configure(size_t records, MemorySource& source) {
        release();
        wanted_ = records;
        source_ = &source;
    }
    bool init(size_t records, MemorySource& source) {
        configure(records, source);
        return take();
    }
    bool take();  // out of line: in the JIT's bitcode it calls the host (quasi_send_times_take)
    void release();
    void clear() { count_ = 0; }
    size_t capacity() const { return mask_ ? mask_ + 1 : 0; }
    size_t size() const { return count_; }

    // New data [seq, end) left at `now`. Inline: the frozen send path records too.
    void on_send(uint32_t seq, uint32_t end, TimeNs now) {
        if (!records_ && !take()) return;
        const uint32_t stamp = rack_stamp(now);
        if (count_ > 0) {
            Record& last = at(count_ - 1);
            if (seq_ge(last.end, end)) return;            // nothing new (cannot happen for new data)
            if (count_ > mask_ || last.stamp == stamp) {  // full, or the same instant
                last.end = end;
                last.stamp = stamp;
                return;
            }
        }
        if (count_ == 0) first_seq_ = seq;
        at(count_++) = Record{end, stamp};
    }
    // Forgets records wholly below the cumulative ACK.
    void on_cumulative_ack(uint32_t snd_una);
    // The send time of the first transmission of octet seq; false when unknown.
    bool sent_at(uint32_t seq, uint32_t& stamp) const;

    // Records in order: [first_seq(i), end(i)) left at stamp(i).
    uint32_t first_seq(size_t i) const { return i == 0 ? first_seq_ : at(i - 1).end; }
    uint32_t end(size_t i) const { return at(i).end; }
    uint32_t stamp(size_t i) const { return at(i).stamp; }

private:
    struct Record {
        uint32_t end;    // one past the record's last octet
        uint32_t stamp;  // rack_stamp of its first transmission
    };
    Record& at(size_t i) { return records_[(head_ + i) & mask_]; }
    const Record& at(size_t i) const { return records_[(head_ + i) & mask_]; }

    Record* records_ = nullptr;
    MemorySource* source_ = nullptr;
    size_t wanted_ = 0;
    uint32_t first_seq_ = 0;  // where the oldest record begins
    uint16_t mask_ = 0;
    uint16_t head_ = 0;
    uint16_t count_ = 0;
};

// What the retransmission timer is doing (RFC 8985 keeps three uses on one timer).
enum class TcpTimerUse : uint8_t { rto, probe, reorder };

// RACK's per-connection state (RFC 8985 6.1) and TLP's (7.1).
class Rack {
public:
    // Member-wise: a recycled socket is compared with a fresh one (tcp_recycle_test).
    bool operator==(const Rack&) const = default;
    static constexpr TimeNs kMinProbeTimeout = 10 * kMillisecond;
    static constexpr TimeNs kWorstDelayedAck = 200 * kMillisecond;  // RFC 8985 7.2 WCDelAckT

    // A segment first sent at `stamp` and covering up to `end` was delivered now
    // (6.2 steps 1-2): the most recently sent delivered segment sets RACK.xmit_ts,
    // RACK.end_seq and RACK.rtt. Retransmitted segments are the caller's to filter
    // (ambiguous deliveries are skipped).
    void on_delivered(uint32_t stamp, uint32_t end, TimeNs now);
    // 6.2 step 3: a segment below the highest SACKed one was delivered after it,
    // never retransmitted: the network reorders.
    void saw_reordering() { reordering_seen_ = true; }
    bool reordering_seen() const { return reordering_seen_; }

    // 6.2 step 4: the reordering window, min(reo_wnd_mult * min_RTT / 4, SRTT).
    TimeNs reorder_window(bool in_recovery, bool dup_thresh_sacked, TimeNs srtt) const;
    // 6.2 step 4's D-SACK adaptation: an ACK reported a duplicate (RFC 2883), i.e. a
    // retransmission was spurious: the window grows by min_RTT / 4 once per round
    // trip (snd_nxt marks the round) and stays grown for 16 recoveries.
    void on_dsack(uint32_t snd_una, uint32_t snd_nxt);
    // A recovery (fast or after an RTO) ended: one of the 16 is used up.
    void on_recovery_end();
    uint32_t reorder_multiplier() const { return reo_wnd_mult_; }

    // 6.2 step 5 for first transmissions: marks in `sb` every unSACKed octet lost whose
    // record RACK's rule condemns. Returns how long until the next record would be
    // condemned (the reordering timer), or 0 when none waits.
    TimeNs detect_loss(const SendTimes& times, SackScoreboard& sb, uint32_t snd_una, TimeNs now, TimeNs reo_wnd) const;

    bool has_sample() const { return has_sample_; }
    TimeNs rtt() const { return TimeNs{rtt_us_} * kMicrosecond; }
    TimeNs min_rtt() const { return TimeNs{min_rtt_us_} * kMicrosecond; }
    uint32_t xmit_stamp() const { return xmit_stamp_; }

    // --- TLP (RFC 8985 7) ---
    static TimeNs probe_timeout(TimeNs srtt, bool one_segment_in_flight) {
        TimeNs pto = 2 * srtt;
        if (pto < kMinProbeTimeout) pto = kMinProbeTimeout;
        if (one_segment_in_flight) pto += kWorstDelayedAck;
        return pto;
    }
    bool probe_out() const { return probe_out_; }
    uint32_t probe_high() const { return probe_high_; }
    bool probe_was_retransmission() const { return probe_retransmitted_; }
    void probe_sent(uint32_t snd_max, bool retransmission) {
        probe_out_ = true;
        probe_high_ = snd_max;
        probe_retransmitted_ = retransmission;
    }
    void probe_done() { probe_out_ = false; }

private:
    uint32_t xmit_stamp_ = 0;   // RACK.xmit_ts
    uint32_t end_seq_ = 0;      // RACK.end_seq
    uint32_t rtt_us_ = 0;       // RACK.rtt
    uint32_t min_rtt_us_ = 0;   // RACK.min_RTT (lowest seen; Linux windows it, we do not)
    uint32_t probe_high_ = 0;   // TLP.end_seq: SND.MAX when the probe left
    uint32_t dsack_round_ = 0;  // RACK.dsack_round: SND.NXT when the window last grew
    uint16_t reo_wnd_mult_ = 1;
    uint8_t reo_wnd_persist_ = 0;
    bool dsack_round_open_ = false;
    bool has_sample_ = false;
    bool reordering_seen_ = false;
    bool probe_out_ = false;            // TLP.is_retrans/end_seq valid: one probe per episode
    bool probe_retransmitted_ = false;  // the probe resent old data (7.4: a repaired loss)
};

}  // namespace quasi
