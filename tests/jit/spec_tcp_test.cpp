// Specialized TCP send handles end to end: the handle's life, extraction errors,
// send() semantics (partial sends, -EAGAIN), guards falling back to the generic path
// (MSS lowered by PMTU discovery, route change, ARP, connection state, close), the
// reject policy, and a long stream through a handle across all of those (and a
// lossy link) with every byte checked at the receiver.
#include "context/tcp_context.hpp"
#include "jit/specialize.hpp"
#include "stack/wire/icmp.hpp"
#include "tests/jit/held_compiles.hpp"
#include "tests/jit/tcp_twins.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <numeric>
#include <random>

namespace quasi::test {
namespace {

constexpr uint32_t kPayloadMss = 1448;  // MTU 1500, timestamps on

std::vector<uint8_t> payload(size_t n, uint8_t seed = 1) {
    std::vector<uint8_t> v(n);
    std::iota(v.begin(), v.end(), seed);
    return v;
}

// Lowers A's MSS towards B the way the stack learns it: an ICMP "fragmentation
// needed" quoting a segment in flight (RFC 1191).
void icmp_frag_needed(World& w, int fd, uint16_t mtu) {
    TcpSocket& s = *w.a.descriptors().tcp(fd);
    Ipv4Repr quoted{.src = w.config.addr_a, .dst = w.config.addr_b, .protocol = uint8_t(IpProtocol::tcp)};
    uint8_t header[8];
    store_be16(header, s.local_port);
    store_be16(header + 2, s.remote_port);
    store_be32(header + 4, s.snd_una);
    w.a.tcp().icmp_error(quoted, header, uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::frag_needed),
                         mtu);
    w.a.flush_all();
}

TEST(SpecTcp, HandleLifecycle) {
    World w{WorldConfig{}};
    auto [fa, fb] = w.tcp_connection(kTcpPortA, kTcpPortB);
    ASSERT_GE(fa, 0);
    ASSERT_GE(fb, 0);
    auto h = specialize_send(w.a, fa, {.message_size = kPayloadMss});
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_TRUE(h->valid());
    EXPECT_TRUE(h->ready());
    SendHandleInfo info = h->info();
    EXPECT_TRUE(info.specialized);
    EXPECT_GT(info.code_bytes, 0u);
    EXPECT_EQ(info.installs, 1u);

    auto data = payload(kPayloadMss);
    EXPECT_EQ(h->send(data.data(), data.size()), ssize_t(kPayloadMss));
    auto frames = w.settle();
    ASSERT_EQ(frames.size(), 1u);  // one segment, exactly
    EXPECT_EQ(frames[0].size(), kEthernetHeaderLen + kIpv4MinHeaderLen + 32 + kPayloadMss);
    std::vector<uint8_t> got(4096);
    ASSERT_EQ(recv(w.b, fb, got.data(), got.size()), ssize_t(kPayloadMss));
    got.resize(kPayloadMss);
    EXPECT_EQ(got, data);
    EXPECT_EQ(h->info().specialized_sends, 1u);
    EXPECT_EQ(h->info().generic_sends, 0u);

    // A second handle for the same socket and options shares the code.
    auto again = specialize_send(w.a, fa, {.message_size = kPayloadMss});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->info().code, h->info().code);
    EXPECT_EQ(again->info().compile_ms, h->info().compile_ms);

    h->release();
    EXPECT_FALSE(h->valid());
    EXPECT_EQ(h->send(data.data(), data.size()), -EBADF);
    h->release();  // idempotent
    EXPECT_EQ(again->send(data.data(), data.size()), ssize_t(kPayloadMss));
}

TEST(SpecTcp, ExtractionErrors) {
    World w{WorldConfig{}};
    EXPECT_EQ(specialize_send(w.a, 99).error().code, EBADF);
    int unconnected = socket(w.a, kAfInet, kSockStream);
    auto e = specialize_send(w.a, unconnected);
    EXPECT_EQ(e.error().code, ENOTCONN);
    EXPECT_NE(e.error().message.find("ESTABLISHED"), std::string::npos) << e.error().message;
    int listener = socket(w.a, kAfInet, kSockStream);
    ASSERT_EQ(bind(w.a, listener, SockAddr{{}, 7000}), 0);
    ASSERT_EQ(listen(w.a, listener, 1), 0);
    EXPECT_EQ(specialize_send(w.a, listener).error().code, ENOTCONN);

    auto [fa, fb] = w.tcp_connection(kTcpPortA, kTcpPortB);
    ASSERT_GE(fb, 0);
    EXPECT_EQ(specialize_send(w.a, fa, {.message_size = 0}).error().code, EMSGSIZE);
    EXPECT_EQ(specialize_send(w.a, fa, {.message_size = 64 * kPayloadMss + 1}).error().code, EMSGSIZE);
    EXPECT_EQ(specialize_send(w.a, fa, {.message_size = 1u << 30}).error().code, EMSGSIZE);
    EXPECT_TRUE(specialize_send(w.a, fa, {.message_size = 64 * kPayloadMss}));

    // The neighbour forgotten: no frame can be frozen.
    w.a.interface(0)->arp().flush();
    auto unresolved = specialize_send(w.a, fa);
    EXPECT_EQ(unresolved.error().code, EHOSTUNREACH) << unresolved.error().message;
    w.pump();
    uint8_t byte = 1;
    ASSERT_EQ(send(w.a, fa, &byte, 1), 1);  // resolves it again
    w.pump();
    EXPECT_TRUE(specialize_send(w.a, fa));
    // No route.
    ASSERT_EQ(w.a.remove_route(Ipv4Addr::from_octets(198, 18, 0, 0), 24), 0);
    EXPECT_EQ(specialize_send(w.a, fa).error().code, ENETUNREACH);
    ASSERT_EQ(w.a.add_route(Ipv4Addr::from_octets(198, 18, 0, 0), 24, Ipv4Addr{}, 0), 0);

    // Shut down for writing: past ESTABLISHED.
    ASSERT_EQ(shutdown(w.a, fa, kShutWr), 0);
    EXPECT_EQ(specialize_send(w.a, fa).error().code, ENOTCONN);
}

TEST(SpecTcp, SameFramesAsGenericWithADeclaredMessage) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = kPayloadMss});
    ASSERT_TRUE(h) << h.error().message;
    for (int i = 0; i < 40; ++i) t.send_both(*h, payload(kPayloadMss, uint8_t(i)), kPayloadMss);
    EXPECT_EQ(h->info().specialized_sends, 40u);
    // Other lengths: the generic path, same frames.
    t.send_both(*h, payload(100), 100);
    t.send_both(*h, payload(5000), 5000);
    EXPECT_EQ(h->info().generic_sends, 2u);
    EXPECT_EQ(counters_differ(t.generic.a.stats(), t.special.a.stats()), "");
}

TEST(SpecTcp, MultiSegmentMessagesUnrolled) {
    for (uint32_t adu : {2 * kPayloadMss, 3 * kPayloadMss, 3 * kPayloadMss - 100, 500u}) {
        for (int nodelay : {0, 1}) {
            SCOPED_TRACE("adu " + std::to_string(adu) + " nodelay " + std::to_string(nodelay));
            TcpTwins t;
            for (World* w : t.worlds)
                ASSERT_EQ(setsockopt(w->a, w == &t.generic ? t.fd_generic : t.fd_special, kIpProtoTcp, kTcpNodelay,
                                     &nodelay, sizeof nodelay),
                          0);
            auto h = specialize_send(t.special.a, t.fd_special, {.message_size = adu});
            ASSERT_TRUE(h) << h.error().message;
            for (int i = 0; i < 12; ++i) t.send_both(*h, payload(adu, uint8_t(i)), adu);
            // Sends back to back without the peer answering in between: the windows
            // and Nagle decide, for both paths alike.
            for (int i = 0; i < 30; ++i) {
                auto data = payload(adu, uint8_t(i));
                ASSERT_EQ(send(t.generic.a, t.fd_generic, data.data(), adu), ssize_t(adu));
                ASSERT_EQ(h->send(data.data(), adu), ssize_t(adu));
            }
            t.settle_and_compare();
            // Straight whenever the windows allow, except a message whose short last
            // segment Nagle would hold (no TCP_NODELAY): that one is the general loop's.
            SendHandleInfo info = h->info();
            EXPECT_EQ(info.specialized_sends + info.generic_sends, 42u);
            bool tail_held = adu % kPayloadMss != 0 && adu > kPayloadMss && !nodelay;
            if (tail_held)
                EXPECT_EQ(info.specialized_sends, 0u);
            else
                EXPECT_GE(info.specialized_sends, 12u);
        }
    }
}

TEST(SpecTcp, NothingDeclaredIsThePrunedGenericPath) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special);
    ASSERT_TRUE(h) << h.error().message;
    for (size_t n : {1, 2, 100, 1447, 1448, 1449, 2896, 5000, 20000, 65536, 0})
        t.send_both(*h, payload(n, uint8_t(n)), ssize_t(n));
    EXPECT_EQ(h->info().specialized_sends, 11u);
    EXPECT_EQ(h->info().generic_sends, 0u);
}

TEST(SpecTcp, FullSendBufferGivesPartialSendsThenEagain) {
    WorldConfig config;
    config.tcp.send_buffer = 16384;
    TcpTwins t(config);
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = 4000});
    ASSERT_TRUE(h) << h.error().message;
    auto h_any = specialize_send(t.special.a, t.fd_special);
    ASSERT_TRUE(h_any) << h_any.error().message;
    // B does not read: its window closes, then A's send buffer fills.
    std::vector<ssize_t> results;
    for (int i = 0; i < 200; ++i) {
        auto data = payload(4000, uint8_t(i));
        SendHandle& handle = i % 3 == 2 ? *h_any : *h;
        ssize_t rg = send(t.generic.a, t.fd_generic, data.data(), data.size());
        ssize_t rs = handle.send(data.data(), data.size());
        ASSERT_EQ(rg, rs) << "send " << i;
        results.push_back(rs);
        t.settle_and_compare(/*read=*/false);
        if (rs == -EAGAIN) break;
    }
    ASSERT_EQ(results.back(), -EAGAIN);
    bool partial = false;
    for (ssize_t r : results) partial |= r > 0 && r < 4000;
    EXPECT_TRUE(partial);
    // The receiver reads again: everything arrives, on both.
    t.settle_and_compare(/*read=*/true);
    t.send_both(*h, payload(4000), 4000);
}

// Fallback asked for: its frames equal the generic path's byte for byte (reinforced
// frames take IP IDs of their own in the IPv4 output; guards_stream_test and
// guards_recut_test cover that policy).
TEST(SpecTcp, MssLoweredFallsBackThenRespecializes) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = kPayloadMss,
                                                         .on_violation = ViolationPolicy::fallback_and_respecialize});
    ASSERT_TRUE(h) << h.error().message;
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    uint64_t first = h->info().code_version;
    // PMTU 1200: MSS 1160, 1148 bytes of payload: a declared message is now two segments.
    icmp_frag_needed(t.generic, t.fd_generic, 1200);
    icmp_frag_needed(t.special, t.fd_special, 1200);
    EXPECT_EQ(t.special.a.descriptors().tcp(t.fd_special)->snd_mss.get(), 1160);
    EXPECT_FALSE(h->ready());
    t.settle_and_compare();
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);  // generic, compile queued
    EXPECT_TRUE(h->wait_ready());
    EXPECT_NE(h->info().code_version, first);
    for (int i = 0; i < 10; ++i) t.send_both(*h, payload(kPayloadMss, uint8_t(i)), kPayloadMss);
    EXPECT_EQ(h->info().installs, 2u);
    EXPECT_GE(h->info().generic_sends, 1u);
}

TEST(SpecTcp, RouteChangeFallsBackThenRespecializes) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = kPayloadMss});
    ASSERT_TRUE(h) << h.error().message;
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    uint64_t first = h->info().code_version;
    // A host route to the peer via itself: a new route version, the same frames, so
    // the same context: the next send re-installs the cached code at once.
    for (World* w : t.worlds) ASSERT_EQ(w->a.add_route(w->config.addr_b, 32, w->config.addr_b), 0);
    EXPECT_FALSE(h->ready());
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    EXPECT_TRUE(h->ready());
    EXPECT_EQ(h->info().code_version, first);
    EXPECT_EQ(h->info().installs, 2u);
    // The connected route gone, a default route via B's address: next hop B still.
    // Then no route at all: the generic path fails the send's output, for both.
    for (World* w : t.worlds) {
        ASSERT_EQ(w->a.remove_route(w->config.addr_b, 32), 0);
        ASSERT_EQ(w->a.add_route(Ipv4Addr{}, 0, w->config.addr_b), 0);
    }
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    EXPECT_EQ(h->info().installs, 3u);
    for (World* w : t.worlds) {
        ASSERT_EQ(w->a.remove_route(Ipv4Addr{}, 0), 0);
        ASSERT_EQ(w->a.remove_route(Ipv4Addr::from_octets(198, 18, 0, 0), 24), 0);
    }
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);  // queued: no route to send it on
    EXPECT_FALSE(h->ready());
    SendHandleInfo info = h->info();
    EXPECT_EQ(info.generic_sends, 1u);
    EXPECT_EQ(info.specialized_sends, 3u);
}

TEST(SpecTcp, OptionChangesFallBack) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = 700});
    ASSERT_TRUE(h) << h.error().message;
    t.send_both(*h, payload(700), 700);
    int one = 1, tos = 0x20;
    for (World* w : t.worlds) {
        int fd = w == &t.generic ? t.fd_generic : t.fd_special;
        ASSERT_EQ(setsockopt(w->a, fd, kIpProtoTcp, kTcpNodelay, &one, sizeof one), 0);
        ASSERT_EQ(setsockopt(w->a, fd, kIpProtoIp, kIpTos, &tos, sizeof tos), 0);
    }
    EXPECT_FALSE(h->ready());
    t.settle_and_compare();
    t.send_both(*h, payload(700), 700);
    EXPECT_TRUE(h->wait_ready());
    for (int i = 0; i < 5; ++i) t.send_both(*h, payload(700), 700);
    EXPECT_EQ(h->info().installs, 2u);
}

TEST(SpecTcp, ArpChangeFallsBack) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = kPayloadMss,
                                                         .on_violation = ViolationPolicy::fallback_and_respecialize});
    ASSERT_TRUE(h);
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    for (World* w : t.worlds) w->a.interface(0)->arp().flush();
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);  // queued behind ARP, both
    EXPECT_EQ(h->info().generic_sends, 1u);
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    EXPECT_TRUE(h->wait_ready());
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    EXPECT_GE(h->info().specialized_sends, 2u);
}

TEST(SpecTcp, StateChangesTakeTheGenericPath) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = kPayloadMss});
    ASSERT_TRUE(h);
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    // The peer closes its side: CLOSE-WAIT, A may still send (generic path).
    for (World* w : t.worlds) ASSERT_EQ(shutdown(w->b, t.peer(*w), kShutWr), 0);
    t.settle_and_compare();
    ASSERT_EQ(t.socket(t.special).state, TcpState::close_wait);
    uint64_t specialized = h->info().specialized_sends;
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    t.send_both(*h, payload(kPayloadMss), kPayloadMss);
    EXPECT_EQ(h->info().specialized_sends, specialized);
    EXPECT_EQ(h->info().generic_sends, 2u);
    // A shuts down writing: send() says EPIPE, the handle too.
    for (World* w : t.worlds) ASSERT_EQ(shutdown(w->a, w == &t.generic ? t.fd_generic : t.fd_special, kShutWr), 0);
    t.send_both(*h, payload(kPayloadMss), -EPIPE);
}

TEST(SpecTcp, CloseDuringUse) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = 100});
    ASSERT_TRUE(h);
    auto data = payload(100);
    EXPECT_EQ(h->send(data.data(), 100), 100);
    ASSERT_EQ(close(t.special.a, t.fd_special), 0);
    EXPECT_EQ(h->send(data.data(), 100), -EBADF);
    EXPECT_FALSE(h->ready());
    // The descriptor is reused by a new connection: still not this handle's socket.
    auto again = t.special.tcp_connection(kTcpPortA + 1, kTcpPortB + 1);
    ASSERT_EQ(again.first, t.fd_special);
    EXPECT_EQ(h->send(data.data(), 100), -EBADF);
    EXPECT_EQ(h->respecialize(), -EBADF);
}

TEST(SpecTcp, RejectPolicy) {
    TcpTwins t;
    auto h = specialize_send(t.special.a, t.fd_special, {.message_size = 200, .on_violation = ViolationPolicy::reject});
    ASSERT_TRUE(h) << h.error().message;
    auto data = payload(200);
    EXPECT_EQ(h->send(data.data(), 199), -EMSGSIZE);
    EXPECT_EQ(h->send(data.data(), 200), 200);
    int ttl = 9;
    ASSERT_EQ(setsockopt(t.special.a, t.fd_special, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    EXPECT_EQ(h->send(data.data(), 200), -ESTALE);
    EXPECT_EQ(h->respecialize(), 0);
    t.special.settle();
    EXPECT_EQ(h->send(data.data(), 200), 200);
    auto frames = t.special.settle();
    ASSERT_GE(frames.size(), 1u);
    EXPECT_EQ(frames[0][kEthernetHeaderLen + 8], 9);  // the new TTL
}

// As Spec.AsyncSendsGenericUntilReady: held, every send goes through the generic path
// (a synchronous compile would make them specialized); let go and ready, every one is
// specialized (full segments: Nagle holds none back for the generic path to queue),
// and the stream the peer gets is the generic twin's.
TEST(SpecTcp, AsyncSendsGenericUntilReady) {
    TcpTwins t;
    static int runs = 0;
    int ttl = 71 + runs++;  // a context no other test (nor an earlier --gtest_repeat) compiled
    for (World* w : t.worlds)
        ASSERT_EQ(setsockopt(w->a, w == &t.generic ? t.fd_generic : t.fd_special, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    HeldCompiles held;
    auto h = specialize_send_async(t.special.a, t.fd_special, {.message_size = kPayloadMss});
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_TRUE(h->info().compiling);
    for (int i = 0; i < 3; ++i) t.send_both(*h, payload(kPayloadMss, uint8_t(i)), kPayloadMss);
    SendHandleInfo info = h->info();
    EXPECT_EQ(info.generic_sends, 3u);
    EXPECT_EQ(info.specialized_sends, 0u);
    EXPECT_FALSE(h->ready());
    held.release();
    ASSERT_TRUE(h->wait_ready());
    for (int i = 0; i < 2; ++i) t.send_both(*h, payload(kPayloadMss, uint8_t(10 + i)), kPayloadMss);
    info = h->info();
    EXPECT_EQ(info.generic_sends, 3u);
    EXPECT_EQ(info.specialized_sends, 2u);
}

TEST(SpecTcp, BothPipelinesProduceTheSameFrames) {
    TcpTwins t;
    for (JitPipeline p : {JitPipeline::fast, JitPipeline::default_o2}) {
        int ttl = p == JitPipeline::fast ? 33 : 34;  // a new context each time
        for (World* w : t.worlds)
            setsockopt(w->a, w == &t.generic ? t.fd_generic : t.fd_special, kIpProtoIp, kIpTtl, &ttl, sizeof ttl);
        for (std::optional<uint32_t> adu : {std::optional<uint32_t>{}, std::optional<uint32_t>{kPayloadMss}}) {
            auto h = specialize_send(t.special.a, t.fd_special, {.message_size = adu, .pipeline = p});
            ASSERT_TRUE(h) << h.error().message;
            for (int i = 0; i < 4; ++i) t.send_both(*h, payload(kPayloadMss, uint8_t(i)), kPayloadMss);
            EXPECT_EQ(h->info().specialized_sends, 4u);
        }
    }
}

// FNV-1a over a byte stream, so sender and receiver compare 64 bits.
struct StreamHash {
    uint64_t h = 0xcbf29ce484222325ull;
    uint64_t bytes = 0;
    void add(const uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
        bytes += n;
    }
};

// Many sends through one handle while the world changes under it: nothing is lost,
// duplicated or reordered.
TEST(SpecTcp, StreamThroughHandleLosesNothing) {
    WorldConfig config;
    config.tcp.receive_buffer = 64 * 1024;
    World w{config};
    auto [fa, fb] = w.tcp_connection(kTcpPortA, kTcpPortB);
    ASSERT_GE(fb, 0);
    auto h = specialize_send(w.a, fa, {.message_size = kPayloadMss});
    ASSERT_TRUE(h) << h.error().message;
    std::mt19937_64 rng(7);
    StreamHash sent, received;
    std::vector<uint8_t> message(kPayloadMss), buf(65536);
    uint32_t loss_per_mille = 0;
    auto lose = [&] { return std::uniform_int_distribution<uint32_t>(0, 999)(rng) < loss_per_mille; };
    constexpr int kMessages = 6000;
    int pending_offset = 0;  // bytes of `message` already accepted
    constexpr int kEvents[] = {1000, 1800, 2500, 3000, 3500, 4000};
    size_t next_event = 0;
    for (int i = 0; i < kMessages;) {
        if (pending_offset == 0)
            for (uint8_t& b : message) b = static_cast<uint8_t>(rng());
        size_t len = kPayloadMss - size_t(pending_offset);
        ssize_t rc = h->send(message.data() + pending_offset, len);
        if (rc > 0) {
            sent.add(message.data() + pending_offset, size_t(rc));
            pending_offset = size_t(rc) == len ? 0 : pending_offset + int(rc);
            if (pending_offset == 0) ++i;
        } else {
            ASSERT_EQ(rc, -EAGAIN);
        }
        // The world changes under the handle, once each.
        if (next_event < std::size(kEvents) && i >= kEvents[next_event]) {
            switch (next_event++) {
                case 0: loss_per_mille = 20; break;  // retransmissions, SACK recovery
                case 1: loss_per_mille = 0; break;
                case 2: icmp_frag_needed(w, fa, 1100); break;
                case 3: ASSERT_EQ(w.a.add_route(w.config.addr_b, 32, w.config.addr_b), 0); break;
                case 4: w.a.interface(0)->arp().flush(); break;
                case 5: {
                    int one = 1;
                    ASSERT_EQ(setsockopt(w.a, fa, kIpProtoTcp, kTcpNodelay, &one, sizeof one), 0);
                    break;
                }
            }
        }
        if (rc == -EAGAIN || i % 8 == 0) {
            // A re-specialization compiles in the background while the generic path
            // carries the data; let it finish here (by waiting, not timing).
            if (!h->ready()) h->wait_ready();
            w.clock.advance(kMillisecond);
            w.capture_and_deliver(lose);
            w.b.poll();
            w.a.poll();
            ssize_t n;
            while ((n = recv(w.b, fb, buf.data(), buf.size())) > 0) received.add(buf.data(), size_t(n));
        }
    }
    for (int round = 0; round < 20000 && received.bytes < sent.bytes; ++round) {
        w.clock.advance(10 * kMillisecond);
        w.capture_and_deliver(lose);
        w.b.poll();
        w.a.poll();
        ssize_t n;
        while ((n = recv(w.b, fb, buf.data(), buf.size())) > 0) received.add(buf.data(), size_t(n));
    }
    EXPECT_EQ(sent.bytes, uint64_t(kMessages) * kPayloadMss);
    EXPECT_EQ(received.bytes, sent.bytes);
    EXPECT_EQ(received.h, sent.h);
    SendHandleInfo info = h->info();
    std::printf("stream: %llu specialized sends, %llu generic, %llu installs, %llu retransmits, last error %d\n",
                (unsigned long long)info.specialized_sends, (unsigned long long)info.generic_sends,
                (unsigned long long)info.installs, (unsigned long long)w.a.descriptors().tcp(fa)->total_retransmits,
                info.last_error);
    EXPECT_GT(info.specialized_sends, uint64_t(kMessages) / 2);
    EXPECT_GE(info.installs, 4u);
}

}  // namespace
}  // namespace quasi::test
