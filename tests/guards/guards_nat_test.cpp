// The egress rule's NAT in both directions (label `guards`). A UDP socket bound to
// the wildcard sends from the address of its route's interface; when the route to
// its peer moves to the second link, the stale specialized code still writes the
// first link's address, and the rule translates it (guards/reinforce.hpp). The
// peer answers the translated address; while the rule lives each reply is
// translated back to the address the socket's code sends from, its checksums fixed
// incrementally (RFC 1624), and it reaches the socket. Once the new code runs, the
// rule and its translation go.
#include "jit/specialize.hpp"
#include "jit/specializer.hpp"
#include "tests/guards/two_links.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace quasi::test {
namespace {

constexpr uint16_t kClientPort = 7000;
constexpr uint16_t kEchoPort = 7007;
constexpr size_t kSize = 64;

struct Echo {
    TwoLinks w;
    int fa = -1;  // A's client: bound to 0.0.0.0, connected to B's echo port
    int fb = -1;  // B's echo socket
    uint32_t next = 0;
    std::vector<Ipv4Addr> request_sources;  // as B saw them

    Echo() {
        // B answers A's second address over the second link.
        EXPECT_EQ(w.b.add_route(Ipv4Addr::from_octets(198, 18, 1, 0), 24, Ipv4Addr{}, 1), 0);
        fb = socket(w.b, kAfInet, kSockDgram);
        bind(w.b, fb, SockAddr{{}, kEchoPort});
        fa = socket(w.a, kAfInet, kSockDgram);
        bind(w.a, fa, SockAddr{{}, kClientPort});
        connect(w.a, fa, SockAddr{TwoLinks::kB0, kEchoPort});
    }

    // B echoes whatever reached it.
    void echo() {
        uint8_t buf[2048];
        SockAddr from;
        ssize_t n;
        while ((n = recvfrom(w.b, fb, buf, sizeof buf, 0, &from)) > 0) {
            request_sources.push_back(from.addr);
            sendto(w.b, fb, buf, size_t(n), 0, &from);
        }
    }

    // One request through `send_one`, B's reply read back: whether it came, intact.
    // `reply_dst`: the destination the reply's UDP checksum verifies with, as queued
    // at the socket (the address it was delivered to, after any translation).
    template <class Send>
    bool round_trip(Send&& send_one, Ipv4Addr* reply_dst) {
        uint8_t request[kSize];
        for (size_t i = 0; i < kSize; ++i) request[i] = uint8_t(next * 31 + i);
        store_be32(request, next++);
        if (send_one(request) != ssize_t(kSize)) return false;
        for (int i = 0; i < 50; ++i) {
            w.pump();
            echo();
        }
        w.pump();
        UdpSocket& s = *w.a.descriptors().udp(fa);
        PacketBuffer* d = s.receive_queue.front();
        if (!d) return false;
        *reply_dst = Ipv4Addr{};
        for (Ipv4Addr dst : {TwoLinks::kA0, TwoLinks::kA1}) {
            ChecksumAccumulator acc;
            add_pseudo_header(acc, TwoLinks::kB0, dst, uint8_t(IpProtocol::udp), uint16_t(d->chain_length()));
            acc.add_chain(*d, 0, d->chain_length());
            if (acc.folded() == 0xFFFF) *reply_dst = dst;
        }
        uint8_t reply[kSize + 1];
        SockAddr from;
        ssize_t n = recvfrom(w.a, fa, reply, sizeof reply, 0, &from);
        return n == ssize_t(kSize) && std::memcmp(reply, request, kSize) == 0 && from == SockAddr{TwoLinks::kB0, kEchoPort};
    }
};

TEST(GuardsNat, RepliesToTheTranslatedSourceAreTranslatedBackWhileTheRuleLives) {
    Echo e;
    auto plain = [&](const uint8_t* d) { return send(e.w.a, e.fa, d, kSize); };
    Ipv4Addr reply_dst;
    ASSERT_TRUE(e.round_trip(plain, &reply_dst));  // resolves B's MAC
    auto h = specialize_send(e.w.a, e.fa, {.message_size = uint32_t(kSize)});  // the default policy: reinforce
    ASSERT_TRUE(h) << h.error().message;
    auto special = [&](const uint8_t* d) { return h->send(d, kSize); };

    ASSERT_TRUE(e.round_trip(special, &reply_dst));
    EXPECT_EQ(reply_dst, TwoLinks::kA0);
    EXPECT_EQ(e.request_sources.back(), TwoLinks::kA0);

    // The route to B moves to the second link; the new code's compile is held, so
    // the stale code (source A0) sends through the rule.
    jit::Specializer::instance().hold_background(true);
    ASSERT_EQ(e.w.a.add_route(TwoLinks::kB0, 32, Ipv4Addr{}, 1), 0);
    constexpr int kUnderRule = 8;
    const uint64_t specialized_before = h->info().specialized_sends;
    for (int i = 0; i < kUnderRule; ++i) {
        ASSERT_TRUE(e.round_trip(special, &reply_dst)) << "reply " << i;
        EXPECT_EQ(e.request_sources.back(), TwoLinks::kA1) << "request " << i;  // translated at egress
        EXPECT_EQ(reply_dst, TwoLinks::kA0) << "reply " << i;                   // and back on ingress
    }
    SendHandleInfo info = h->info();
    EXPECT_EQ(info.specialized_sends - specialized_before, uint64_t(kUnderRule));
    EXPECT_EQ(info.guards.translations, uint64_t(kUnderRule));
    EXPECT_EQ(info.guards.translations_back, uint64_t(kUnderRule));
    EXPECT_EQ(e.w.a.stats()[Counter::guard_translations_back], uint64_t(kUnderRule));
    EXPECT_NE(e.w.a.ingress_rules, nullptr);

    // A datagram of another flow to the translated address is left alone.
    int other = socket(e.w.b, kAfInet, kSockDgram);
    bind(e.w.b, other, SockAddr{{}, kEchoPort + 1});
    uint8_t stray[kSize] = {1};
    const SockAddr to_a1{TwoLinks::kA1, kClientPort};
    ASSERT_EQ(sendto(e.w.b, other, stray, kSize, 0, &to_a1), ssize_t(kSize));
    e.w.pump();
    EXPECT_EQ(e.w.a.stats()[Counter::guard_translations_back], uint64_t(kUnderRule));
    close(e.w.b, other);

    // The new code sends from A1 itself: the rule is retired, nothing is translated.
    jit::Specializer::instance().hold_background(false);
    ASSERT_TRUE(h->wait_ready());
    ASSERT_TRUE(e.round_trip(special, &reply_dst));
    EXPECT_EQ(e.request_sources.back(), TwoLinks::kA1);
    EXPECT_EQ(reply_dst, TwoLinks::kA1);
    EXPECT_EQ(e.w.a.ingress_rules, nullptr);
    info = h->info();
    EXPECT_EQ(info.guards.translations, uint64_t(kUnderRule));
    EXPECT_EQ(info.guards.translations_back, uint64_t(kUnderRule));
    EXPECT_EQ(info.guards.replugs, 2u);
}

}  // namespace
}  // namespace quasi::test
