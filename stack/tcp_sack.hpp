// The sender's SACK scoreboard and the loss-recovery queries of RFC 6675 ("A
// Conservative Loss Recovery Algorithm Based on SACK for TCP"), section 4.
//
// Conventions. RFC 6675 numbers octets inclusively (HighACK is the last octet
// cumulatively acknowledged, HighData the last sent, HighRxt the last retransmitted).
// Here every bound is exclusive, like SND.UNA and SND.NXT (RFC 9293 3.3.1):
//   snd_una   first unacknowledged octet          (RFC 6675 HighACK + 1)
//   snd_nxt   first octet never sent              (HighData + 1)
//   high_rxt  one past the last retransmitted one (HighRxt + 1); snd_una when the
//             current recovery has retransmitted nothing, so octets in
//             [snd_una, high_rxt) are the ones retransmitted.
// All sequence numbers are compared modulo 2^32.
//
// Hardening (/work/shared/notes/bad-inputs.md): a SACK block that is reversed, empty,
// or not inside [snd_una, snd_nxt] is ignored, which also ignores D-SACK blocks
// below SND.UNA (RFC 2883 3; RACK reads them, stack/tcp_rack.cpp). The scoreboard is a SeqRangeSet
// with a fixed cap, so a receiver (or attacker) reporting many small holes cannot
// make us split state without bound (CVE-2019-11478): a block that would need a range
// beyond the cap is ignored. SACK is advisory (RFC 2018 8), so ignoring costs only
// recovery speed, never correctness; the retransmit queue itself is not split by SACK
// at all, being a byte ring freed only by the cumulative ACK.
#pragma once

#include "stack/clock.hpp"
#include "stack/tcp_buffers.hpp"
#include "stack/tcp_seq.hpp"

#include <cstddef>
#include <cstdint>

namespace quasi {

class SackScoreboard {
public:
    static constexpr uint32_t kDupThresh = 3;     // RFC 6675 2, DupThresh
    static constexpr uint32_t kMaxDupThresh = 16;  // how far proven reordering may raise it

    explicit SackScoreboard(size_t max_ranges = SeqRangeSet::kMaxRanges) : sacked_(max_ranges) {}

    // RFC 6675 4 Update(): marks the valid blocks of one ACK after forgetting what
    // lies below snd_una. Returns the octets newly SACKed by this ACK (the count
    // RFC 6675 5 uses to decide whether an ACK is a duplicate).
    uint32_t update(const SackBlock* blocks, size_t count, uint32_t snd_una, uint32_t snd_nxt);
    // Forgets everything below the new cumulative ACK.
    void on_cumulative_ack(uint32_t snd_una);
    // Forgets all SACK state and lost marks (after the receiver reneged, RFC 2018 8);
    // snd_una is kept.
    void clear() {
        sacked_.clear();
        lost_marked_ = false;
    }

    // Every unSACKed octet of [snd_una, below) is lost, whatever IsLost says: the
    // verdict of RACK's time rule (stack/tcp_rack.hpp) and of an RTO (RFC 8985 6.3:
    // everything in flight then is lost, the SACKed octets excepted). Never lowered
    // until the cumulative ACK passes it; `below` must not exceed the last data octet
    // sent (a FIN is no octet NextSeg may resend).
    void mark_lost_below(uint32_t snd_una, uint32_t below) {
        on_cumulative_ack(snd_una);
        if (!seq_gt(below, snd_una)) return;
        if (!lost_marked_ || seq_gt(below, lost_below_)) lost_below_ = below;
        lost_marked_ = true;
    }
    // Withdraws the lost mark (a recovery found spurious: what it condemned arrived).
    void forget_lost() { lost_marked_ = false; }
    // The lost mark, or the last snd_una seen when there is none.
    uint32_t lost_below() const { return lost_marked_ ? lost_below_ : snd_una_; }
    void set_source(MemorySource* source) { sacked_.set_source(source); }

    bool is_sacked(uint32_t seq) const { return sacked_.contains(seq); }

    // DupThresh for this connection: RFC 6675 2 lets it be raised where reordering is
    // known (RFC 4653's adaptive DupThresh); we raise it when a fast retransmit proves
    // spurious (TcpInput::undo_spurious_recovery), up to kMaxDupThresh.
    uint32_t dup_thresh() const { return dup_thresh_; }
    void set_dup_thresh(uint32_t n) { dup_thresh_ = n < kDupThresh ? kDupThresh : n > kMaxDupThresh ? kMaxDupThresh : n; }

    // RFC 6675 4 IsLost(SeqNum): at least DupThresh discontiguous SACKed ranges lie
    // above seq, or more than (DupThresh - 1) * SMSS SACKed octets do; or seq lies
    // below the lost mark (mark_lost_below).
    bool is_lost(uint32_t seq, uint32_t smss) const;

    // RFC 6675 4 SetPipe(): the octets of [snd_una, snd_nxt) that are not SACKed, each
    // counted (a) once unless IsLost, and (b) once more if below high_rxt (its
    // retransmission is in flight too).
    uint32_t pipe(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt, uint32_t smss) const;

    // RFC 6675 4 NextSeg() rules (1) and (3); rule (2), new data, and rule (4), the
    // rescue retransmission, are the caller's. Rule (1): the first unSACKed octet at
    // or above max(high_rxt, snd_una) and below highest_sacked() that IsLost, or
    // (beyond highest_sacked() too) below the lost mark. Rule (3),
    // only when allow_rule3: the same octet without the IsLost condition. out_len is
    // clipped to smss and to the next SACKed range. False when no such octet exists.
    bool next_seg(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt, uint32_t smss, bool allow_rule3,
                  uint32_t& out_seq, uint32_t& out_len) const;

    // One past the highest SACKed octet, or the last snd_una seen when none is.
    uint32_t highest_sacked() const;
    size_t ranges() const { return sacked_.count(); }
    const SeqRangeSet& set() const { return sacked_; }

    // Blocks ignored since construction: outside the window, reversed or empty
    // (invalid_blocks), or refused because the scoreboard was full (full_blocks).
    uint64_t invalid_blocks() const { return invalid_blocks_; }
    uint64_t full_blocks() const { return full_blocks_; }

private:
    // IsLost for any octet of the unSACKed gap just below range `from`: the ranges
    // above every octet of a gap are the same, those from index `from` up, so IsLost
    // is one answer per gap.
    bool lost_above(size_t from, uint32_t smss) const;

    SeqRangeSet sacked_;
    uint32_t snd_una_ = 0;
    uint32_t lost_below_ = 0;  // mark_lost_below, above snd_una_ while lost_marked_
    bool lost_marked_ = false;
    uint64_t invalid_blocks_ = 0;
    uint64_t full_blocks_ = 0;
    uint32_t dup_thresh_ = kDupThresh;
};

// Lost retransmissions. RFC 6675 retransmits each hole once; a retransmission that
// is lost too waits for the RTO. A retransmission made in SACK recovery remembers
// SND.MAX and the time when it left; data sent after it travels behind it. It counts
// as lost again, and goes once more, while part of it is still missing and
//  - by sequence (as Linux's FACK-era "lost retransmit" check): the peer has SACKed
//    more than (DupThresh - 1) * SMSS beyond that SND.MAX (IsLost's octet rule, so
//    reordering tolerated for a first loss is tolerated here too), or
//  - by time (RFC 8985 RACK's rule, for windows too small for the first): data sent
//    after it has been delivered (new data beyond it SACKed, or a later
//    retransmission wholly SACKed or acknowledged) and more than `wait` (an RTT and a
//    quarter) has passed since it left.
// Checked on every ACK in recovery, and by RACK's reordering timer when only time is
// missing (next_due). Bounded: with the log full the oldest mark gives way (its loss
// then waits for the RTO, as without this).
class RetransmitLog {
public:
    static constexpr size_t kMaxMarks = 16;

    void clear() { count_ = 0; }
    size_t size() const { return count_; }
    // A retransmission of [seq, end) just left, at `now` with SND.MAX at snd_max.
    void add(uint32_t seq, uint32_t end, uint32_t snd_max, TimeNs now);
    // The first retransmission found lost, as the range to send again (at most smss,
    // the part still neither acknowledged nor SACKed); forgets marks wholly acknowledged
    // or SACKed on the way. `mark` is for resent(). wait 0: no time rule (no RTT yet).
    bool next_lost(const SackScoreboard& sb, uint32_t snd_una, uint32_t snd_max, uint32_t smss, TimeNs now,
                   TimeNs wait, size_t& mark, uint32_t& out_seq, uint32_t& out_len);
    // How long until the time rule condemns a mark that has its evidence (something
    // sent after it delivered) but not yet the time; 0 when none waits.
    TimeNs next_due(const SackScoreboard& sb, uint32_t snd_una, TimeNs now, TimeNs wait) const;
    // Mark `mark` was sent again at `now`, with SND.MAX at snd_max: it moves to the end
    // of the log (marks stay in the order they left: snd_max and time only grow, so
    // when a mark is not lost by either rule no later one is).
    void resent(size_t mark, uint32_t snd_max, TimeNs now);

private:
    struct Mark {
        uint32_t seq;
        uint32_t end;
        uint32_t snd_max;  // SND.MAX when it left
        TimeNs sent_at;
    };
    void erase(size_t i);
    // Whether every octet of mark i is acknowledged or SACKed.
    bool delivered(size_t i, const SackScoreboard& sb, uint32_t snd_una) const;
    // Whether something sent after mark i was delivered (RACK's evidence).
    bool later_delivered(size_t i, const SackScoreboard& sb, uint32_t snd_una) const;
    // Only [0, count_) is ever read: left uninitialized, so that making a socket does
    // not clear 384 bytes that most connections (no loss) never touch.
    Mark marks_[kMaxMarks];
    size_t count_ = 0;
};

}  // namespace quasi
