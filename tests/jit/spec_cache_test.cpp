// The code cache: sharing between handles with equal contexts, LRU eviction bounded
// in count and bytes, and reference counts that keep code in use (or replaced but
// still reachable) from being freed.
#include "jit/specialize.hpp"
#include "tests/jit/jit_world.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace quasi::test {
namespace {

struct CacheTest : ::testing::Test {
    void SetUp() override {
        specializer_wait_idle();
        before = specializer_stats();
    }
    void TearDown() override { configure_specializer({}); }
    // A socket with a context nobody used before in this process (a fresh local port).
    int fresh_socket(World& w) {
        static uint16_t port = 20000;
        return w.connected_socket(port++, w.config.addr_b, 7);
    }
    SpecializerStats before;
};

TEST_F(CacheTest, EqualContextsShareCode) {
    World w{WorldConfig{}};
    int fd = fresh_socket(w);
    auto h1 = specialize_send(w.a, fd);
    ASSERT_TRUE(h1) << h1.error().message;
    auto h2 = specialize_send(w.a, fd);
    ASSERT_TRUE(h2);
    SpecializerStats s = specializer_stats();
    EXPECT_EQ(s.compiles - before.compiles, 1u);
    EXPECT_EQ(s.cache_hits - before.cache_hits, 1u);
    EXPECT_EQ(h1->info().code, h2->info().code);
    EXPECT_EQ(h2->info().code_version, h1->info().code_version);
    // A different world (other pool, stats, interface): other code.
    World w2{WorldConfig{}};
    int fd2 = w2.connected_socket(20000 - 1, w2.config.addr_b, 7);
    auto h3 = specialize_send(w2.a, fd2);
    ASSERT_TRUE(h3);
    EXPECT_NE(h3->info().code, h1->info().code);
}

TEST_F(CacheTest, ReleasedCodeIsEvictedByCountInLruOrder) {
    configure_specializer({.cache_max_entries = 3, .cache_max_bytes = 1u << 30, .dump_objects_dir = nullptr});
    World w{WorldConfig{}};
    std::vector<int> fds;
    for (int i = 0; i < 5; ++i) fds.push_back(fresh_socket(w));
    for (int fd : fds) {
        auto h = specialize_send(w.a, fd);
        ASSERT_TRUE(h) << h.error().message;
    }  // each released at the end of its iteration
    specializer_wait_idle();
    SpecializerStats s = specializer_stats();
    EXPECT_LE(s.entries, 3u);
    EXPECT_GE(s.evictions - before.evictions, 2u);
    EXPECT_EQ(s.code_freed - before.code_freed, s.evictions - before.evictions);
    EXPECT_EQ(s.live_code, s.entries);
    // The most recent ones are still cached: hits, no compile.
    auto again = specialize_send(w.a, fds.back());
    ASSERT_TRUE(again);
    EXPECT_EQ(specializer_stats().compiles, s.compiles);
    // The oldest was evicted: compiled again.
    auto oldest = specialize_send(w.a, fds.front());
    ASSERT_TRUE(oldest);
    EXPECT_EQ(specializer_stats().compiles, s.compiles + 1);
}

TEST_F(CacheTest, CodeInUseIsNeverEvicted) {
    configure_specializer({.cache_max_entries = 2, .cache_max_bytes = 1, .dump_objects_dir = nullptr});
    World w{WorldConfig{}};
    int a = fresh_socket(w), b = fresh_socket(w), c = fresh_socket(w);
    auto ha = specialize_send(w.a, a);
    auto hb = specialize_send(w.a, b);
    ASSERT_TRUE(ha && hb);
    // Over the byte bound already, but both are in use: nothing goes.
    specializer_wait_idle();
    EXPECT_EQ(specializer_stats().entries, 2u);
    auto hc = specialize_send(w.a, c);
    ASSERT_FALSE(hc);
    EXPECT_EQ(hc.error().code, ENOSPC);
    // Both handles still run their code.
    uint8_t data[32] = {};
    EXPECT_EQ(ha->send(data, sizeof data), 32);
    EXPECT_EQ(hb->send(data, sizeof data), 32);
    EXPECT_EQ(ha->info().specialized_sends, 1u);
    EXPECT_EQ(hb->info().specialized_sends, 1u);
    ha->release();
    hc = specialize_send(w.a, c);
    ASSERT_TRUE(hc) << hc.error().message;
    EXPECT_EQ(hb->send(data, sizeof data), 32);
    EXPECT_EQ(hc->send(data, sizeof data), 32);
    EXPECT_EQ(hb->info().specialized_sends, 2u);
    EXPECT_EQ(hc->info().specialized_sends, 1u);
    specializer_wait_idle();
    EXPECT_EQ(specializer_stats().live_code, 2u);
}

TEST_F(CacheTest, ReplacedCodeLivesWhileAnotherHandleCanRunIt) {
    configure_specializer({.cache_max_entries = 8, .cache_max_bytes = 1, .dump_objects_dir = nullptr});
    World w{WorldConfig{}};
    int fd = fresh_socket(w);
    auto h1 = specialize_send(w.a, fd);
    auto h2 = specialize_send(w.a, fd);
    ASSERT_TRUE(h1 && h2);
    const void* old_code = h1->info().code;
    int ttl = 9;
    ASSERT_EQ(setsockopt(w.a, fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    uint8_t data[16] = {};
    EXPECT_EQ(h1->send(data, sizeof data), 16);  // generic; compiles the TTL-9 code
    ASSERT_TRUE(h1->wait_ready());
    EXPECT_NE(h1->info().code, old_code);
    specializer_wait_idle();
    // h2 still holds the old code: over the byte bound, yet not freed.
    EXPECT_EQ(specializer_stats().live_code, 2u);
    EXPECT_EQ(h2->send(data, sizeof data), 16);  // its guard says violated: generic, then a cache hit
    EXPECT_TRUE(h2->ready());
    EXPECT_EQ(h2->info().code, h1->info().code);
    specializer_wait_idle();
    EXPECT_EQ(specializer_stats().live_code, 1u);  // the old code had no user left
    auto frames = w.take_frames();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0][14 + 8], 9);
    EXPECT_EQ(frames[1][14 + 8], 9);
}

TEST_F(CacheTest, AsyncAndSyncRequestsForOneContextCompileOnce) {
    World w{WorldConfig{}};
    int fd = fresh_socket(w);
    auto h1 = specialize_send_async(w.a, fd);
    auto h2 = specialize_send(w.a, fd);  // waits for the in-flight compile
    ASSERT_TRUE(h1 && h2);
    EXPECT_TRUE(h2->ready());
    EXPECT_TRUE(h1->wait_ready());
    EXPECT_EQ(specializer_stats().compiles - before.compiles, 1u);
}

// prewarm_specializer() compiles a throw-away specialization of each send path on
// the background thread (once per process) and leaves nothing behind.
TEST_F(CacheTest, PrewarmCompilesBothPathsOnceAndKeepsNothing) {
    prewarm_specializer();
    prewarm_specializer();
    specializer_wait_idle();
    SpecializerStats s = specializer_stats();
    EXPECT_EQ(s.prewarmed, 2u);
    EXPECT_EQ(s.live_code, before.live_code);
    EXPECT_EQ(s.entries, before.entries);
    EXPECT_EQ(s.compiles, before.compiles);
    World w{WorldConfig{}};
    auto h = specialize_send(w.a, fresh_socket(w));
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_EQ(specializer_stats().compiles, before.compiles + 1);
}

}  // namespace
}  // namespace quasi::test
