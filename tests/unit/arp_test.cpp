// ARP cache state machine driven by crafted ARP bodies and a fake owner that records
// what the cache transmits (lwIP-style counting fake netif).
#include "stack/arp.hpp"

#include "stack/wire/ethernet.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace quasi {
namespace {

const MacAddr kOurMac{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};
const MacAddr kOtherMac{{0x02, 0, 0, 0, 0, 0x03}};
constexpr Ipv4Addr kOurIp = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kPeerIp = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr Ipv4Addr kThirdIp = Ipv4Addr::from_octets(198, 18, 0, 3);

Ipv4Addr host(uint8_t n) { return Ipv4Addr::from_octets(198, 18, 1, n); }

struct Sent {
    EthernetRepr eth;
    ArpRepr arp;         // valid when eth.ethertype is ARP
    uint8_t marker = 0;  // last byte of an IPv4 test frame
    size_t length = 0;
};

class FakeOwner final : public ArpOutput {
public:
    std::vector<Sent> sent;
    void transmit_frame(PacketPtr frame) override {
        EthernetView eth{frame->bytes()};
        Sent s{EthernetRepr::parse(eth), {}, frame->data()[frame->length - 1], frame->length};
        if (s.eth.ethertype == uint16_t(EtherType::arp)) s.arp = ArpRepr::parse(ArpView{eth.payload()});
        sent.push_back(s);
    }  // the frame goes back to the pool here
    bool is_local_address(Ipv4Addr addr) const override { return addr == kOurIp; }
    bool is_subnet_broadcast(Ipv4Addr addr) const override { return addr == Ipv4Addr::from_octets(198, 18, 0, 255); }
};

class ArpTest : public ::testing::Test {
protected:
    static ArpCache::Config small_config() {
        ArpCache::Config c;
        c.max_entries = 4;
        c.max_pending_total = 6;
        c.max_pending_per_entry = 3;
        return c;
    }

    BufferPool pool{{.count = 32, .data_room = 256, .headroom = 32}};
    Stats stats;
    ManualClock clock;
    FakeOwner owner;
    ArpCache cache{small_config(), owner, pool, stats, kOurMac};

    void TearDown() override {
        cache.flush();
        EXPECT_EQ(pool.available(), pool.capacity()) << "buffers leaked";
    }

    // A 28-byte Ethernet/IPv4 ARP body.
    static std::vector<uint8_t> body(ArpOp op, MacAddr smac, Ipv4Addr sip, MacAddr tmac, Ipv4Addr tip) {
        std::vector<uint8_t> b(kArpLen);
        ArpRepr{op, smac, sip, tmac, tip}.emit(b.data());
        return b;
    }
    void feed(std::vector<uint8_t> b, MacAddr eth_src) { cache.input(b, eth_src, clock.now()); }
    void request(MacAddr smac, Ipv4Addr sip, Ipv4Addr tip) {
        feed(body(ArpOp::request, smac, sip, MacAddr{}, tip), smac);
    }
    void reply(MacAddr smac, Ipv4Addr sip) { feed(body(ArpOp::reply, smac, sip, kOurMac, kOurIp), smac); }

    // An IPv4 frame from `src`, dst MAC unset, whose last byte is `marker`.
    PacketPtr ip_frame(uint8_t marker, Ipv4Addr src = kOurIp) {
        PacketPtr f = pool.alloc();
        uint8_t* p = f->append(kEthernetHeaderLen + 21);
        std::fill(p, p + f->length, 0);
        EthernetRepr{MacAddr{}, kOurMac, uint16_t(EtherType::ipv4)}.emit(p);
        src.store_to(p + kEthernetHeaderLen + 12);
        p[f->length - 1] = marker;
        return f;
    }
    void send(Ipv4Addr next_hop, uint8_t marker) {
        cache.resolve_and_send(next_hop, ip_frame(marker), clock.now());
    }
    void poll_after(TimeNs t) {
        clock.advance(t);
        cache.poll(clock.now());
    }
    void resolve_peer() {
        send(kPeerIp, 0);
        reply(kPeerMac, kPeerIp);
        owner.sent.clear();
    }
};

TEST_F(ArpTest, RequestForUsIsAnsweredAndTeachesTheSender) {
    request(kPeerMac, kPeerIp, kOurIp);
    ASSERT_EQ(owner.sent.size(), 1u);
    const Sent& r = owner.sent[0];
    EXPECT_EQ(r.length, kEthernetHeaderLen + kArpLen);
    EXPECT_EQ(r.eth.dst, kPeerMac);
    EXPECT_EQ(r.eth.src, kOurMac);
    EXPECT_EQ(r.arp.op, ArpOp::reply);
    EXPECT_EQ(r.arp.sender_mac, kOurMac);
    EXPECT_EQ(r.arp.sender_ip, kOurIp);
    EXPECT_EQ(r.arp.target_mac, kPeerMac);
    EXPECT_EQ(r.arp.target_ip, kPeerIp);
    EXPECT_EQ(stats[Counter::arp_replies_sent], 1u);
    EXPECT_EQ(stats[Counter::arp_entries_learned], 1u);
    MacAddr mac;
    ASSERT_TRUE(cache.lookup(kPeerIp, mac));
    EXPECT_EQ(mac, kPeerMac);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::reachable);
}

TEST_F(ArpTest, UnicastRequestWithOddTargetMacAndPaddingIsAnswered) {
    auto b = body(ArpOp::request, kPeerMac, kPeerIp, MacAddr{{1, 2, 3, 4, 5, 6}}, kOurIp);
    b.resize(46, 0);  // Ethernet minimum payload
    feed(b, kPeerMac);
    EXPECT_EQ(stats[Counter::arp_replies_sent], 1u);
    EXPECT_EQ(stats.total_drops(), 0u);
}

TEST_F(ArpTest, RequestForOthersLearnsNothingButMergesKnownSender) {
    request(kPeerMac, kPeerIp, kThirdIp);
    EXPECT_EQ(stats[Drop::arp_not_for_us], 1u);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::free);
    EXPECT_TRUE(owner.sent.empty());

    resolve_peer();
    request(kOtherMac, kPeerIp, kThirdIp);  // RFC 826 merge, e.g. a gratuitous ARP
    MacAddr mac;
    ASSERT_TRUE(cache.lookup(kPeerIp, mac));
    EXPECT_EQ(mac, kOtherMac);
    EXPECT_EQ(stats[Drop::arp_not_for_us], 2u);
}

TEST_F(ArpTest, UnsolicitedReplyCreatesNothing) {
    reply(kPeerMac, kPeerIp);
    feed(body(ArpOp::reply, kPeerMac, kPeerIp, MacAddr{}, kPeerIp), kPeerMac);  // gratuitous reply
    EXPECT_EQ(stats[Drop::arp_unsolicited_reply], 2u);
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_TRUE(owner.sent.empty());
}

TEST_F(ArpTest, UnknownNextHopQueuesAndBroadcastsOneRequest) {
    send(kPeerIp, 1);
    send(kPeerIp, 2);
    ASSERT_EQ(owner.sent.size(), 1u);
    const Sent& q = owner.sent[0];
    EXPECT_EQ(q.eth.dst, MacAddr::broadcast());
    EXPECT_EQ(q.eth.ethertype, uint16_t(EtherType::arp));
    EXPECT_EQ(q.arp.op, ArpOp::request);
    EXPECT_EQ(q.arp.sender_mac, kOurMac);
    EXPECT_EQ(q.arp.sender_ip, kOurIp);  // the queued packet's source
    EXPECT_EQ(q.arp.target_mac, MacAddr{});
    EXPECT_EQ(q.arp.target_ip, kPeerIp);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::incomplete);
    EXPECT_EQ(cache.pending_frames(), 2u);
    EXPECT_EQ(stats[Counter::arp_requests_sent], 1u);
}

TEST_F(ArpTest, RequestFromForeignSourceUsesUnspecifiedSender) {
    cache.resolve_and_send(kPeerIp, ip_frame(1, kThirdIp), clock.now());  // forwarded packet
    ASSERT_EQ(owner.sent.size(), 1u);
    EXPECT_EQ(owner.sent[0].arp.sender_ip, Ipv4Addr::any());  // RFC 5227 probe form
}

TEST_F(ArpTest, ReplyFlushesQueueInOrder) {
    for (uint8_t m = 1; m <= 3; ++m) send(kPeerIp, m);
    owner.sent.clear();
    reply(kPeerMac, kPeerIp);
    ASSERT_EQ(owner.sent.size(), 3u);
    for (uint8_t m = 1; m <= 3; ++m) {
        EXPECT_EQ(owner.sent[m - 1].marker, m);
        EXPECT_EQ(owner.sent[m - 1].eth.dst, kPeerMac);
    }
    EXPECT_EQ(cache.pending_frames(), 0u);
    EXPECT_EQ(stats.total_drops(), 0u);
    send(kPeerIp, 4);  // resolved: straight out
    ASSERT_EQ(owner.sent.size(), 4u);
    EXPECT_EQ(owner.sent[3].eth.dst, kPeerMac);
}

TEST_F(ArpTest, RetriesThenGivesUpAndReturnsBuffers) {
    size_t full = pool.available();
    send(kPeerIp, 1);
    send(kPeerIp, 2);
    poll_after(kSecond / 2);
    EXPECT_EQ(owner.sent.size(), 1u);  // not before retry_interval
    poll_after(kSecond / 2);
    poll_after(kSecond);
    EXPECT_EQ(owner.sent.size(), 3u);  // max_requests broadcasts in all
    EXPECT_EQ(stats[Counter::arp_requests_sent], 3u);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::incomplete);
    poll_after(kSecond);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::free);
    EXPECT_EQ(stats[Drop::arp_unresolved], 2u);
    EXPECT_EQ(cache.pending_frames(), 0u);
    EXPECT_EQ(pool.available(), full);
}

TEST_F(ArpTest, ReachableGoesStaleAndUseSendsAUnicastPoll) {
    resolve_peer();
    poll_after(30 * kSecond);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::stale);
    send(kPeerIp, 7);
    ASSERT_EQ(owner.sent.size(), 2u);
    EXPECT_EQ(owner.sent[0].marker, 7);
    EXPECT_EQ(owner.sent[0].eth.dst, kPeerMac);
    EXPECT_EQ(owner.sent[1].arp.op, ArpOp::request);
    EXPECT_EQ(owner.sent[1].eth.dst, kPeerMac);  // RFC 1122 2.3.2.1 unicast poll
    EXPECT_EQ(owner.sent[1].arp.target_ip, kPeerIp);
    reply(kPeerMac, kPeerIp);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::reachable);
}

TEST_F(ArpTest, UnansweredPollsRemoveStaleEntry) {
    resolve_peer();
    poll_after(30 * kSecond);
    uint64_t gen = cache.generation();
    send(kPeerIp, 1);
    for (int i = 0; i < 3; ++i) poll_after(kSecond);
    EXPECT_EQ(stats[Counter::arp_requests_sent], 1u + 3u);  // resolution + 3 polls
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::free);
    EXPECT_GT(cache.generation(), gen);
}

TEST_F(ArpTest, UnusedStaleEntryIsRemoved) {
    resolve_peer();
    poll_after(30 * kSecond);
    poll_after(59 * kSecond);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::stale);
    poll_after(kSecond);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::free);
    EXPECT_TRUE(owner.sent.empty());
}

TEST_F(ArpTest, ConflictIsCountedDefendedAndChangesNothing) {
    resolve_peer();
    uint64_t gen = cache.generation();
    request(kOtherMac, kOurIp, kPeerIp);
    EXPECT_EQ(stats[Drop::arp_address_conflict], 1u);
    MacAddr mac;
    ASSERT_TRUE(cache.lookup(kPeerIp, mac));
    EXPECT_EQ(mac, kPeerMac);
    EXPECT_EQ(cache.state_of(kOurIp), ArpCache::State::free);
    EXPECT_EQ(cache.generation(), gen);
    ASSERT_EQ(owner.sent.size(), 1u);  // RFC 5227 2.4 (b): one defending announcement
    EXPECT_EQ(owner.sent[0].arp.sender_ip, kOurIp);
    EXPECT_EQ(owner.sent[0].arp.target_ip, kOurIp);
    clock.advance(5 * kSecond);
    reply(kOtherMac, kOurIp);
    EXPECT_EQ(stats[Drop::arp_address_conflict], 2u);
    EXPECT_EQ(owner.sent.size(), 1u);  // within DEFEND_INTERVAL
    clock.advance(5 * kSecond);
    reply(kOtherMac, kOurIp);
    EXPECT_EQ(owner.sent.size(), 2u);
}

TEST_F(ArpTest, OwnFrameLoopedBackIsNotAConflict) {
    request(kOurMac, kOurIp, kOurIp);
    EXPECT_EQ(stats[Drop::arp_address_conflict], 0u);
    EXPECT_EQ(stats[Drop::arp_bad_sender], 1u);
}

TEST_F(ArpTest, BadSenderMacsAreRejected) {
    const MacAddr multicast{{0x01, 0x00, 0x5e, 0, 0, 1}};
    request(MacAddr::broadcast(), kPeerIp, kOurIp);
    request(multicast, kPeerIp, kOurIp);
    request(MacAddr{}, kPeerIp, kOurIp);
    feed(body(ArpOp::request, kPeerMac, kPeerIp, MacAddr{}, kOurIp), multicast);  // Ethernet source
    EXPECT_EQ(stats[Drop::arp_bad_sender], 4u);
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_TRUE(owner.sent.empty());
}

TEST_F(ArpTest, BadSenderAddressesAreRejected) {
    for (Ipv4Addr bad : {Ipv4Addr::broadcast(), Ipv4Addr::from_octets(224, 0, 0, 1),
                         Ipv4Addr::from_octets(0, 1, 2, 3), Ipv4Addr::from_octets(240, 0, 0, 1),
                         Ipv4Addr::from_octets(127, 0, 0, 1), Ipv4Addr::from_octets(198, 18, 0, 255)})
        request(kPeerMac, bad, kOurIp);
    EXPECT_EQ(stats[Drop::arp_bad_sender], 6u);
    EXPECT_EQ(cache.entries(), 0u);
}

TEST_F(ArpTest, ProbeForOurAddressIsAnsweredWithoutLearning) {
    request(kPeerMac, Ipv4Addr::any(), kOurIp);  // RFC 5227 2.1.1 probe
    ASSERT_EQ(owner.sent.size(), 1u);
    EXPECT_EQ(owner.sent[0].arp.sender_ip, kOurIp);
    EXPECT_EQ(owner.sent[0].arp.target_ip, Ipv4Addr::any());
    EXPECT_EQ(owner.sent[0].eth.dst, kPeerMac);
    EXPECT_EQ(cache.entries(), 0u);
    request(kPeerMac, Ipv4Addr::any(), kThirdIp);
    EXPECT_EQ(stats[Drop::arp_not_for_us], 1u);
}

TEST_F(ArpTest, PerEntryQueueKeepsTheLatestFrames) {
    for (uint8_t m = 1; m <= 5; ++m) send(kPeerIp, m);  // 3 per entry
    EXPECT_EQ(stats[Drop::arp_queue_full], 2u);
    owner.sent.clear();
    reply(kPeerMac, kPeerIp);
    ASSERT_EQ(owner.sent.size(), 3u);  // RFC 1122 2.3.2.2: the latest survive
    EXPECT_EQ(owner.sent[0].marker, 3);
    EXPECT_EQ(owner.sent[2].marker, 5);
}

TEST_F(ArpTest, TotalQueueIsBounded) {
    for (uint8_t n = 1; n <= 3; ++n)
        for (int i = 0; i < 3; ++i) send(host(n), n);
    EXPECT_EQ(cache.pending_frames(), 6u);
    EXPECT_EQ(stats[Drop::arp_queue_full], 3u);  // the third destination got none in
    EXPECT_EQ(cache.state_of(host(3)), ArpCache::State::incomplete);
}

TEST_F(ArpTest, FullCacheReusesLeastRecentlyUsedPreferringStale) {
    for (uint8_t n = 1; n <= 4; ++n) {
        request(kPeerMac, host(n), kOurIp);  // learnt at t0 .. t0+3
        clock.advance(kSecond);
    }
    clock.advance(25 * kSecond);
    request(kPeerMac, host(1), kOurIp);  // re-confirmed at t0+29, never used
    poll_after(2 * kSecond);             // t0+31: only host(2) has gone stale
    EXPECT_EQ(cache.state_of(host(2)), ArpCache::State::stale);
    send(host(3), 0);  // recently used
    send(host(9), 0);
    EXPECT_EQ(cache.state_of(host(2)), ArpCache::State::free);  // stale before older reachable
    EXPECT_EQ(cache.state_of(host(9)), ArpCache::State::incomplete);
    send(host(10), 0);
    EXPECT_EQ(cache.state_of(host(1)), ArpCache::State::free);  // least recently used
    send(host(11), 0);
    EXPECT_EQ(cache.state_of(host(4)), ArpCache::State::free);
    EXPECT_EQ(cache.state_of(host(3)), ArpCache::State::reachable);
}

TEST_F(ArpTest, FullCacheOfPendingEntriesDropsNewWork) {
    for (uint8_t n = 1; n <= 4; ++n) send(host(n), n);
    send(host(5), 5);
    EXPECT_EQ(stats[Drop::arp_cache_full], 1u);
    EXPECT_EQ(cache.state_of(host(5)), ArpCache::State::free);
    request(kPeerMac, kPeerIp, kOurIp);  // still answered, only not learnt
    EXPECT_EQ(stats[Counter::arp_replies_sent], 1u);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::free);
}

TEST_F(ArpTest, GratuitousArpFormat) {
    cache.announce(kOurIp);
    ASSERT_EQ(owner.sent.size(), 1u);
    const Sent& g = owner.sent[0];
    EXPECT_EQ(g.eth.dst, MacAddr::broadcast());
    EXPECT_EQ(g.eth.src, kOurMac);
    EXPECT_EQ(g.eth.ethertype, uint16_t(EtherType::arp));
    EXPECT_EQ(g.arp.op, ArpOp::request);
    EXPECT_EQ(g.arp.sender_mac, kOurMac);
    EXPECT_EQ(g.arp.sender_ip, kOurIp);
    EXPECT_EQ(g.arp.target_mac, MacAddr{});
    EXPECT_EQ(g.arp.target_ip, kOurIp);
}

TEST_F(ArpTest, MalformedArpIsCountedByReason) {
    auto good = body(ArpOp::request, kPeerMac, kPeerIp, MacAddr{}, kOurIp);
    auto with = [&](size_t at, uint8_t v) {
        auto b = good;
        b[at] = v;
        return b;
    };
    feed(std::vector<uint8_t>(good.begin(), good.begin() + 27), kPeerMac);
    feed({}, kPeerMac);
    feed(with(1, 6), kPeerMac);     // htype 6 (IEEE 802)
    feed(with(2, 0x86), kPeerMac);  // ptype 0x8600
    feed(with(4, 8), kPeerMac);     // hlen
    feed(with(5, 16), kPeerMac);    // plen
    feed(with(7, 3), kPeerMac);     // RARP request
    feed(with(7, 0), kPeerMac);
    EXPECT_EQ(stats[Drop::arp_too_short], 2u);
    EXPECT_EQ(stats[Drop::arp_unsupported], 4u);
    EXPECT_EQ(stats[Drop::arp_bad_opcode], 2u);
    EXPECT_EQ(cache.entries(), 0u);
    EXPECT_TRUE(owner.sent.empty());
}

TEST_F(ArpTest, GenerationTracksMacChangesAndRemovals) {
    uint64_t g0 = cache.generation();
    resolve_peer();
    EXPECT_EQ(cache.generation(), g0);  // a new mapping invalidates nothing
    reply(kPeerMac, kPeerIp);
    EXPECT_EQ(cache.generation(), g0);  // same MAC: refresh only
    reply(kOtherMac, kPeerIp);
    uint64_t g1 = cache.generation();
    EXPECT_GT(g1, g0);
    cache.flush();
    EXPECT_GT(cache.generation(), g1);
    EXPECT_EQ(cache.entries(), 0u);
}

TEST_F(ArpTest, StaticEntryNeverExpiresNorYieldsToTheWire) {
    send(kPeerIp, 1);  // pending until the static entry resolves it
    ASSERT_TRUE(cache.add_static(kPeerIp, kPeerMac));
    ASSERT_EQ(owner.sent.size(), 2u);
    EXPECT_EQ(owner.sent[1].eth.dst, kPeerMac);
    reply(kOtherMac, kPeerIp);
    poll_after(1000 * kSecond);
    MacAddr mac;
    ASSERT_TRUE(cache.lookup(kPeerIp, mac));
    EXPECT_EQ(mac, kPeerMac);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::reachable);
}

TEST_F(ArpTest, ExhaustedPoolIsCountedAndStillGivesUp) {
    PacketPtr frame = ip_frame(1);
    std::vector<PacketPtr> hog;
    while (PacketPtr p = pool.alloc()) hog.push_back(std::move(p));
    cache.resolve_and_send(kPeerIp, std::move(frame), clock.now());
    EXPECT_EQ(stats[Drop::tx_no_buffer], 1u);
    for (int i = 0; i < 3; ++i) poll_after(kSecond);
    EXPECT_EQ(cache.state_of(kPeerIp), ArpCache::State::free);
    EXPECT_EQ(stats[Drop::arp_unresolved], 1u);
}

}  // namespace
}  // namespace quasi
