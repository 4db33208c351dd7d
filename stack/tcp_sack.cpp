#include "stack/tcp_sack.hpp"

#include "stack/tcp_seq.hpp"

#include <algorithm>

namespace quasi {
namespace {

// RFC 6675 4 IsLost's two tests, given what is SACKed above an octet. "More than" is
// strict: exactly (DupThresh - 1) * SMSS octets above do not make it lost.
bool lost_by(size_t ranges_above, uint64_t octets_above, uint32_t smss, uint32_t dup_thresh) {
    return ranges_above >= dup_thresh || octets_above > uint64_t{dup_thresh - 1} * smss;
}

}  // namespace

uint32_t SackScoreboard::update(const SackBlock* blocks, size_t count, uint32_t snd_una, uint32_t snd_nxt) {
    on_cumulative_ack(snd_una);
    const uint32_t before = sacked_.covered_bytes();
    for (size_t i = 0; i < count; ++i) {
        const SackBlock& b = blocks[i];
        // Only snd_una <= left < right <= snd_nxt is a block about data we hold; a
        // D-SACK below snd_una, a block straddling it, or one past snd_nxt is not.
        if (!seq_lt(b.left, b.right) || seq_lt(b.left, snd_una) || seq_gt(b.right, snd_nxt)) {
            ++invalid_blocks_;
            continue;
        }
        if (!sacked_.insert(b.left, b.right)) ++full_blocks_;
    }
    // Nothing is removed while inserting, so the growth is exactly the new octets.
    return sacked_.covered_bytes() - before;
}

void SackScoreboard::on_cumulative_ack(uint32_t snd_una) {
    snd_una_ = snd_una;
    if (lost_marked_ && !seq_gt(lost_below_, snd_una)) lost_marked_ = false;
    sacked_.remove_below(snd_una);
}

bool SackScoreboard::lost_above(size_t from, uint32_t smss) const {
    uint64_t octets = 0;
    for (size_t i = from; i < sacked_.count(); ++i) octets += sacked_[i].length();
    return lost_by(sacked_.count() - from, octets, smss, dup_thresh_);
}

bool SackScoreboard::is_lost(uint32_t seq, uint32_t smss) const {
    if (lost_marked_ && seq_ge(seq, snd_una_) && seq_lt(seq, lost_below_)) return true;
    size_t ranges_above = 0;
    uint64_t octets_above = 0;
    for (size_t i = 0; i < sacked_.count(); ++i) {
        // The part of the range made of octets strictly greater than seq.
        const uint32_t left = seq_max(sacked_[i].left, seq + 1);
        if (!seq_lt(left, sacked_[i].right)) continue;
        ++ranges_above;
        octets_above += sacked_[i].right - left;
    }
    return lost_by(ranges_above, octets_above, smss, dup_thresh_);
}

uint32_t SackScoreboard::pipe(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt, uint32_t smss) const {
    if (!seq_lt(snd_una, snd_nxt)) return 0;
    const uint32_t rxt_end = seq_min(seq_max(high_rxt, snd_una), snd_nxt);
    const uint32_t lost_mark = lost_marked_ ? seq_max(lost_below_, snd_una) : snd_una;
    uint64_t pipe = 0;
    // Walks the unSACKed gaps of [snd_una, snd_nxt) instead of single octets: IsLost
    // is constant over a gap (see lost_above), and so is rule (b) up to rxt_end.
    auto add_gap = [&](uint32_t left, uint32_t right, bool lost) {
        // The part below the lost mark is lost whatever the SACKs above it say.
        const uint32_t marked_end = seq_lt(left, lost_mark) ? seq_min(right, lost_mark) : left;
        if (!lost) pipe += right - marked_end;                                    // SetPipe (a)
        if (seq_lt(left, rxt_end)) pipe += seq_min(right, rxt_end) - left;        // SetPipe (b)
    };
    uint32_t cursor = snd_una;
    for (size_t i = 0; i < sacked_.count(); ++i) {
        const SeqRangeSet::Range& r = sacked_[i];
        if (seq_le(r.right, cursor)) continue;
        if (!seq_lt(r.left, snd_nxt)) break;
        if (seq_lt(cursor, r.left)) add_gap(cursor, r.left, lost_above(i, smss));
        cursor = seq_max(cursor, r.right);
    }
    if (seq_lt(cursor, snd_nxt)) add_gap(cursor, snd_nxt, lost_above(sacked_.count(), smss));
    return static_cast<uint32_t>(std::min<uint64_t>(pipe, UINT32_MAX));
}

bool SackScoreboard::next_seg(uint32_t snd_una, uint32_t snd_nxt, uint32_t high_rxt, uint32_t smss,
                              bool allow_rule3, uint32_t& out_seq, uint32_t& out_len) const {
    if (smss == 0) return false;
    // (1.a) above HighRxt, and never below SND.UNA (high_rxt is stale after an ACK).
    uint32_t start = seq_max(high_rxt, snd_una);
    const uint32_t lost_mark = lost_marked_ ? seq_max(lost_below_, snd_una) : snd_una;
    for (size_t i = 0; i < sacked_.count(); ++i) {
        const SeqRangeSet::Range& r = sacked_[i];
        if (seq_le(r.right, start)) continue;
        if (seq_le(r.left, start)) {  // start is SACKed: the next unSACKed octet follows
            start = r.right;
            continue;
        }
        // start is the smallest unSACKed candidate and lies below range i, so (1.b)
        // holds. IsLost only gets harder higher up (fewer SACKed octets above), so if
        // this one is not lost none is and rule (1) fails: rule (3) takes the same one.
        // Below the lost mark it is lost regardless, up to the mark.
        uint32_t gap_end = seq_min(r.left, snd_nxt);
        if (!seq_lt(start, gap_end)) return false;
        if (!allow_rule3 && !lost_above(i, smss)) {
            if (!seq_lt(start, lost_mark)) return false;
            gap_end = seq_min(gap_end, lost_mark);
        }
        out_seq = start;
        out_len = std::min(smss, gap_end - start);
        return true;
    }
    // Beyond the highest SACKed octet only the lost mark makes an octet lost (1.b
    // asks for SACKed data above; an RTO or RACK's time rule stands in for it).
    const uint32_t marked_end = seq_min(lost_mark, snd_nxt);
    if (!seq_lt(start, marked_end)) return false;
    out_seq = start;
    out_len = std::min(smss, marked_end - start);
    return true;
}

uint32_t SackScoreboard::highest_sacked() const {
    return sacked_.empty() ? snd_una_ : sacked_[sacked_.count() - 1].right;
}

void RetransmitLog::add(uint32_t seq, uint32_t end, uint32_t snd_max, TimeNs now) {
    if (count_ == kMaxMarks) erase(0);
    marks_[count_++] = Mark{seq, end, snd_max, now};
}

void RetransmitLog::erase(size_t i) {
    for (size_t j = i + 1; j < count_; ++j) marks_[j - 1] = marks_[j];
    --count_;
}

bool RetransmitLog::next_lost(const SackScoreboard& sb, uint32_t snd_una, uint32_t snd_max, uint32_t smss,
                              TimeNs now, TimeNs wait, size_t& mark, uint32_t& out_seq, uint32_t& out_len) {
    const uint32_t highest = sb.highest_sacked();
    const uint32_t margin = (sb.dup_thresh() - 1) * smss;
    for (size_t i = 0; i < count_;) {
        const Mark m = marks_[i];
        if (seq_le(m.end, snd_una)) {  // acknowledged
            erase(i);
            continue;
        }
        // Marks are in the order they left: if this one is not lost by either rule,
        // no later one is.
        const bool by_sequence = seq_gt(highest, m.snd_max + margin);
        const bool by_time = wait != 0 && now - m.sent_at > wait && later_delivered(i, sb, snd_una);
        if (!by_sequence && !by_time) return false;
        uint32_t seq = 0, len = 0;
        if (!sb.next_seg(snd_una, snd_max, seq_max(m.seq, snd_una), smss, true, seq, len) ||
            !seq_lt(seq, m.end)) {  // every octet of it SACKed since
            erase(i);
            continue;
        }
        mark = i;
        out_seq = seq;
        out_len = std::min(len, m.end - seq);
        return true;
    }
    return false;
}

bool RetransmitLog::delivered(size_t i, const SackScoreboard& sb, uint32_t snd_una) const {
    const Mark& m = marks_[i];
    return seq_le(m.end, snd_una) || !seq_lt(sb.set().contiguous_from(seq_max(m.seq, snd_una)), m.end);
}

bool RetransmitLog::later_delivered(size_t i, const SackScoreboard& sb, uint32_t snd_una) const {
    if (seq_gt(sb.highest_sacked(), marks_[i].snd_max)) return true;  // new data sent after it
    for (size_t j = i + 1; j < count_; ++j)
        if (delivered(j, sb, snd_una)) return true;
    return false;
}

TimeNs RetransmitLog::next_due(const SackScoreboard& sb, uint32_t snd_una, TimeNs now, TimeNs wait) const {
    if (wait == 0) return 0;
    TimeNs due = 0;
    for (size_t i = 0; i < count_; ++i) {
        const Mark& m = marks_[i];
        if (now - m.sent_at > wait || delivered(i, sb, snd_una) || !later_delivered(i, sb, snd_una)) continue;
        const TimeNs left = m.sent_at + wait - now + 1;  // "more than wait"
        if (due == 0 || left < due) due = left;
    }
    return due;
}

void RetransmitLog::resent(size_t mark, uint32_t snd_max, TimeNs now) {
    Mark m = marks_[mark];
    erase(mark);
    m.snd_max = snd_max;
    m.sent_at = now;
    marks_[count_++] = m;
}

}  // namespace quasi
