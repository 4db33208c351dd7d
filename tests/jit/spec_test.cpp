// Specialized send handles end to end: a frame from JIT code reaches the peer stack,
// guards (socket options, route, MTU, ARP, PMTU, close), policies, async compiles.
#include "jit/specialize.hpp"
#include "stack/wire/ethernet.hpp"
#include "tests/jit/held_compiles.hpp"
#include "tests/jit/jit_world.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <numeric>

namespace quasi::test {
namespace {

constexpr uint16_t kPortA = 4000;
constexpr uint16_t kPortB = 5000;

std::vector<uint8_t> payload(size_t n, uint8_t seed = 1) {
    std::vector<uint8_t> v(n);
    std::iota(v.begin(), v.end(), seed);
    return v;
}

// Two identical worlds: `generic` sends with send(), `special` through a handle.
struct Twins {
    Twins() : generic(WorldConfig{}), special(WorldConfig{}) {
        fd_generic = generic.connected_socket(kPortA, generic.config.addr_b, kPortB);
        fd_special = special.connected_socket(kPortA, special.config.addr_b, kPortB);
    }
    // Sends through both, returns true when the frames (and the results) agree.
    void send_both(SendHandle& h, const std::vector<uint8_t>& data, ssize_t expect) {
        ssize_t rg = send(generic.a, fd_generic, data.data(), data.size());
        ssize_t rs = h.send(data.data(), data.size());
        EXPECT_EQ(rg, expect);
        EXPECT_EQ(rs, expect);
        EXPECT_EQ(generic.take_frames(), special.take_frames());
    }
    World generic;
    World special;
    int fd_generic;
    int fd_special;
};

TEST(Spec, FrameFromJitCodeReachesThePeer) {
    World w{WorldConfig{}};
    int fb = socket(w.b, kAfInet, kSockDgram);
    ASSERT_EQ(bind(w.b, fb, SockAddr{w.config.addr_b, kPortB}), 0);
    int fa = w.connected_socket(kPortA, w.config.addr_b, kPortB);
    ASSERT_GE(fa, 0);
    w.pump();
    uint8_t drain[64];
    while (recv(w.b, fb, drain, sizeof drain) >= 0) {}

    auto h = specialize_send(w.a, fa);
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_TRUE(h->ready());
    auto data = payload(100);
    EXPECT_EQ(h->send(data.data(), data.size()), 100);
    w.pump();
    std::vector<uint8_t> got(200);
    SockAddr from;
    ASSERT_EQ(recvfrom(w.b, fb, got.data(), got.size(), 0, &from), 100);
    got.resize(100);
    EXPECT_EQ(got, data);
    EXPECT_EQ(from.port, kPortA);
    EXPECT_EQ(h->info().specialized_sends, 1u);
    EXPECT_EQ(h->info().generic_sends, 0u);
    EXPECT_GT(h->info().code_bytes, 0u);
}

TEST(Spec, SameFramesAsGenericForEverySize) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special);
    ASSERT_TRUE(h) << h.error().message;
    for (size_t n : {0, 1, 2, 3, 63, 64, 65, 1024, 1471, 1472}) t.send_both(*h, payload(n, uint8_t(n)), ssize_t(n));
    EXPECT_EQ(h->info().specialized_sends, 10u);
    // Larger than the path MTU: the generic path fragments, for both.
    t.send_both(*h, payload(3000), 3000);
    EXPECT_EQ(h->info().generic_sends, 1u);
    EXPECT_EQ(counters_differ(t.generic.a.stats(), t.special.a.stats()), "");
}

TEST(Spec, ErrorsFromExtraction) {
    World w{WorldConfig{}};
    EXPECT_EQ(specialize_send(w.a, 77).error().code, EBADF);
    int fd = socket(w.a, kAfInet, kSockDgram);
    EXPECT_EQ(specialize_send(w.a, fd).error().code, ENOTCONN);
    ASSERT_EQ(connect(w.a, fd, SockAddr{Ipv4Addr::from_octets(198, 18, 0, 9), 9}), 0);
    auto h = specialize_send(w.a, fd);
    EXPECT_EQ(h.error().code, EHOSTUNREACH) << h.error().message;
    int fd2 = w.connected_socket(kPortA, w.config.addr_b, kPortB);
    EXPECT_EQ(specialize_send(w.a, fd2, {.message_size = 1473}).error().code, EMSGSIZE);
    EXPECT_TRUE(specialize_send(w.a, fd2, {.message_size = 1472}));
}

TEST(Spec, TtlChangeFallsBackThenRespecializes) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special);
    ASSERT_TRUE(h) << h.error().message;
    t.send_both(*h, payload(64), 64);
    uint64_t first = h->info().code_version;
    int ttl = 7;
    ASSERT_EQ(setsockopt(t.generic.a, t.fd_generic, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    ASSERT_EQ(setsockopt(t.special.a, t.fd_special, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    EXPECT_FALSE(h->ready());
    t.send_both(*h, payload(64), 64);  // generic (compile queued), new TTL
    EXPECT_TRUE(h->wait_ready());
    t.send_both(*h, payload(64), 64);  // the new code
    SendHandleInfo info = h->info();
    EXPECT_NE(info.code_version, first);
    EXPECT_EQ(info.installs, 2u);
    EXPECT_EQ(info.generic_sends, 1u);
    EXPECT_EQ(info.specialized_sends, 2u);
    // Back to the old TTL: the first code again, from the cache, at once.
    ttl = 64;
    setsockopt(t.generic.a, t.fd_generic, kIpProtoIp, kIpTtl, &ttl, sizeof ttl);
    setsockopt(t.special.a, t.fd_special, kIpProtoIp, kIpTtl, &ttl, sizeof ttl);
    t.send_both(*h, payload(64), 64);
    EXPECT_EQ(h->info().code_version, first);
    EXPECT_EQ(h->info().specialized_sends, 3u);
}

TEST(Spec, RejectPolicy) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special,
                             {.message_size = 100, .on_violation = ViolationPolicy::reject});
    ASSERT_TRUE(h) << h.error().message;
    auto data = payload(100);
    EXPECT_EQ(h->send(data.data(), 99), -EMSGSIZE);
    EXPECT_EQ(h->send(data.data(), 100), 100);
    int tos = 0x10;
    ASSERT_EQ(setsockopt(t.special.a, t.fd_special, kIpProtoIp, kIpTos, &tos, sizeof tos), 0);
    EXPECT_EQ(h->send(data.data(), 100), -ESTALE);
    EXPECT_EQ(h->respecialize(), 0);
    EXPECT_EQ(h->send(data.data(), 100), 100);
    auto frames = t.special.take_frames();
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[1][kEthernetHeaderLen + 1], 0x10);  // the new TOS
}

TEST(Spec, DeclaredSizeFallbackForOtherLengths) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = 64});
    ASSERT_TRUE(h) << h.error().message;
    t.send_both(*h, payload(64), 64);
    t.send_both(*h, payload(65), 65);
    t.send_both(*h, payload(0), 0);
    EXPECT_EQ(h->info().specialized_sends, 1u);
    EXPECT_EQ(h->info().generic_sends, 2u);
}

TEST(Spec, RouteChangeRespecializes) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special);
    ASSERT_TRUE(h);
    t.send_both(*h, payload(20), 20);
    // A host route to the peer via itself as gateway: same frames, new route version.
    for (World* w : {&t.generic, &t.special})
        ASSERT_EQ(w->a.add_route(w->config.addr_b, 32, w->config.addr_b), 0);
    EXPECT_FALSE(h->ready());
    t.send_both(*h, payload(20), 20);
    EXPECT_TRUE(h->wait_ready());
    t.send_both(*h, payload(20), 20);
    EXPECT_EQ(h->info().installs, 2u);
    // Route gone entirely: sends fail as the generic path fails, no frame.
    for (World* w : {&t.generic, &t.special}) {
        ASSERT_EQ(w->a.remove_route(w->config.addr_b, 32), 0);
        ASSERT_EQ(w->a.remove_route(Ipv4Addr::from_octets(198, 18, 0, 0), 24), 0);
    }
    t.send_both(*h, payload(20), -ENETUNREACH);
    EXPECT_FALSE(h->ready());
}

// Under fallback the frames equal the generic path's byte for byte (reinforcement
// re-sends the stale code's datagrams through the IPv4 output, which takes IP IDs of
// its own: guards_stream_test covers that policy).
TEST(Spec, MtuAndPathMtuChanges) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special,
                             {.message_size = {}, .on_violation = ViolationPolicy::fallback_and_respecialize});
    ASSERT_TRUE(h);
    t.send_both(*h, payload(1400), 1400);
    for (World* w : {&t.generic, &t.special}) w->a.interface(0)->mtu.guarded_write(1000);
    t.send_both(*h, payload(1400), 1400);  // fragmented now, both
    EXPECT_TRUE(h->wait_ready());
    t.send_both(*h, payload(900), 900);
    t.send_both(*h, payload(1400), 1400);
    for (World* w : {&t.generic, &t.special}) w->a.path_mtu().lower(w->config.addr_b, 600, w->a.now());
    t.send_both(*h, payload(900), 900);
    EXPECT_TRUE(h->wait_ready());
    t.send_both(*h, payload(500), 500);
    t.send_both(*h, payload(900), 900);
    EXPECT_EQ(h->info().installs, 3u);
}

TEST(Spec, ArpChangeFallsBack) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special,
                             {.message_size = {}, .on_violation = ViolationPolicy::fallback_and_respecialize});
    ASSERT_TRUE(h);
    t.send_both(*h, payload(30), 30);
    for (World* w : {&t.generic, &t.special}) w->a.interface(0)->arp().flush();
    // Unresolved now: the generic path queues the frame and sends an ARP request,
    // which B answers this time (the frames are not taken).
    auto data = payload(30);
    EXPECT_EQ(send(t.generic.a, t.fd_generic, data.data(), 30), 30);
    EXPECT_EQ(h->send(data.data(), 30), 30);
    EXPECT_FALSE(h->ready());
    for (World* w : {&t.generic, &t.special}) w->pump();
    EXPECT_EQ(h->info().generic_sends, 1u);
    // Resolved again (same MAC): the next send re-specializes from the cache.
    t.send_both(*h, payload(30), 30);
    EXPECT_TRUE(h->wait_ready());
    t.send_both(*h, payload(30), 30);
}

TEST(Spec, CloseDuringUse) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special);
    ASSERT_TRUE(h);
    auto data = payload(10);
    EXPECT_EQ(h->send(data.data(), 10), 10);
    ASSERT_EQ(close(t.special.a, t.fd_special), 0);
    EXPECT_EQ(h->send(data.data(), 10), -EBADF);
    EXPECT_EQ(t.special.take_frames().size(), 1u);  // only the one before close
    // The descriptor and the socket slot are reused for a new socket to the same peer.
    int fd = t.special.connected_socket(kPortA, t.special.config.addr_b, kPortB);
    EXPECT_EQ(fd, t.fd_special);
    EXPECT_EQ(h->send(data.data(), 10), -EBADF);
    EXPECT_TRUE(t.special.take_frames().empty());
    EXPECT_FALSE(h->ready());
    h->release();
    EXPECT_EQ(h->send(data.data(), 10), -EBADF);
}

TEST(Spec, PendingIcmpErrorIsReportedOnce) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special);
    ASSERT_TRUE(h);
    for (World* w : {&t.generic, &t.special})
        w->a.udp().icmp_error(SockAddr{w->config.addr_a, kPortA}, SockAddr{w->config.addr_b, kPortB}, ECONNREFUSED);
    t.send_both(*h, payload(5), -ECONNREFUSED);
    t.send_both(*h, payload(5), 5);
    EXPECT_EQ(h->info().specialized_sends, 1u);
}

// The compile is held on the background thread (HeldCompiles), so the first sends
// must take the generic path; once it is let go and ready, every send is specialized.
// A compile on the caller's thread (or a cache hit: hence a TTL no other run uses)
// would make the held sends specialized.
TEST(Spec, AsyncSendsGenericUntilReady) {
    Twins t;
    static int runs = 0;
    int ttl = 71 + runs++;  // a context no other test (nor an earlier --gtest_repeat) compiled
    ASSERT_EQ(setsockopt(t.generic.a, t.fd_generic, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    ASSERT_EQ(setsockopt(t.special.a, t.fd_special, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    HeldCompiles held;
    auto h = specialize_send_async(t.special.a, t.fd_special, {.message_size = 48});
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_TRUE(h->info().compiling);
    for (int i = 0; i < 3; ++i) t.send_both(*h, payload(48, uint8_t(i)), 48);
    SendHandleInfo info = h->info();
    EXPECT_EQ(info.generic_sends, 3u);
    EXPECT_EQ(info.specialized_sends, 0u);
    EXPECT_FALSE(h->ready());
    held.release();
    ASSERT_TRUE(h->wait_ready());
    for (int i = 0; i < 2; ++i) t.send_both(*h, payload(48, uint8_t(10 + i)), 48);
    info = h->info();
    EXPECT_EQ(info.generic_sends, 3u);
    EXPECT_EQ(info.specialized_sends, 2u);
}

TEST(Spec, BatchedHandleLeavesFramesForPoll) {
    Twins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = {}, .flush = false});
    ASSERT_TRUE(h);
    auto data = payload(40);
    EXPECT_EQ(h->send(data.data(), 40), 40);
    EXPECT_TRUE(t.special.take_frames().empty());
    t.special.a.poll();
    EXPECT_EQ(t.special.take_frames().size(), 1u);
}

TEST(Spec, BothPipelinesProduceTheSameFrames) {
    Twins t;
    for (JitPipeline p : {JitPipeline::fast, JitPipeline::default_o2}) {
        int ttl = p == JitPipeline::fast ? 33 : 34;  // a new context each time
        setsockopt(t.generic.a, t.fd_generic, kIpProtoIp, kIpTtl, &ttl, sizeof ttl);
        setsockopt(t.special.a, t.fd_special, kIpProtoIp, kIpTtl, &ttl, sizeof ttl);
        auto h = specialize_send(t.special.a, t.fd_special, {.message_size = {}, .pipeline = p});
        ASSERT_TRUE(h);
        for (size_t n : {0, 17, 64, 1472}) t.send_both(*h, payload(n), ssize_t(n));
        EXPECT_EQ(h->info().specialized_sends, 4u);
    }
}

}  // namespace
}  // namespace quasi::test
