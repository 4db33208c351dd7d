// TCP buffers: ByteRing against a std::deque model (seeded, 100k random operations),
// SeqRangeSet merge cases, bounds and RFC 2018 block order against a bitmap model,
// and SackScoreboard (RFC 6675 section 4) on hand-computed examples, hostile blocks
// (bad-inputs.md) and floods, each also across the 2^32 wrap.
#include "stack/tcp_buffers.hpp"
#include "stack/tcp_sack.hpp"
#include "stack/tcp_seq.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace quasi {
namespace {

using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

Ranges ranges_of(const SeqRangeSet& s) {
    Ranges out;
    for (size_t i = 0; i < s.count(); ++i) out.emplace_back(s[i].left, s[i].right);
    return out;
}

const uint8_t* bytes(const char* s) { return reinterpret_cast<const uint8_t*>(s); }

std::string text(ByteRing::Spans s) {
    std::string out(s.first.begin(), s.first.end());
    out.append(s.second.begin(), s.second.end());
    return out;
}

// ---- ByteRing ----

TEST(ByteRing, InitRoundsUpAndEmptyRingTakesNothing) {
    ByteRing ring;
    EXPECT_EQ(ring.capacity(), 0u);
    EXPECT_EQ(ring.append(bytes("x"), 1), 0u);
    EXPECT_EQ(ring.write_at(0, bytes("x"), 1), 0u);
    EXPECT_EQ(ring.consume(5), 0u);
    EXPECT_FALSE(ring.init(0));
    ASSERT_TRUE(ring.init(1000));
    EXPECT_EQ(ring.capacity(), 1024u);
    EXPECT_EQ(ring.free_space(), 1024u);

    ring.append(bytes("abc"), 3);
    ByteRing moved(std::move(ring));
    EXPECT_EQ(ring.capacity(), 0u);  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
    EXPECT_EQ(moved.size(), 3u);
    moved.release();
    EXPECT_EQ(moved.capacity(), 0u);
    EXPECT_EQ(moved.size(), 0u);
}

TEST(ByteRing, SpansSplitAtTheWrap) {
    ByteRing ring;
    ASSERT_TRUE(ring.init(8));
    ring.append(bytes("......"), 6);
    ring.consume(6);  // head at index 6: "ABCDE" occupies 6, 7, 0, 1, 2
    ASSERT_EQ(ring.append(bytes("ABCDE"), 5), 5u);

    ByteRing::Spans s = ring.spans(0, 5);
    EXPECT_EQ(s.first.size(), 2u);
    EXPECT_EQ(s.second.size(), 3u);
    EXPECT_EQ(text(s), "ABCDE");
    EXPECT_EQ(text(ring.spans(1, 100)), "BCDE");  // clipped to size()
    s = ring.spans(2, 2);
    EXPECT_EQ(text(s), "CD");
    EXPECT_TRUE(s.second.empty());
    EXPECT_EQ(text(ring.spans(5, 1)), "");
    EXPECT_EQ(text(ring.spans(1, 1)), "B");
    EXPECT_TRUE(ring.spans(1, 1).second.empty());
}

// The send path's one-copy pattern (UserPayload): bytes written in place into the
// storage past the tail, split at the wrap, then made readable by commit.
TEST(ByteRing, TailSpansWriteInPlaceAcrossTheWrap) {
    ByteRing ring;
    ASSERT_TRUE(ring.init(8));
    ASSERT_TRUE(ring.reserve(8));
    ring.append(bytes("......"), 6);
    ring.consume(5);  // head at 5, one byte readable; the tail at 6
    ByteRing::WriteSpans w = ring.tail_spans(5);
    ASSERT_EQ(w.first.size(), 2u);  // 6, 7
    ASSERT_EQ(w.second.size(), 3u);  // 0, 1, 2
    std::memcpy(w.first.data(), "AB", 2);
    std::memcpy(w.second.data(), "CDE", 3);
    EXPECT_EQ(ring.size(), 1u);  // nothing readable before the commit
    ring.commit(5);
    EXPECT_EQ(text(ring.spans(1, 5)), "ABCDE");
    EXPECT_TRUE(ring.tail_spans(2).second.empty());  // 3, 4: no wrap
    EXPECT_EQ(ring.tail_spans(2).first.data(), w.second.data() + 3);
    EXPECT_TRUE(ring.tail_spans(0).first.empty());
}

// The receive-buffer pattern: out-of-order data is written at its offset in the
// window, then the hole is filled and everything up to the end of the contiguous
// range becomes readable at once.
TEST(ByteRing, WriteAtThenCommitFillsOutOfOrder) {
    ByteRing ring;
    ASSERT_TRUE(ring.init(16));
    ring.append(bytes("0123456789"), 10);
    ring.consume(10);  // make the window wrap

    EXPECT_EQ(ring.write_at(4, bytes("EFGH"), 4), 4u);
    EXPECT_EQ(ring.size(), 0u);                                // not readable yet
    EXPECT_EQ(ring.write_at(12, bytes("MNOPQRST"), 8), 4u);    // clipped to capacity
    EXPECT_EQ(ring.write_at(16, bytes("X"), 1), 0u);           // past the free space
    EXPECT_EQ(ring.append(bytes("ABCD"), 4), 4u);
    EXPECT_EQ(ring.size(), 4u);
    ring.commit(4);
    uint8_t out[16] = {};
    ASSERT_EQ(ring.read(out, sizeof out), 8u);
    EXPECT_EQ(std::string(out, out + 8), "ABCDEFGH");

    // The same through SeqRangeSet bookkeeping, as the receive path will do it.
    SeqRangeSet ooo;
    uint32_t rcv_nxt = 0xFFFFFFFC;  // across the sequence wrap as well
    ASSERT_TRUE(ooo.insert(rcv_nxt + 3, rcv_nxt + 6));
    ring.write_at(3, bytes("def"), 3);
    ASSERT_TRUE(ooo.insert(rcv_nxt + 7, rcv_nxt + 8));
    ring.write_at(7, bytes("h"), 1);
    ASSERT_TRUE(ooo.insert(rcv_nxt, rcv_nxt + 3));  // in order: fills the hole
    ring.write_at(0, bytes("abc"), 3);
    const uint32_t new_nxt = ooo.contiguous_from(rcv_nxt);
    EXPECT_EQ(new_nxt, rcv_nxt + 6);
    ring.commit(new_nxt - rcv_nxt);
    ooo.remove_below(new_nxt);
    EXPECT_EQ(ranges_of(ooo), (Ranges{{rcv_nxt + 7, rcv_nxt + 8}}));
    ASSERT_EQ(ring.read(out, sizeof out), 6u);
    EXPECT_EQ(std::string(out, out + 6), "abcdef");
}

TEST(ByteRing, RandomOperationsMatchDequeModel) {
    std::mt19937 rng(20240611);
    ByteRing ring;
    ASSERT_TRUE(ring.init(1000));
    const size_t cap = ring.capacity();
    std::deque<uint8_t> model;
    std::vector<uint8_t> data(cap), out(cap);
    auto random_bytes = [&](size_t n) {
        for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(rng());
    };
    auto upto = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n)(rng); };

    for (int op = 0; op < 100000; ++op) {
        switch (rng() % 6) {
        case 0: {  // append
            const size_t len = upto(700);
            random_bytes(len);
            const size_t taken = ring.append(data.data(), len);
            ASSERT_EQ(taken, std::min(len, cap - model.size()));
            model.insert(model.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(taken));
            break;
        }
        case 1: {  // read
            const size_t got = ring.read(out.data(), upto(700));
            ASSERT_LE(got, model.size());
            for (size_t i = 0; i < got; ++i, model.pop_front()) ASSERT_EQ(out[i], model.front());
            break;
        }
        case 2: {  // peek at an offset
            const size_t offset = upto(model.size() + 10), len = upto(700);
            const size_t got = ring.peek(offset, out.data(), len);
            ASSERT_EQ(got, offset >= model.size() ? 0 : std::min(len, model.size() - offset));
            for (size_t i = 0; i < got; ++i) ASSERT_EQ(out[i], model[offset + i]);
            break;
        }
        case 3: {  // consume
            const size_t len = upto(700);
            ASSERT_EQ(ring.consume(len), std::min(len, model.size()));
            model.erase(model.begin(), model.begin() + static_cast<ptrdiff_t>(std::min(len, model.size())));
            break;
        }
        case 4: {  // spans
            const size_t offset = upto(model.size()), len = upto(cap);
            const ByteRing::Spans s = ring.spans(offset, len);
            const size_t n = std::min(len, model.size() - offset);
            ASSERT_EQ(s.first.size() + s.second.size(), n);
            ASSERT_TRUE(s.second.empty() || s.first.data() + s.first.size() > s.second.data());
            for (size_t i = 0; i < n; ++i) {
                const uint8_t b = i < s.first.size() ? s.first[i] : s.second[i - s.first.size()];
                ASSERT_EQ(b, model[offset + i]);
            }
            break;
        }
        default: {  // out of order: the later part first, then the hole, then commit
            const size_t total = upto(cap - model.size()), split = upto(total);
            random_bytes(total);
            ASSERT_EQ(ring.write_at(split, data.data() + split, total - split), total - split);
            ASSERT_EQ(ring.size(), model.size());
            ASSERT_EQ(ring.write_at(0, data.data(), split), split);
            ring.commit(total);
            model.insert(model.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(total));
            break;
        }
        }
        ASSERT_EQ(ring.size(), model.size());
        ASSERT_EQ(ring.free_space(), cap - model.size());
    }
}

// ---- BlockCache (the layer's cache of freed first-size ring chunks) ----

// Counts what reaches the source behind the cache.
class CountingSource final : public MemorySource {
public:
    void* allocate(size_t bytes, size_t align) override {
        ++allocations;
        return heap_memory().allocate(bytes, align);
    }
    void deallocate(void* p, size_t bytes, size_t align) override {
        ++deallocations;
        heap_memory().deallocate(p, bytes, align);
    }
    size_t allocations = 0;
    size_t deallocations = 0;
};

TEST(BlockCache, ReusesFreedBlocksUpToItsBoundAndPassesOtherSizesThrough) {
    CountingSource source;
    BlockCache cache(source, 2048, 2);
    void* a = cache.allocate(2048, 16);
    void* b = cache.allocate(2048, 8);
    void* c = cache.allocate(2048, 16);
    EXPECT_EQ(source.allocations, 3u);
    cache.deallocate(a, 2048, 16);
    cache.deallocate(b, 2048, 8);
    cache.deallocate(c, 2048, 16);  // beyond the bound: straight back to the source
    EXPECT_EQ(source.deallocations, 1u);
    EXPECT_EQ(cache.bytes(), 2u * 2048);
    void* d = cache.allocate(2048, 16);  // the last one freed, without the source
    EXPECT_EQ(d, b);
    EXPECT_EQ(source.allocations, 3u);
    void* big = cache.allocate(4096, 16);  // another size is not cached
    cache.deallocate(big, 4096, 16);
    EXPECT_EQ(source.allocations, 4u);
    EXPECT_EQ(source.deallocations, 2u);
    cache.deallocate(d, 2048, 16);
    cache.release_all();
    EXPECT_EQ(cache.bytes(), 0u);
    EXPECT_EQ(source.deallocations, 4u);
}

TEST(BlockCache, TrimGivesBackOnlyWhatLayUnusedSinceTheLastTrim) {
    CountingSource source;
    BlockCache cache(source, 2048, 8);
    std::vector<void*> blocks;
    for (int i = 0; i < 4; ++i) blocks.push_back(cache.allocate(2048, 16));
    for (void* p : blocks) cache.deallocate(p, 2048, 16);
    cache.trim();  // the first call: all 4 arrived since, none had lain unused
    EXPECT_EQ(cache.blocks(), 4u);
    cache.deallocate(cache.allocate(2048, 16), 2048, 16);
    cache.deallocate(cache.allocate(2048, 16), 2048, 16);  // never below 3 held
    cache.trim();
    EXPECT_EQ(cache.blocks(), 1u) << "the 3 never taken go back; the one in use since stays";
    cache.trim();
    EXPECT_EQ(cache.blocks(), 0u);
    EXPECT_EQ(source.deallocations, 4u);
}

// ---- SeqRangeSet ----

TEST(SeqRangeSet, MergeCases) {
    SeqRangeSet s;
    ASSERT_TRUE(s.insert(10, 20));
    ASSERT_TRUE(s.insert(20, 30));  // adjacent on the right
    EXPECT_EQ(ranges_of(s), (Ranges{{10, 30}}));
    ASSERT_TRUE(s.insert(5, 10));  // adjacent on the left
    ASSERT_TRUE(s.insert(25, 35));  // overlapping
    EXPECT_EQ(ranges_of(s), (Ranges{{5, 35}}));
    ASSERT_TRUE(s.insert(12, 18));  // contained
    EXPECT_EQ(ranges_of(s), (Ranges{{5, 35}}));
    ASSERT_TRUE(s.insert(50, 60));
    ASSERT_TRUE(s.insert(70, 80));
    ASSERT_TRUE(s.insert(40, 45));
    EXPECT_EQ(ranges_of(s), (Ranges{{5, 35}, {40, 45}, {50, 60}, {70, 80}}));
    ASSERT_TRUE(s.insert(45, 50));  // bridges two ranges exactly
    EXPECT_EQ(ranges_of(s), (Ranges{{5, 35}, {40, 60}, {70, 80}}));
    ASSERT_TRUE(s.insert(0, 100));  // contains them all
    EXPECT_EQ(ranges_of(s), (Ranges{{0, 100}}));
    EXPECT_EQ(s.covered_bytes(), 100u);
    ASSERT_TRUE(s.insert(200, 200));  // empty
    ASSERT_TRUE(s.insert(300, 250));  // reversed: nothing to add
    EXPECT_EQ(s.count(), 1u);
}

TEST(SeqRangeSet, OrdersAndMergesAcrossTheWrap) {
    SeqRangeSet s;
    ASSERT_TRUE(s.insert(0x10, 0x20));
    ASSERT_TRUE(s.insert(0xFFFFFF00, 0xFFFFFF10));
    ASSERT_TRUE(s.insert(0xFFFFFFF0, 0x8));  // straddles 2^32
    EXPECT_EQ(ranges_of(s), (Ranges{{0xFFFFFF00, 0xFFFFFF10}, {0xFFFFFFF0, 0x8}, {0x10, 0x20}}));
    ASSERT_TRUE(s.insert(0x8, 0x10));
    EXPECT_EQ(ranges_of(s), (Ranges{{0xFFFFFF00, 0xFFFFFF10}, {0xFFFFFFF0, 0x20}}));
    EXPECT_EQ(s.covered_bytes(), 0x10u + 0x30u);
    EXPECT_TRUE(s.contains(0xFFFFFFFF));
    EXPECT_TRUE(s.contains(0));
    EXPECT_FALSE(s.contains(0x20));
    EXPECT_EQ(s.contiguous_from(0xFFFFFFF0), 0x20u);
    s.remove_below(0x4);  // trims the range straddling the wrap, drops the one before
    EXPECT_EQ(ranges_of(s), (Ranges{{0x4, 0x20}}));
}

TEST(SeqRangeSet, FullInsertFailsAndChangesNothing) {
    SeqRangeSet s(4);
    EXPECT_EQ(s.max_ranges(), 4u);
    for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(s.insert(100 * i, 100 * i + 10));
    EXPECT_TRUE(s.full());
    const Ranges before = ranges_of(s);
    SackBlock recent[4];
    ASSERT_EQ(s.most_recent(recent, 4), 4u);
    EXPECT_EQ(recent[0].left, 300u);

    EXPECT_FALSE(s.insert(50, 60));    // would be a fifth range
    EXPECT_FALSE(s.insert(1000, 1001));
    EXPECT_EQ(ranges_of(s), before);
    SackBlock again[4];
    ASSERT_EQ(s.most_recent(again, 4), 4u);
    EXPECT_EQ(again[0].left, 300u);  // a failed insert does not count as recent

    EXPECT_TRUE(s.insert(10, 20));  // touches a range: no new slot needed
    EXPECT_TRUE(s.insert(5, 250));  // bridges three ranges
    EXPECT_EQ(ranges_of(s), (Ranges{{0, 250}, {300, 310}}));
    EXPECT_TRUE(s.insert(50'000, 50'001));

    EXPECT_EQ(SeqRangeSet(1000).max_ranges(), SeqRangeSet::kMaxRanges);
    EXPECT_EQ(SeqRangeSet(0).max_ranges(), 1u);
}

TEST(SeqRangeSet, RemoveBelowAndContiguousFrom) {
    SeqRangeSet s;
    s.insert(10, 20);
    s.insert(30, 40);
    s.insert(50, 60);
    EXPECT_EQ(s.contiguous_from(10), 20u);  // starts at seq
    EXPECT_EQ(s.contiguous_from(35), 40u);  // covers seq
    EXPECT_EQ(s.contiguous_from(20), 20u);  // half-open: 20 is not held
    EXPECT_EQ(s.contiguous_from(45), 45u);
    s.remove_below(10);
    EXPECT_EQ(s.count(), 3u);
    s.remove_below(35);  // drops [10,20), trims [30,40)
    EXPECT_EQ(ranges_of(s), (Ranges{{35, 40}, {50, 60}}));
    s.remove_below(50);  // a range ending exactly at seq goes
    EXPECT_EQ(ranges_of(s), (Ranges{{50, 60}}));
    s.remove_below(1000);
    EXPECT_TRUE(s.empty());
}

// RFC 2018 4: the first block holds the segment that triggered the ACK; the rest
// repeat the most recently reported first blocks, never a subset of one included.
TEST(SeqRangeSet, MostRecentFollowsRfc2018) {
    SeqRangeSet s;
    s.insert(10, 20);  // A
    s.insert(30, 40);  // B
    s.insert(50, 60);  // C
    SackBlock out[4];
    ASSERT_EQ(s.most_recent(out, 4), 3u);
    EXPECT_EQ(std::make_pair(out[0].left, out[1].left), std::make_pair(50u, 30u));
    EXPECT_EQ(out[2].left, 10u);

    s.insert(35, 38);  // a duplicate inside B: B is reported first again
    ASSERT_EQ(s.most_recent(out, 4), 3u);
    EXPECT_EQ(std::make_pair(out[0].left, out[1].left), std::make_pair(30u, 50u));

    s.insert(20, 30);  // joins A and B: the union comes first, no subset repeated
    ASSERT_EQ(s.most_recent(out, 4), 2u);
    EXPECT_EQ(std::make_pair(out[0].left, out[0].right), std::make_pair(10u, 40u));
    EXPECT_EQ(out[1].left, 50u);

    s.insert(70, 80);
    ASSERT_EQ(s.most_recent(out, 1), 1u);  // max honoured
    EXPECT_EQ(out[0].left, 70u);
    s.remove_below(80);  // RCV.NXT passed them all: no blocks
    EXPECT_EQ(s.most_recent(out, 4), 0u);
}

TEST(SeqRangeSet, RandomInsertsMatchBitmapModel) {
    std::mt19937 rng(7);
    constexpr uint32_t kBase = 0xFFFFFE00;  // the window straddles 2^32
    constexpr uint32_t kWindow = 1200;
    SeqRangeSet s(SeqRangeSet::kMaxRanges);
    std::vector<bool> model(kWindow);
    uint32_t floor = 0;
    for (int op = 0; op < 20000; ++op) {
        if (op % 400 == 0) {
            s.clear();
            model.assign(kWindow, false);
            floor = 0;
        }
        if (rng() % 10 == 0) {
            floor = std::min<uint32_t>(kWindow - 1, floor + rng() % 40);
            s.remove_below(kBase + floor);
            for (uint32_t i = 0; i < floor; ++i) model[i] = false;
        } else {
            const uint32_t left = floor + rng() % (kWindow - floor), len = rng() % 24;
            const uint32_t right = std::min(kWindow, left + len);
            const Ranges before = ranges_of(s);
            if (s.insert(kBase + left, kBase + right)) {
                for (uint32_t i = left; i < right; ++i) model[i] = true;
            } else {
                ASSERT_EQ(ranges_of(s), before);
            }
        }
        Ranges expect;
        for (uint32_t i = 0; i < kWindow; ++i) {
            if (!model[i]) continue;
            uint32_t j = i;
            while (j < kWindow && model[j]) ++j;
            expect.emplace_back(kBase + i, kBase + j);
            i = j;
        }
        ASSERT_EQ(ranges_of(s), expect) << "op " << op;
    }
}

// ---- SackScoreboard ----

TEST(SackScoreboard, IgnoresBlocksOutsideTheWindow) {
    SackScoreboard sb;
    const SackBlock bad[] = {{500, 900},     // D-SACK below SND.UNA
                             {900, 1500},    // straddles SND.UNA
                             {4500, 5500},   // past SND.NXT
                             {3000, 2000},   // reversed
                             {2000, 2000}};  // empty
    EXPECT_EQ(sb.update(bad, 5, 1000, 5000), 0u);
    EXPECT_EQ(sb.ranges(), 0u);
    EXPECT_EQ(sb.invalid_blocks(), 5u);
    EXPECT_EQ(sb.highest_sacked(), 1000u);

    const SackBlock good[] = {{2000, 3000}};
    EXPECT_EQ(sb.update(good, 1, 1000, 5000), 1000u);
    EXPECT_EQ(sb.update(good, 1, 1000, 5000), 0u);  // nothing new
    const SackBlock more[] = {{2500, 3500}, {4000, 5000}};  // up to SND.NXT is valid
    EXPECT_EQ(sb.update(more, 2, 1000, 5000), 500u + 1000u);
    EXPECT_EQ(sb.highest_sacked(), 5000u);
    EXPECT_TRUE(sb.is_sacked(2000));
    EXPECT_FALSE(sb.is_sacked(3500));

    EXPECT_EQ(sb.update(nullptr, 0, 3000, 5000), 0u);  // the cumulative ACK moved
    EXPECT_FALSE(sb.is_sacked(2999));
    EXPECT_TRUE(sb.is_sacked(3000));
    sb.on_cumulative_ack(5000);
    EXPECT_EQ(sb.ranges(), 0u);
    EXPECT_EQ(sb.highest_sacked(), 5000u);
}

TEST(SackScoreboard, IsLostByDiscontiguousRanges) {
    SackScoreboard sb;
    const SackBlock blocks[] = {{2000, 2100}, {4000, 4100}, {6000, 6100}};
    sb.update(blocks, 3, 0, 20000);
    // 300 SACKed octets are far below 2 * SMSS: only the range count decides.
    EXPECT_TRUE(sb.is_lost(1000, 1000));   // three ranges above
    EXPECT_TRUE(sb.is_lost(2050, 1000));   // the rest of [2000,2100) still lies above
    EXPECT_FALSE(sb.is_lost(2099, 1000));  // only two ranges above
    EXPECT_FALSE(sb.is_lost(3000, 1000));
}

TEST(SackScoreboard, IsLostByOctetsAbove) {
    // One range: the count test never fires; "more than (DupThresh - 1) * SMSS".
    SackScoreboard exactly, more;
    const SackBlock two_mss[] = {{1000, 3000}}, over[] = {{1000, 3001}};
    exactly.update(two_mss, 1, 0, 10000);
    more.update(over, 1, 0, 10000);
    EXPECT_FALSE(exactly.is_lost(0, 1000));
    EXPECT_TRUE(more.is_lost(0, 1000));
    EXPECT_FALSE(more.is_lost(1001, 1000));  // 1999 octets above
}

// The worked example: SMSS 1000, ten segments S0..S9 outstanding, Sk = [base + 1000k,
// base + 1000k + 1000). SACKed: S2-S4 (one range), S6, S8. Per unSACKed gap:
//   S0-S1: 3 ranges (and 5000 octets) above        -> lost
//   S5:    2 ranges, 2000 octets above (not > 2000)  -> not lost
//   S7:    1 range, 1000 octets                      -> not lost
//   S9:    nothing above                             -> not lost
// SetPipe: (a) counts the unSACKed, not-lost octets S5 + S7 + S9 = 3000; (b) adds
// every unSACKed octet below HighRxt once more.
//   high_rxt = base         (nothing retransmitted)   -> 3000
//   high_rxt = base + 1000  (S0 retransmitted)        -> 3000 + 1000 = 4000
//   high_rxt = base + 2000  (S0, S1)                  -> 5000
//   high_rxt = base + 6000  (S0, S1, then S5 by rule 3; S2-S4 SACKed count nothing;
//                            S5 is counted by both (a) and (b))  -> 3000 + 3000 = 6000
// NextSeg: rule (1) gives S0, then S1; from S2 on the first unSACKed octet is S5,
// not lost, so only rule (3) gives it, then S7; past S8 nothing is below the highest
// SACKed octet (base + 9000), so S9 is rule (2)'s business, not ours.
TEST(SackScoreboard, Rfc6675WorkedExample) {
    for (const uint32_t base : {0u, 0xFFFFEE00u /* S4 straddles 2^32 */, 0x7FFFFC00u}) {
        SCOPED_TRACE(base);
        SackScoreboard sb;
        const uint32_t una = base, nxt = base + 10000;
        const SackBlock blocks[] = {{base + 8000, base + 9000}, {base + 6000, base + 7000},
                                    {base + 2000, base + 5000}};
        EXPECT_EQ(sb.update(blocks, 3, una, nxt), 5000u);
        EXPECT_EQ(sb.ranges(), 3u);
        EXPECT_EQ(sb.highest_sacked(), base + 9000);
        EXPECT_TRUE(sb.is_lost(base + 1999, 1000));
        EXPECT_FALSE(sb.is_lost(base + 5000, 1000));

        EXPECT_EQ(sb.pipe(una, nxt, base, 1000), 3000u);
        EXPECT_EQ(sb.pipe(una, nxt, base + 1000, 1000), 4000u);
        EXPECT_EQ(sb.pipe(una, nxt, base + 2000, 1000), 5000u);
        EXPECT_EQ(sb.pipe(una, nxt, base + 6000, 1000), 6000u);
        EXPECT_EQ(sb.pipe(una, nxt, base - 5000, 1000), 3000u);    // stale high_rxt: none
        EXPECT_EQ(sb.pipe(una, nxt, base + 20000, 1000), 8000u);   // clamped to SND.NXT

        uint32_t seq = 0, len = 0;
        ASSERT_TRUE(sb.next_seg(una, nxt, base, 1000, false, seq, len));
        EXPECT_EQ(std::make_pair(seq, len), std::make_pair(base, 1000u));
        ASSERT_TRUE(sb.next_seg(una, nxt, base + 1000, 1000, false, seq, len));
        EXPECT_EQ(std::make_pair(seq, len), std::make_pair(base + 1000, 1000u));
        ASSERT_TRUE(sb.next_seg(una, nxt, base, 1500, false, seq, len));  // SMSS clip
        EXPECT_EQ(len, 1500u);
        ASSERT_TRUE(sb.next_seg(una, nxt, base + 1500, 1500, false, seq, len));  // gap clip
        EXPECT_EQ(std::make_pair(seq, len), std::make_pair(base + 1500, 500u));

        EXPECT_FALSE(sb.next_seg(una, nxt, base + 2000, 1000, false, seq, len));  // S5 not lost
        ASSERT_TRUE(sb.next_seg(una, nxt, base + 2000, 1000, true, seq, len));     // rule (3)
        EXPECT_EQ(std::make_pair(seq, len), std::make_pair(base + 5000, 1000u));
        ASSERT_TRUE(sb.next_seg(una, nxt, base + 6000, 1000, true, seq, len));
        EXPECT_EQ(seq, base + 7000);
        EXPECT_FALSE(sb.next_seg(una, nxt, base + 8000, 1000, true, seq, len));
        EXPECT_FALSE(sb.next_seg(una, nxt, base + 9000, 1000, true, seq, len));

        // S0 and S1 are cumulatively ACKed: pipe loses their octets; S5 is still
        // not lost, so rule (1) has nothing. A SACK of S9 then merges with S8 and
        // puts 3000 octets above S5 (lost, by the octet test), 2000 above S7 (not).
        sb.on_cumulative_ack(base + 2000);
        EXPECT_EQ(sb.pipe(base + 2000, nxt, base + 2000, 1000), 3000u);
        EXPECT_FALSE(sb.next_seg(base + 2000, nxt, base + 2000, 1000, false, seq, len));
        const SackBlock s9[] = {{base + 9000, base + 10000}};
        EXPECT_EQ(sb.update(s9, 1, base + 2000, nxt), 1000u);
        EXPECT_EQ(sb.ranges(), 3u);  // [8000,9000) and [9000,10000) merged
        EXPECT_EQ(sb.pipe(base + 2000, nxt, base + 2000, 1000), 1000u);  // S7: 1 range, 2000 above
        ASSERT_TRUE(sb.next_seg(base + 2000, nxt, base + 2000, 1000, false, seq, len));
        EXPECT_EQ(seq, base + 5000);
    }
}

void expect_sane(const SackScoreboard& sb, uint32_t una, uint32_t nxt) {
    const SeqRangeSet& s = sb.set();
    ASSERT_LE(s.count(), s.max_ranges());
    for (size_t i = 0; i < s.count(); ++i) {
        ASSERT_TRUE(seq_le(una, s[i].left) && seq_lt(s[i].left, s[i].right) && seq_le(s[i].right, nxt));
        if (i > 0) {
            ASSERT_TRUE(seq_lt(s[i - 1].right, s[i].left));  // disjoint, not adjacent
        }
    }
}

// CVE-2019-11478: a receiver SACKing many tiny, scattered pieces must not grow the
// scoreboard past its cap; the accounting of new octets stays exact.
TEST(SackScoreboard, FloodOfTinyBlocksStaysBounded) {
    for (const uint32_t base : {1000u, 0xFFFFFFFFu - 500000u}) {
        for (const size_t cap : {size_t{8}, SeqRangeSet::kMaxRanges}) {
            std::mt19937 rng(base ^ static_cast<uint32_t>(cap));
            SackScoreboard sb(cap);
            const uint32_t una = base, nxt = base + 1'000'000;
            uint64_t reported = 0;
            for (int ack = 0; ack < 250; ++ack) {
                SackBlock blocks[4];
                for (SackBlock& b : blocks) {
                    b.left = una + rng() % 999'000;
                    b.right = b.left + 1 + rng() % 8;
                }
                reported += sb.update(blocks, 4, una, nxt);
                expect_sane(sb, una, nxt);
            }
            EXPECT_EQ(sb.ranges(), cap);
            EXPECT_GT(sb.full_blocks(), 0u);
            EXPECT_EQ(sb.invalid_blocks(), 0u);
            EXPECT_EQ(reported, sb.set().covered_bytes());
            // Queries stay consistent with a full board.
            uint32_t seq = 0, len = 0;
            EXPECT_TRUE(sb.next_seg(una, nxt, una, 1460, false, seq, len));  // cap >= 3 ranges above
            EXPECT_EQ(seq, una);
            EXPECT_LE(sb.pipe(una, nxt, una, 1460), nxt - una);
        }
    }
}

}  // namespace
}  // namespace quasi
