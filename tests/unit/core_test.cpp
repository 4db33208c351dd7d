// The stack's building blocks on their own: routing table, path-MTU cache, timer
// wheel, buffer pool and chains, quasi-invariants, the seeded generator and SipHash.
#include "guards/quasi_invariant.hpp"
#include "stack/buffer.hpp"
#include "stack/random.hpp"
#include "stack/route.hpp"
#include "stack/stack.hpp"
#include "stack/timer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <numeric>
#include <vector>

namespace quasi {
namespace {

Ipv4Addr ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return Ipv4Addr::from_octets(a, b, c, d); }

Route route(Ipv4Addr prefix, uint8_t len, uint16_t iface, Ipv4Addr gateway = {}) {
    return Route{.prefix = prefix, .prefix_len = len, .gateway = gateway, .interface = iface};
}

// Counts invariant_changed() calls.
struct CountingWatcher final : InvariantWatcher {
    int changes = 0;
    void invariant_changed(uint8_t) override { ++changes; }
};

// ---------------------------------------------------------------- RouteTable

TEST(RouteTable, LongestPrefixWinsWhateverTheInsertOrder) {
    const Route routes[] = {route(ip(0, 0, 0, 0), 0, 0, ip(10, 0, 0, 1)), route(ip(10, 0, 0, 0), 8, 1),
                            route(ip(10, 1, 0, 0), 16, 2), route(ip(10, 1, 2, 0), 24, 3),
                            route(ip(10, 1, 2, 3), 32, 4)};
    std::vector<size_t> order(5);
    std::iota(order.begin(), order.end(), 0);
    do {
        RouteTable t;
        for (size_t i : order) ASSERT_EQ(t.add(routes[i]), 0);
        EXPECT_EQ(t.lookup(ip(10, 1, 2, 3))->interface, 4);  // /32 host route
        EXPECT_EQ(t.lookup(ip(10, 1, 2, 4))->interface, 3);
        EXPECT_EQ(t.lookup(ip(10, 1, 3, 3))->interface, 2);
        EXPECT_EQ(t.lookup(ip(10, 2, 2, 3))->interface, 1);
        EXPECT_EQ(t.lookup(ip(11, 1, 2, 3))->interface, 0);  // default route
        EXPECT_EQ(t.lookup(ip(11, 1, 2, 3))->next_hop(ip(11, 1, 2, 3)), ip(10, 0, 0, 1));
        EXPECT_EQ(t.lookup(ip(10, 1, 2, 4))->next_hop(ip(10, 1, 2, 4)), ip(10, 1, 2, 4));  // on-link
    } while (std::next_permutation(order.begin(), order.end()));
}

TEST(RouteTable, NoMatchWithoutDefaultAndRemovalFallsBack) {
    RouteTable t;
    EXPECT_EQ(t.lookup(ip(1, 2, 3, 4)), nullptr);
    ASSERT_EQ(t.add(route(ip(192, 168, 0, 0), 16, 1)), 0);
    ASSERT_EQ(t.add(route(ip(192, 168, 7, 0), 24, 2)), 0);
    EXPECT_EQ(t.lookup(ip(192, 169, 0, 1)), nullptr);
    EXPECT_EQ(t.lookup(ip(192, 168, 7, 9))->interface, 2);
    EXPECT_EQ(t.remove(ip(192, 168, 7, 0), 24), 0);
    EXPECT_EQ(t.lookup(ip(192, 168, 7, 9))->interface, 1);
    EXPECT_EQ(t.remove(ip(192, 168, 7, 0), 24), -ESRCH);
    EXPECT_EQ(t.remove(ip(192, 168, 0, 0), 24), -ESRCH);  // the prefix length is part of the key
    EXPECT_EQ(t.size(), 1u);
}

TEST(RouteTable, RejectsDuplicatesHostBitsBadLengthsAndOverflow) {
    RouteTable t;
    ASSERT_EQ(t.add(route(ip(10, 0, 0, 0), 8, 1)), 0);
    EXPECT_EQ(t.add(route(ip(10, 0, 0, 0), 8, 2)), -EEXIST);
    EXPECT_EQ(t.add(route(ip(10, 0, 0, 1), 8, 1)), -EINVAL);  // host bits set
    EXPECT_EQ(t.add(route(ip(0, 0, 0, 1), 0, 1)), -EINVAL);
    EXPECT_EQ(t.add(route(ip(10, 0, 0, 0), 33, 1)), -EINVAL);
    EXPECT_EQ(t.add(route(ip(10, 0, 0, 0), 16, 2)), 0);  // same prefix, other length: distinct
    while (t.size() < RouteTable::kMaxRoutes)
        ASSERT_EQ(t.add(route(ip(172, 16, static_cast<uint8_t>(t.size()), 0), 24, 3)), 0);
    EXPECT_EQ(t.add(route(ip(192, 0, 2, 0), 24, 3)), -ENOSPC);
    EXPECT_EQ(t.add(route(ip(10, 0, 0, 0), 8, 1)), -EEXIST);  // duplicates still recognised when full
    EXPECT_EQ(t.size(), RouteTable::kMaxRoutes);
    EXPECT_EQ(t.lookup(ip(172, 16, 5, 1))->interface, 3);
}

TEST(RouteTable, VersionBumpsOnEveryChangeAndOnlyThen) {
    RouteTable t;
    CountingWatcher w;
    GuardLink link;
    t.version.watch(link, w);
    uint64_t v0 = t.version;
    ASSERT_EQ(t.add(route(ip(10, 0, 0, 0), 8, 1)), 0);
    EXPECT_EQ(t.version.get(), v0 + 1);
    EXPECT_EQ(t.add(route(ip(10, 0, 0, 0), 8, 1)), -EEXIST);
    EXPECT_EQ(t.add(route(ip(10, 0, 0, 1), 8, 1)), -EINVAL);
    EXPECT_EQ(t.remove(ip(11, 0, 0, 0), 8), -ESRCH);
    EXPECT_EQ(t.version.get(), v0 + 1);
    EXPECT_EQ(t.remove(ip(10, 0, 0, 0), 8), 0);
    EXPECT_EQ(t.version.get(), v0 + 2);
    EXPECT_EQ(w.changes, 2);
}

// ---------------------------------------------------------------- PathMtuCache

// RFC 1191 6.3: a host "MUST not increase its estimate of the Path MTU in response to
// the contents of a Datagram Too Big message". The cache enforces it itself: a later,
// larger report after a lowered one changes nothing, not even the version that
// specialized handles watch (a bump would make them re-specialize for nothing).
TEST(PathMtuCache, ALaterLargerReportNeverRaisesTheEstimate) {
    PathMtuCache cache;
    const Ipv4Addr dst = ip(198, 18, 7, 1);
    const TimeNs now = kSecond;
    ASSERT_TRUE(cache.lower(dst, 1000, now));
    const uint64_t version = cache.version;
    for (uint16_t mtu : {1400, 1001, 1000}) {
        EXPECT_FALSE(cache.lower(dst, mtu, now)) << mtu;
        EXPECT_EQ(cache.get(dst, 1500, now), 1000) << mtu;
    }
    EXPECT_EQ(cache.version.get(), version);
    // Lower still works, and bumps the version once.
    EXPECT_TRUE(cache.lower(dst, 900, now));
    EXPECT_EQ(cache.get(dst, 1500, now), 900);
    EXPECT_EQ(cache.version.get(), version + 1);
    // Other destinations are not affected; the entry expires after its lifetime.
    EXPECT_EQ(cache.get(ip(198, 18, 7, 2), 1500, now), 1500);
    EXPECT_EQ(cache.get(dst, 1500, now + PathMtuCache::kLifetime), 1500);
}

// ---------------------------------------------------------------- TimerWheel

struct Fired {
    std::vector<std::pair<Timer*, TimeNs>> log;
    static void record(Timer& t, TimeNs now) { static_cast<Fired*>(t.context)->log.push_back({&t, now}); }
};

constexpr TimeNs kT0 = 5 * kSecond;

TEST(TimerWheel, FiresAtTheDeadlineNotBefore) {
    TimerWheel wheel(kT0);
    Fired fired;
    Timer t(&Fired::record, &fired);
    const TimeNs deadline = kT0 + 5 * kMillisecond + 500 * kMicrosecond;  // mid-tick
    wheel.schedule(t, deadline);
    EXPECT_TRUE(t.armed());
    EXPECT_EQ(wheel.next_deadline(), deadline);
    for (TimeNs now = kT0; now < deadline; now += 100 * kMicrosecond) EXPECT_EQ(wheel.advance(now), 0u) << now;
    EXPECT_EQ(wheel.advance(deadline), 1u);
    ASSERT_EQ(fired.log.size(), 1u);
    EXPECT_EQ(fired.log[0].second, deadline);
    EXPECT_FALSE(t.armed());
    EXPECT_EQ(wheel.advance(deadline + kSecond), 0u);  // one-shot
    EXPECT_EQ(wheel.next_deadline(), 0u);
}

TEST(TimerWheel, CancelAndDestroyDisarm) {
    TimerWheel wheel(kT0);
    Fired fired;
    Timer a(&Fired::record, &fired);
    wheel.schedule(a, kT0 + kMillisecond);
    a.cancel();
    EXPECT_FALSE(a.armed());
    {
        Timer b(&Fired::record, &fired);
        wheel.schedule(b, kT0 + kMillisecond);
    }  // auto-unlinks: the wheel must not call a dead timer
    EXPECT_EQ(wheel.advance(kT0 + kSecond), 0u);
    EXPECT_TRUE(fired.log.empty());
}

TEST(TimerWheel, RescheduleMovesTheDeadline) {
    TimerWheel wheel(kT0);
    Fired fired;
    Timer t(&Fired::record, &fired);
    wheel.schedule(t, kT0 + 10 * kMillisecond);
    wheel.schedule(t, kT0 + 20 * kMillisecond);
    EXPECT_EQ(wheel.advance(kT0 + 15 * kMillisecond), 0u);
    EXPECT_EQ(wheel.advance(kT0 + 20 * kMillisecond), 1u);
    wheel.schedule(t, kT0);  // already past: fires at the next advance
    EXPECT_EQ(wheel.advance(kT0 + 20 * kMillisecond), 1u);
}

struct Periodic {
    TimerWheel* wheel;
    TimeNs period;
    int count = 0;
    static void tick(Timer& t, TimeNs now) {
        auto* self = static_cast<Periodic*>(t.context);
        ++self->count;
        self->wheel->schedule(t, now + self->period);
    }
};

TEST(TimerWheel, CallbackMayRearmItsTimer) {
    TimerWheel wheel(kT0);
    Periodic p{&wheel, 10 * kMillisecond};
    Timer t(&Periodic::tick, &p);
    wheel.schedule(t, kT0 + p.period);
    for (TimeNs now = kT0; now <= kT0 + kSecond; now += kMillisecond) wheel.advance(now);
    EXPECT_EQ(p.count, 100);
    EXPECT_TRUE(t.armed());
    // Re-arming for "now" from inside the callback does not fire again in the same pass.
    Periodic zero{&wheel, 0};
    Timer z(&Periodic::tick, &zero);
    wheel.schedule(z, kT0 + 2 * kSecond);
    wheel.advance(kT0 + 2 * kSecond);
    EXPECT_EQ(zero.count, 1);
    wheel.advance(kT0 + 2 * kSecond);
    EXPECT_EQ(zero.count, 2);
    t.cancel();
    z.cancel();
}

TEST(TimerWheel, DeadlinesBeyondOneRotationWaitTheirTurn) {
    TimerWheel wheel(kT0);
    Fired fired;
    Timer t(&Fired::record, &fired);
    const TimeNs far = kT0 + 3 * TimerWheel::kSlots * kMillisecond + 7 * kMillisecond;
    wheel.schedule(t, far);
    for (TimeNs now = kT0; now < far; now += kMillisecond) ASSERT_EQ(wheel.advance(now), 0u) << (now - kT0);
    EXPECT_EQ(wheel.advance(far), 1u);
}

TEST(TimerWheel, BigClockJumpsFireEverythingDueOnceAndNothingElse) {
    TimerWheel wheel(kT0);
    Fired fired;
    Random r(9);
    std::vector<std::unique_ptr<Timer>> timers;
    for (int i = 0; i < 1000; ++i) {
        timers.push_back(std::make_unique<Timer>(&Fired::record, &fired));
        wheel.schedule(*timers.back(), kT0 + r.below(20'000) * kMillisecond / 2);  // up to 10 s
    }
    const TimeNs jump = kT0 + 6 * kSecond;  // more than ten rotations in one step
    size_t due = 0;
    for (auto& t : timers) due += t->deadline <= jump;
    EXPECT_EQ(wheel.advance(jump), due);
    for (auto& [timer, at] : fired.log) EXPECT_LE(timer->deadline, at);
    for (auto& t : timers) EXPECT_EQ(t->armed(), t->deadline > jump);
    EXPECT_EQ(wheel.advance(kT0 + 3600 * kSecond), timers.size() - due);
    EXPECT_EQ(wheel.advance(kT0 + 7200 * kSecond), 0u);
    EXPECT_EQ(wheel.advance(kT0), 0u);  // the clock going back is ignored
}

TEST(TimerWheel, ManyTimersEachFireOnceAtTheFirstAdvancePastTheirDeadline) {
    TimerWheel wheel(kT0);
    Fired fired;
    Random r(12);
    std::vector<std::unique_ptr<Timer>> timers;
    for (int i = 0; i < 10000; ++i) {
        timers.push_back(std::make_unique<Timer>(&Fired::record, &fired));
        wheel.schedule(*timers.back(), kT0 + r.next() % (5 * kSecond));
    }
    std::vector<TimeNs> advances;
    TimeNs now = kT0;
    while (now < kT0 + 6 * kSecond) {
        now += r.below(3) == 0 ? r.below(700) * kMillisecond : r.below(3 * kMillisecond);  // some jumps
        advances.push_back(now);
        wheel.advance(now);
    }
    ASSERT_EQ(fired.log.size(), timers.size());
    std::vector<int> times(timers.size(), 0);
    for (auto& [timer, at] : fired.log) {
        EXPECT_LE(timer->deadline, at);
        // No earlier advance was already past the deadline.
        auto first = std::lower_bound(advances.begin(), advances.end(), timer->deadline);
        ASSERT_NE(first, advances.end());
        EXPECT_EQ(*first, at);
    }
}

// ---------------------------------------------------------------- buffers

BufferPool::Config small_pool(size_t count = 8) { return {.count = count, .data_room = 256, .headroom = 32}; }

TEST(BufferPool, AllocUntilExhaustedThenFailuresAreCounted) {
    BufferPool pool(small_pool());
    std::vector<PacketPtr> held;
    while (PacketPtr p = pool.alloc()) held.push_back(std::move(p));
    EXPECT_EQ(held.size(), 8u);
    EXPECT_EQ(pool.available(), 0u);
    EXPECT_EQ(pool.alloc(), nullptr);
    EXPECT_EQ(pool.alloc(), nullptr);
    EXPECT_EQ(pool.alloc_failures(), 3u);  // the loop's last try too
    held.pop_back();
    EXPECT_EQ(pool.available(), 1u);
    PacketPtr again = pool.alloc();
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->headroom(), 32u);  // reset on reuse
    EXPECT_EQ(again->length, 0u);
    EXPECT_EQ(again->next_segment, nullptr);
}

TEST(PacketBuffer, PrependAppendTrimStayInBounds) {
    BufferPool pool(small_pool());
    PacketPtr p = pool.alloc();
    EXPECT_EQ(p->tailroom(), 256u - 32u);
    uint8_t* body = p->append(100);
    ASSERT_NE(body, nullptr);
    EXPECT_EQ(body, p->data());
    EXPECT_EQ(p->append(125), nullptr);  // one past the tailroom
    EXPECT_EQ(p->length, 100u);
    ASSERT_NE(p->append(124), nullptr);
    EXPECT_EQ(p->tailroom(), 0u);
    uint8_t* front = p->prepend(32);
    EXPECT_EQ(front, p->storage);
    EXPECT_EQ(p->prepend(1), nullptr);
    EXPECT_EQ(p->length, 256u);
    p->trim_front(56);
    EXPECT_EQ(p->headroom(), 56u);
    EXPECT_EQ(p->length, 200u);
    p->truncate(300);  // longer than the buffer: no change
    EXPECT_EQ(p->length, 200u);
    p->truncate(10);
    EXPECT_EQ(p->length, 10u);
    p->reset(1000);  // headroom capped at the capacity
    EXPECT_EQ(p->headroom(), 256u);
    EXPECT_EQ(p->tailroom(), 0u);
}

// A chain of segments holding 0, 1, 2, ... in order; lengths as given.
PacketPtr make_chain(BufferPool& pool, std::initializer_list<size_t> lengths) {
    PacketPtr head;
    uint8_t value = 0;
    for (size_t n : lengths) {
        PacketPtr seg = pool.alloc();
        uint8_t* p = seg->append(n);
        for (size_t i = 0; i < n; ++i) p[i] = value++;
        if (head) chain_append(*head, std::move(seg));
        else head = std::move(seg);
    }
    return head;
}

TEST(PacketBuffer, ChainCopyOutAndLength) {
    BufferPool pool(small_pool());
    PacketPtr c = make_chain(pool, {5, 0, 7, 3});
    EXPECT_EQ(c->chain_length(), 15u);
    uint8_t out[20] = {};
    EXPECT_EQ(c->copy_out(0, out, 20), 15u);
    for (uint8_t i = 0; i < 15; ++i) EXPECT_EQ(out[i], i);
    EXPECT_EQ(c->copy_out(4, out, 4), 4u);  // across the empty segment
    EXPECT_EQ(out[0], 4);
    EXPECT_EQ(out[3], 7);
    EXPECT_EQ(c->copy_out(14, out, 10), 1u);
    EXPECT_EQ(c->copy_out(15, out, 10), 0u);
    EXPECT_EQ(c->copy_out(100, out, 10), 0u);
}

TEST(PacketBuffer, TruncateChainKeepsThePrefix) {
    BufferPool pool(small_pool());
    for (size_t keep : {0u, 3u, 5u, 6u, 12u, 15u, 40u}) {
        PacketPtr c = make_chain(pool, {5, 7, 3});
        c->truncate_chain(keep);
        EXPECT_EQ(c->chain_length(), std::min<size_t>(keep, 15)) << keep;
        uint8_t out[16];
        size_t n = c->copy_out(0, out, sizeof out);
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], i);
    }
    EXPECT_EQ(pool.available(), pool.capacity());
}

TEST(PacketBuffer, DeleterFreesTheWholeChainAndQueuesOwnTheirPackets) {
    BufferPool pool(small_pool());
    {
        PacketPtr c = make_chain(pool, {1, 1, 1, 1});
        EXPECT_EQ(pool.available(), 4u);
    }
    EXPECT_EQ(pool.available(), 8u);
    {
        PacketQueue q;
        for (uint8_t i = 0; i < 3; ++i) {
            PacketPtr p = make_chain(pool, {1, 1});
            p->data()[0] = i;
            q.push_back(std::move(p));
        }
        EXPECT_EQ(q.size(), 3u);
        EXPECT_EQ(pool.available(), 2u);
        PacketPtr first = q.pop_front();
        EXPECT_EQ(first->data()[0], 0);  // FIFO
        EXPECT_EQ(q.front()->data()[0], 1);
    }  // the queue frees what it still holds
    EXPECT_EQ(pool.available(), pool.capacity());
}

// ---------------------------------------------------------------- QuasiInvariant

TEST(QuasiInvariant, GuardedWriteNotifiesOnlyOnChange) {
    QuasiInvariant<uint16_t> mtu{1500};
    CountingWatcher a, b;
    GuardLink la, lb;
    EXPECT_FALSE(mtu.watched());
    mtu.watch(la, a);
    mtu.watch(lb, b);
    EXPECT_TRUE(mtu.watched());
    mtu.guarded_write(1500);
    EXPECT_EQ(a.changes, 0);
    mtu.guarded_write(1400);
    EXPECT_EQ(mtu.get(), 1400);
    EXPECT_EQ(a.changes, 1);
    EXPECT_EQ(b.changes, 1);
    mtu.guarded_write(1400);
    EXPECT_EQ(a.changes, 1);
}

TEST(QuasiInvariant, GuardLinkUnlinksWhenDestroyedOrMoved) {
    QuasiInvariant<int> x{1};
    QuasiInvariant<int> y{1};
    CountingWatcher w;
    {
        GuardLink temporary;
        x.watch(temporary, w);
        EXPECT_TRUE(x.watched());
    }
    EXPECT_FALSE(x.watched());
    x.guarded_write(2);  // must not touch the dead link
    EXPECT_EQ(w.changes, 0);
    GuardLink link;
    x.watch(link, w);
    y.watch(link, w);  // re-watching moves the subscription
    EXPECT_FALSE(x.watched());
    x.guarded_write(3);
    y.guarded_write(3);
    EXPECT_EQ(w.changes, 1);
}

TEST(QuasiInvariant, DestructionTellsWatchers) {
    CountingWatcher w;
    GuardLink link;
    {
        QuasiInvariant<int> gone{5};
        gone.watch(link, w);
    }
    EXPECT_EQ(w.changes, 1);  // a handle that froze it must learn it is gone
    EXPECT_FALSE(link.is_linked());
}

// ---------------------------------------------------------------- Random, SipHash

TEST(Random, SameSeedSameSequenceOtherSeedOther) {
    Random a(42), b(42), c(43);
    int differ = 0;
    for (int i = 0; i < 1000; ++i) {
        uint64_t x = a.next();
        EXPECT_EQ(x, b.next());
        differ += x != c.next();
    }
    EXPECT_GT(differ, 990);
    Random d(1);
    for (int i = 0; i < 10000; ++i) EXPECT_LT(d.below(7), 7u);
    EXPECT_EQ(Random(0).next(), Random(0).next());  // seed 0 is usable (splitmix)
    EXPECT_NE(Random(0).next(), 0u);
}

TEST(Random, BelowIsRoughlyUniform) {
    Random r(5);
    int counts[10] = {};
    for (int i = 0; i < 100000; ++i) ++counts[r.below(10)];
    for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

// The SipHash reference key 00 01 .. 0f as the two little-endian words.
constexpr SipKey kReferenceKey{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

TEST(SipHash, ReferenceVectorsForWholeWordMessages) {
    // vectors.h of the reference implementation (Aumasson & Bernstein), messages
    // 00 01 .. (len-1): length 0, 8 and 16 are the ones whole words can express.
    EXPECT_EQ(siphash(kReferenceKey, nullptr, 0), 0x726fdb47dd0e0e31ull);
    const uint64_t words[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    EXPECT_EQ(siphash(kReferenceKey, words, 1), 0x93f5f5799a932462ull);
    EXPECT_EQ(siphash(kReferenceKey, words, 2), 0x3f2acc7f57c29bdbull);
}

// The memo answers what siphash answers, for a repeated input and after the input
// changed in any word (the last answer is kept, never a stale one returned).
TEST(SipHash, MemoAnswersAsTheHashWhateverTheOrderOfInputs) {
    SipHashMemo<2> memo;
    const uint64_t a[2] = {1, 2}, b[2] = {1, 3}, c[2] = {4, 2};
    for (const uint64_t* w : {a, a, b, b, c, a, c}) {
        const uint64_t(&words)[2] = *reinterpret_cast<const uint64_t(*)[2]>(w);
        EXPECT_EQ(memo(kReferenceKey, words), siphash(kReferenceKey, w, 2));
    }
}

TEST(SipHash, KeyAndMessageSensitivity) {
    const uint64_t m[2] = {1, 2};
    const uint64_t base = siphash(kReferenceKey, m, 2);
    EXPECT_EQ(base, siphash(kReferenceKey, m, 2));
    EXPECT_NE(base, siphash(SipKey{kReferenceKey.k0 ^ 1, kReferenceKey.k1}, m, 2));
    EXPECT_NE(base, siphash(SipKey{kReferenceKey.k0, kReferenceKey.k1 ^ (1ull << 63)}, m, 2));
    const uint64_t swapped[2] = {2, 1};
    EXPECT_NE(base, siphash(kReferenceKey, swapped, 2));
    EXPECT_NE(siphash(kReferenceKey, m, 1), base);  // length is part of the hash
}

}  // namespace
}  // namespace quasi
