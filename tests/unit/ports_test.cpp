// Tests for the Linux port backends that need no root: the in-memory link and the
// impairment decorator. The tap backend is covered by the interop tests, which run
// inside a network namespace.
#include "ports/x86/impaired.hpp"
#include "ports/x86/mem_link.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/thread_link.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <thread>
#include <vector>

namespace quasi {
namespace {

constexpr size_t kFrameLength = 100;

// An Ethernet frame whose payload starts with a 32-bit sequence number; the rest
// is a pattern derived from it, so a regenerated frame is the expected bytes.
PacketPtr make_frame(BufferPool& pool, uint32_t sequence, size_t length = kFrameLength) {
    PacketPtr frame = pool.alloc();
    uint8_t* p = frame->append(length);
    for (size_t i = 0; i < length; ++i) p[i] = static_cast<uint8_t>(size_t{sequence} * 7 + i);
    MacAddr::broadcast().store_to(p);
    store_be16(p + 12, 0x0800);
    if (length >= 18) store_be32(p + 14, sequence);
    return frame;
}

std::vector<uint8_t> bytes_of(const PacketBuffer& frame) {
    std::vector<uint8_t> out(frame.chain_length());
    frame.copy_out(0, out.data(), out.size());
    return out;
}

uint32_t sequence_of(const PacketBuffer& frame) { return load_be32(frame.data() + 14); }

// Sends `count` numbered frames through `tx` in bursts and reads them from `rx`,
// calling `between` after each burst (to flush an impaired sender). Returns the
// sequence numbers received, in order.
template <typename Between>
std::vector<uint32_t> send_numbered(BufferPool& pool, Netif& tx, Netif& rx, uint32_t count,
                                    Between between) {
    std::vector<uint32_t> received;
    PacketPtr burst[32];
    for (uint32_t next = 0; next < count;) {
        size_t n = 0;
        while (n < 32 && next < count) burst[n++] = make_frame(pool, next++);
        EXPECT_EQ(tx.tx_burst({burst, n}), n);
        between();
        for (size_t got; (got = rx.rx_burst(burst)) > 0;) {
            for (size_t i = 0; i < got; ++i) received.push_back(sequence_of(*burst[i]));
            for (size_t i = 0; i < got; ++i) burst[i].reset();
        }
    }
    return received;
}

std::vector<uint32_t> send_numbered(BufferPool& pool, Netif& tx, Netif& rx, uint32_t count) {
    return send_numbered(pool, tx, rx, count, [] {});
}

std::vector<uint32_t> drain(Netif& rx) {
    std::vector<uint32_t> received;
    PacketPtr burst[32];
    for (size_t got; (got = rx.rx_burst(burst)) > 0;) {
        for (size_t i = 0; i < got; ++i) received.push_back(sequence_of(*burst[i]));
        for (size_t i = 0; i < got; ++i) burst[i].reset();
    }
    return received;
}

struct Fixture : ::testing::Test {
    BufferPool pool{BufferPool::Config{.count = 512, .data_room = 2048, .headroom = 128}};
    ManualClock clock;
    MemLink link;
};

// ---------------------------------------------------------------------------
// ThreadLink: two threads, frames one way, every buffer back in its own pool

// A small pool forces every buffer round the return ring thousands of times: the
// producer allocates only what the consumer's thread has freed and sent back.
TEST(ThreadLinkTest, FramesCrossInOrderAndBuffersReturnToTheirPool) {
    BufferPool pool_a{BufferPool::Config{.count = 64}}, pool_b{BufferPool::Config{.count = 64}};
    constexpr uint32_t kFrames = 100000;
    std::vector<uint32_t> received;
    bool bytes_ok = true;
    // Bounded in time: a buffer that never came back would stall the producer.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto in_time = [&] { return std::chrono::steady_clock::now() < deadline; };
    {
        ThreadLink link(pool_a, pool_b, ThreadLink::Config{.queue_frames = 16});
        std::thread consumer([&] {
            PacketPtr burst[32];
            while (received.size() < kFrames && in_time()) {
                size_t got = link.b().rx_burst(burst);
                for (size_t i = 0; i < got; ++i) {
                    uint32_t seq = sequence_of(*burst[i]);
                    PacketPtr expected_frame = make_frame(pool_b, seq);
                    bytes_ok &= bytes_of(*burst[i]) == bytes_of(*expected_frame);
                    received.push_back(seq);
                    burst[i].reset();  // on this thread: into the ring back to pool_a's end
                }
            }
        });
        for (uint32_t next = 0; next < kFrames && in_time();) {
            if (pool_a.available() == 0) {
                link.a().rx_burst({});  // takes back what the consumer freed
                continue;
            }
            PacketPtr one[1] = {make_frame(pool_a, next)};
            if (link.a().tx_burst(one) == 1) ++next;
        }
        consumer.join();
        EXPECT_GT(link.a().tx_full_events(), 0u);  // the ring did fill: the consumer was behind
        EXPECT_EQ(link.a().tx_frames(), kFrames);
        EXPECT_EQ(link.b().rx_frames(), kFrames);
    }  // the link's ends take back what is still in their rings
    EXPECT_TRUE(bytes_ok);
    ASSERT_EQ(received.size(), kFrames);
    for (uint32_t i = 0; i < kFrames; ++i)
        if (received[i] != i) FAIL() << "frame " << i << " arrived as " << received[i];
    EXPECT_EQ(pool_a.available(), pool_a.capacity());
    EXPECT_EQ(pool_b.available(), pool_b.capacity());
}

// A frame sent back in its own buffer (as an ICMP echo reply is built in the
// request's) returns to the pool it came from, not to the replier's.
TEST(ThreadLinkTest, FrameSentBackInItsBufferGoesHome) {
    BufferPool pool_a{BufferPool::Config{.count = 8}}, pool_b{BufferPool::Config{.count = 8}};
    {
        ThreadLink link(pool_a, pool_b, ThreadLink::Config{});
        PacketPtr burst[8];
        for (uint32_t round = 0; round < 100; ++round) {
            for (size_t i = 0; i < 8; ++i) burst[i] = make_frame(pool_a, round * 8 + uint32_t(i));
            ASSERT_EQ(link.a().tx_burst(burst), 8u);
            ASSERT_EQ(link.b().rx_burst(burst), 8u);
            ASSERT_EQ(link.b().tx_burst(burst), 8u);  // the same buffers, back to a
            ASSERT_EQ(link.a().rx_burst(burst), 8u);
            for (size_t i = 0; i < 8; ++i) EXPECT_EQ(sequence_of(*burst[i]), round * 8 + i);
            for (PacketPtr& p : burst) p.reset();  // on a's side: into pool_a at once
            EXPECT_EQ(pool_a.available(), pool_a.capacity());
            EXPECT_EQ(pool_b.available(), pool_b.capacity());
        }
        // One left in flight each way when the link goes: the link puts them back.
        burst[0] = make_frame(pool_a, 1);
        burst[1] = make_frame(pool_b, 2);
        ASSERT_EQ(link.a().tx_burst({burst, 1}), 1u);
        ASSERT_EQ(link.b().tx_burst({burst + 1, 1}), 1u);
    }
    EXPECT_EQ(pool_a.available(), pool_a.capacity());
    EXPECT_EQ(pool_b.available(), pool_b.capacity());
}

// ---------------------------------------------------------------------------
// MemLink

using MemLinkTest = Fixture;

TEST_F(MemLinkTest, PassesFramesBothWaysByteIdenticalWithoutCopying) {
    for (auto [from, to] : {std::pair<Netif*, Netif*>{&link.a(), &link.b()}, {&link.b(), &link.a()}}) {
        PacketPtr frames[3] = {make_frame(pool, 1, 60), make_frame(pool, 2, 1514),
                               make_frame(pool, 3, 14)};
        const PacketBuffer* sent_buffer = frames[0].get();
        std::vector<uint8_t> expected[3] = {bytes_of(*frames[0]), bytes_of(*frames[1]),
                                            bytes_of(*frames[2])};
        ASSERT_EQ(from->tx_burst(frames), 3u);
        for (const PacketPtr& f : frames) EXPECT_FALSE(f);

        PacketPtr got[8];
        ASSERT_EQ(to->rx_burst(got), 3u);
        EXPECT_EQ(got[0].get(), sent_buffer);
        for (int i = 0; i < 3; ++i) EXPECT_EQ(bytes_of(*got[i]), expected[i]);
        EXPECT_EQ(to->rx_burst(got), 0u);
    }
    EXPECT_EQ(link.a().tx_frames(), 3u);
    EXPECT_EQ(link.a().rx_frames(), 3u);
    EXPECT_STREQ(link.a().name(), "memA");
    EXPECT_STREQ(link.b().name(), "memB");
    EXPECT_NE(link.a().mac(), link.b().mac());
    EXPECT_EQ(link.a().mtu(), 1500);
}

TEST_F(MemLinkTest, FullQueueAcceptsFewerAndCallerKeepsTheRest) {
    MemLink small(MemLink::Config{.mtu = 1500, .queue_frames = 4});
    PacketPtr frames[6];
    for (uint32_t i = 0; i < 6; ++i) frames[i] = make_frame(pool, i);
    EXPECT_EQ(small.a().tx_burst(frames), 4u);
    EXPECT_FALSE(frames[3]);
    EXPECT_TRUE(frames[4] && frames[5]);
    EXPECT_EQ(small.a().tx_full_events(), 1u);
    EXPECT_EQ(small.b().rx_pending(), 4u);

    // The other direction has its own queue.
    PacketPtr reply[1] = {make_frame(pool, 99)};
    EXPECT_EQ(small.b().tx_burst(reply), 1u);

    EXPECT_EQ(drain(small.b()), (std::vector<uint32_t>{0, 1, 2, 3}));
    EXPECT_EQ(small.a().tx_burst(std::span(frames).subspan(4)), 2u);
    EXPECT_EQ(drain(small.b()), (std::vector<uint32_t>{4, 5}));
    EXPECT_EQ(drain(small.a()), (std::vector<uint32_t>{99}));
}

TEST_F(MemLinkTest, RefusesFramesLongerThanMtuPlus18) {
    MemLink link_1000(MemLink::Config{.mtu = 1000});
    PacketPtr frames[3] = {make_frame(pool, 0, 1018), make_frame(pool, 1, 1019),
                           make_frame(pool, 2, 60)};
    EXPECT_EQ(link_1000.a().tx_burst(frames), 1u);
    EXPECT_TRUE(frames[1]);  // refused: the caller drops it
    EXPECT_EQ(link_1000.a().tx_oversize(), 1u);
    EXPECT_EQ(drain(link_1000.b()).size(), 1u);
}

// ---------------------------------------------------------------------------
// ImpairedNetif: transmit impairments are seen at link.b(), receive impairments
// on frames link.b() sends towards the wrapped link.a().

using ImpairedTest = Fixture;
using Impairments = ImpairedNetif::Impairments;

ImpairedNetif::Config tx_only(const Impairments& tx, uint64_t seed = 1) {
    return ImpairedNetif::Config{.rx = {}, .tx = tx, .seed = seed};
}

TEST_F(ImpairedTest, DefaultConfigIsAnExactPassThrough) {
    MemLink small(MemLink::Config{.queue_frames = 4});
    ImpairedNetif imp(small.a(), pool, clock, ImpairedNetif::Config{});
    PacketPtr frames[6];
    std::vector<std::vector<uint8_t>> expected;
    for (uint32_t i = 0; i < 6; ++i) {
        frames[i] = make_frame(pool, i, 60 + i);
        expected.push_back(bytes_of(*frames[i]));
    }
    EXPECT_EQ(imp.tx_burst(frames), 4u);  // the device's partial send shows through
    PacketPtr got[8];
    ASSERT_EQ(small.b().rx_burst(got), 4u);
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(bytes_of(*got[i]), expected[i]);

    for (size_t i = 0; i < 4; ++i) frames[i] = std::move(got[i]);
    ASSERT_EQ(small.b().tx_burst({frames, 4}), 4u);
    ASSERT_EQ(imp.rx_burst(got), 4u);
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(bytes_of(*got[i]), expected[i]);
    EXPECT_EQ(imp.tx_counters().passed, 4u);
    EXPECT_EQ(imp.rx_counters().passed, 4u);
    EXPECT_EQ(imp.held(), 0u);
}

TEST_F(ImpairedTest, LossOneDropsEverything) {
    ImpairedNetif imp(link.a(), pool, clock, tx_only({.loss = 1.0}));
    EXPECT_TRUE(send_numbered(pool, imp, link.b(), 500).empty());
    EXPECT_EQ(imp.tx_counters().lost, 500u);
    EXPECT_EQ(pool.available(), pool.capacity());
}

TEST_F(ImpairedTest, LossRateIsWithinBinomialBoundsBothWays) {
    // n = 10000, p = 0.3: mean 3000, sigma = sqrt(n p (1 - p)) ~ 46. The seed is
    // fixed, so +-5 sigma is a sanity bound on the generator, not a flaky check.
    ImpairedNetif imp(link.a(), pool, clock,
                      ImpairedNetif::Config{.rx = {.loss = 0.3}, .tx = {.loss = 0.3}, .seed = 42});
    const size_t through_tx = send_numbered(pool, imp, link.b(), 10000).size();
    const size_t through_rx = send_numbered(pool, link.b(), imp, 10000).size();
    for (size_t delivered : {through_tx, through_rx}) {
        EXPECT_GT(delivered, 7000u - 230u);
        EXPECT_LT(delivered, 7000u + 230u);
    }
    EXPECT_EQ(imp.tx_counters().lost + through_tx, 10000u);
    EXPECT_EQ(imp.rx_counters().lost + through_rx, 10000u);
}

TEST_F(ImpairedTest, SameSeedSamePatternAndDirectionsIndependent) {
    auto pattern = [&](uint64_t seed, double tx_loss) {
        MemLink l;
        ImpairedNetif imp(l.a(), pool, clock,
                          ImpairedNetif::Config{.rx = {.loss = 0.5}, .tx = {.loss = tx_loss}, .seed = seed});
        send_numbered(pool, imp, l.b(), 300);  // tx traffic interleaved with rx
        return send_numbered(pool, l.b(), imp, 1000);
    };
    const auto first = pattern(7, 0.0);
    EXPECT_EQ(first, pattern(7, 0.0));
    EXPECT_EQ(first, pattern(7, 0.9));  // the other direction's settings do not matter
    EXPECT_NE(first, pattern(8, 0.0));
}

TEST_F(ImpairedTest, DuplicateOneDoublesEveryFrame) {
    ImpairedNetif imp(link.a(), pool, clock, tx_only({.duplicate = 1.0}));
    const auto got = send_numbered(pool, imp, link.b(), 100);
    ASSERT_EQ(got.size(), 200u);
    for (uint32_t i = 0; i < 100; ++i) {
        EXPECT_EQ(got[size_t{2} * i], i);
        EXPECT_EQ(got[size_t{2} * i + 1], i);
    }
    EXPECT_EQ(imp.tx_counters().duplicated, 100u);
}

TEST_F(ImpairedTest, DuplicateIsSkippedWhenThePoolIsEmpty) {
    BufferPool tiny(BufferPool::Config{.count = 2, .data_room = 2048, .headroom = 128});
    ImpairedNetif imp(link.a(), tiny, clock, tx_only({.duplicate = 1.0}));
    PacketPtr frames[2] = {make_frame(tiny, 0), make_frame(tiny, 1)};
    EXPECT_EQ(imp.tx_burst(frames), 2u);
    EXPECT_EQ(drain(link.b()).size(), 2u);
    EXPECT_EQ(imp.tx_counters().duplicate_failed, 2u);
}

TEST_F(ImpairedTest, CorruptOneFlipsExactlyOneBitAfterTheEthernetHeader) {
    ImpairedNetif imp(link.a(), pool, clock, tx_only({.corrupt = 1.0}));
    for (uint32_t i = 0; i < 200; ++i) {
        PacketPtr frame[1] = {make_frame(pool, i, 60 + i % 50)};
        const auto original = bytes_of(*frame[0]);
        ASSERT_EQ(imp.tx_burst(frame), 1u);
        PacketPtr got[1];
        ASSERT_EQ(link.b().rx_burst(got), 1u);
        const auto damaged = bytes_of(*got[0]);
        ASSERT_EQ(damaged.size(), original.size());
        int flipped_bits = 0;
        for (size_t k = 0; k < original.size(); ++k) {
            flipped_bits += std::popcount(static_cast<unsigned>(original[k] ^ damaged[k]));
            if (k < ImpairedNetif::kEthernetHeader) {
                EXPECT_EQ(original[k], damaged[k]);
            }
        }
        EXPECT_EQ(flipped_bits, 1);
    }
    EXPECT_EQ(imp.tx_counters().corrupted, 200u);
    EXPECT_FALSE(imp.offloads().tx_checksum);
}

TEST_F(ImpairedTest, DelayHoldsFramesUntilTheClockReachesThem) {
    ImpairedNetif imp(link.a(), pool, clock,
                      ImpairedNetif::Config{.rx = {.delay_ns = 2 * kMillisecond},
                                            .tx = {.delay_ns = 5 * kMillisecond}});
    const TimeNs start = clock.now();
    PacketPtr frames[10];
    for (uint32_t i = 0; i < 10; ++i) frames[i] = make_frame(pool, i);
    EXPECT_EQ(imp.tx_burst(frames), 10u);
    for (uint32_t i = 0; i < 3; ++i) frames[i] = make_frame(pool, 100 + i);
    ASSERT_EQ(link.b().tx_burst(std::span(frames, 3)), 3u);

    EXPECT_TRUE(drain(imp).empty());  // rx frames now held
    EXPECT_EQ(imp.held(), 13u);
    EXPECT_EQ(imp.next_due(), start + 2 * kMillisecond);
    clock.advance(2 * kMillisecond);
    EXPECT_EQ(drain(imp), (std::vector<uint32_t>{100, 101, 102}));

    clock.advance(3 * kMillisecond - 1);
    imp.flush_due();
    EXPECT_TRUE(drain(link.b()).empty());
    clock.advance(1);
    imp.flush_due();
    const auto got = drain(link.b());
    EXPECT_EQ(got.size(), 10u);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    EXPECT_EQ(imp.tx_counters().delayed, 10u);
    EXPECT_EQ(imp.next_due(), UINT64_MAX);
}

TEST_F(ImpairedTest, JitterVariesLatencyButKeepsOrder) {
    ImpairedNetif imp(link.a(), pool, clock,
                      tx_only({.delay_ns = kMillisecond, .jitter_ns = kMillisecond}));
    std::vector<uint32_t> got;
    for (uint32_t i = 0; i < 200; ++i) {
        PacketPtr frame[1] = {make_frame(pool, i)};
        imp.tx_burst(frame);
        clock.advance(10 * kMicrosecond);
        imp.flush_due();
        for (uint32_t s : drain(link.b())) got.push_back(s);
    }
    clock.advance(2 * kMillisecond);
    imp.flush_due();
    for (uint32_t s : drain(link.b())) got.push_back(s);
    ASSERT_EQ(got.size(), 200u);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
}

TEST_F(ImpairedTest, DeviceRefusalsStayHeldAndKeepOrder) {
    MemLink small(MemLink::Config{.queue_frames = 4});
    ImpairedNetif imp(small.a(), pool, clock, tx_only({.delay_ns = kMillisecond}));
    PacketPtr frames[10];
    for (uint32_t i = 0; i < 10; ++i) frames[i] = make_frame(pool, i);
    EXPECT_EQ(imp.tx_burst(frames), 10u);
    clock.advance(kMillisecond);
    std::vector<uint32_t> got;
    for (int round = 0; round < 3; ++round) {
        imp.flush_due();
        for (uint32_t s : drain(small.b())) got.push_back(s);
    }
    EXPECT_EQ(got, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(imp.tx_counters().passed, 10u);
}

TEST_F(ImpairedTest, HoldOverflowDropsAndCounts) {
    ImpairedNetif::Config config = tx_only({.delay_ns = kMillisecond});
    config.hold_frames = 8;
    ImpairedNetif imp(link.a(), pool, clock, config);
    PacketPtr frames[20];
    for (uint32_t i = 0; i < 20; ++i) frames[i] = make_frame(pool, i);
    EXPECT_EQ(imp.tx_burst(frames), 20u);
    EXPECT_EQ(imp.tx_counters().overflowed, 12u);
    clock.advance(kMillisecond);
    imp.flush_due();
    EXPECT_EQ(drain(link.b()), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST_F(ImpairedTest, ReorderChangesOrderButLosesNothing) {
    ImpairedNetif imp(link.a(), pool, clock, tx_only({.reorder = 0.2}, 3));
    auto got = send_numbered(pool, imp, link.b(), 1000);
    clock.advance(Impairments{}.reorder_timeout_ns);  // the last ones wait for no one
    imp.flush_due();
    for (uint32_t s : drain(link.b())) got.push_back(s);

    ASSERT_EQ(got.size(), 1000u);
    EXPECT_FALSE(std::is_sorted(got.begin(), got.end()));
    EXPECT_GT(imp.tx_counters().reordered, 100u);
    // Reordering is local: a frame waits for a few later ones, not for the whole run.
    for (size_t i = 0; i < got.size(); ++i) EXPECT_LE(i, got[i] + 16) << "position " << i;
    std::sort(got.begin(), got.end());
    for (uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(got[i], i);
    EXPECT_EQ(imp.held(), 0u);
}

TEST_F(ImpairedTest, ReorderedFramesStillWaitForTheirDelay) {
    ImpairedNetif imp(link.a(), pool, clock,
                      tx_only({.reorder = 0.5, .delay_ns = kMillisecond}, 5));
    PacketPtr frames[64];
    for (uint32_t i = 0; i < 64; ++i) frames[i] = make_frame(pool, i);
    EXPECT_EQ(imp.tx_burst(frames), 64u);
    clock.advance(kMillisecond - 1);
    imp.flush_due();
    EXPECT_TRUE(drain(link.b()).empty());
    clock.advance(1);
    imp.flush_due();
    auto got = drain(link.b());
    EXPECT_FALSE(std::is_sorted(got.begin(), got.end()));
    clock.advance(Impairments{}.reorder_timeout_ns);
    imp.flush_due();
    for (uint32_t s : drain(link.b())) got.push_back(s);
    EXPECT_EQ(got.size(), 64u);
    EXPECT_EQ(imp.held(), 0u);
}

TEST(SteadyClockTest, IsMonotonic) {
    SteadyClock clock;
    const TimeNs first = clock.now();
    EXPECT_GT(first, 0u);
    EXPECT_GE(clock.now(), first);
}

}  // namespace
}  // namespace quasi
