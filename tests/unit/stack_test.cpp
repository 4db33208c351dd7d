// A whole Stack on a MemLink, watched from the wire: what it announces when an
// interface comes up (RFC 5227 gratuitous ARP) and what its IP IDs reveal (RFC 7739
// keyed per-destination counters). The test owns endpoint a; frames are read there.
#include "wire_harness.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace quasi::test {
namespace {

// One stack, seeded, and its link (the test reads and writes at endpoint a).
struct LoneStack {
    explicit LoneStack(uint64_t seed) : stack(small_config(seed), clock, &pool) {}

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 256}};
    MemLink link;
    Stack stack;
};

// The ARP messages among `frames`.
std::vector<std::pair<EthernetRepr, ArpRepr>> arp_messages(const std::vector<Bytes>& frames) {
    std::vector<std::pair<EthernetRepr, ArpRepr>> out;
    for (const Bytes& f : frames) {
        Bytes copy = f;
        EthernetView eth{copy};
        if (eth.check() || eth.ethertype() != uint16_t(EtherType::arp) || ArpView{eth.payload()}.check()) continue;
        out.push_back({EthernetRepr::parse(eth), ArpRepr::parse(ArpView{eth.payload()})});
    }
    return out;
}

// ---------------------------------------------------------------- the time

// A received frame, a timer pass or a socket call reads the clock once (Stack::TimePin):
// inside a pin the time holds still, a nested pin keeps the outer reading, and once
// the outer pin ends the stack follows the clock again.
TEST(StackTime, APinHoldsOneClockReadingUntilTheOutermostPinEnds) {
    LoneStack s(1);
    const TimeNs start = s.clock.now();
    {
        Stack::TimePin outer(s.stack);
        s.clock.advance(kMillisecond);
        EXPECT_EQ(s.stack.now(), start);
        {
            Stack::TimePin inner(s.stack);
            s.clock.advance(kMillisecond);
            EXPECT_EQ(s.stack.now(), start);
        }
        EXPECT_EQ(s.stack.now(), start) << "the inner pin ended, the outer one holds";
    }
    EXPECT_EQ(s.stack.now(), start + 2 * kMillisecond);
    s.clock.advance(kMillisecond);
    EXPECT_EQ(s.stack.now(), start + 3 * kMillisecond);
}

// ---------------------------------------------------------------- gratuitous ARP

// RFC 5227 3: an address that comes up is announced, so neighbours holding a stale
// mapping for it update at once: one broadcast request with sender IP == target IP,
// per interface, for that interface's address, and it is not repeated.
TEST(StackStart, AddInterfaceAnnouncesItsAddressExactlyOnce) {
    LoneStack s(1);
    MemLink second{MemLink::Config{.mac_b = MacAddr{{0x02, 0, 0, 0, 0, 0x2b}}}};
    const Ipv4Addr second_addr = Ipv4Addr::from_octets(198, 18, 9, 2);
    ASSERT_EQ(s.stack.add_interface(s.link.b(), kUs, 24), 0);
    ASSERT_EQ(s.stack.add_interface(second.b(), second_addr, 24), 1);
    for (int i = 0; i < 3; ++i) {  // time passing and polling add nothing
        s.clock.advance(5 * kSecond);
        s.stack.poll();
    }
    struct Expect {
        MemLink* link;
        Ipv4Addr addr;
        MacAddr mac;
    };
    for (const Expect& e : {Expect{&s.link, kUs, kStackMac}, Expect{&second, second_addr, second.b().mac()}}) {
        SCOPED_TRACE(e.addr.value);
        std::vector<Bytes> frames = take_frames(e.link->a());
        auto arps = arp_messages(frames);
        ASSERT_EQ(frames.size(), 1u);
        ASSERT_EQ(arps.size(), 1u);
        const auto& [eth, arp] = arps[0];
        EXPECT_EQ(eth.dst, MacAddr::broadcast());
        EXPECT_EQ(eth.src, e.mac);
        EXPECT_EQ(arp.op, ArpOp::request);
        EXPECT_EQ(arp.sender_mac, e.mac);
        EXPECT_EQ(arp.sender_ip, e.addr);
        EXPECT_EQ(arp.target_ip, e.addr);
        EXPECT_EQ(arp.target_mac, MacAddr{});
    }
    EXPECT_EQ(s.stack.stats()[Counter::arp_requests_sent], 2u);
}

// ---------------------------------------------------------------- IP IDs (RFC 7739)

// The IP IDs of the first `n` UDP datagrams a stack seeded with `seed` sends to kPeer.
std::vector<uint16_t> idents_to_peer(uint64_t seed, int n) {
    LoneStack s(seed);
    EXPECT_EQ(s.stack.add_interface(s.link.b(), kUs, 24), 0);
    put_frame(s.pool, s.link.a(), arp(ArpOp::request, kTestMac, kPeer, kUs));  // the stack learns the peer
    s.stack.poll();
    int fd = socket(s.stack, kAfInet, kSockDgram);
    EXPECT_GE(fd, 0);
    const SockAddr to{kPeer, 9000};
    const uint8_t data[8] = {};
    for (int i = 0; i < n; ++i) EXPECT_EQ(sendto(s.stack, fd, data, sizeof data, 0, &to), ssize_t(sizeof data));
    s.stack.poll();
    std::vector<uint16_t> idents;
    for (Bytes& f : take_frames(s.link.a())) {
        EthernetView eth{f};
        if (eth.check() || eth.ethertype() != uint16_t(EtherType::ipv4)) continue;
        Ipv4View ip{eth.payload()};
        if (!ip.check() && ip.dst() == kPeer && ip.protocol() == uint8_t(IpProtocol::udp)) idents.push_back(ip.ident());
    }
    EXPECT_EQ(idents.size(), size_t(n));
    return idents;
}

// RFC 7739 5.2 / RFC 6864: the ID counter for a destination starts at a value drawn
// from the stack's secret seed, so an observer cannot tell how much the host sent
// elsewhere, nor match two hosts by their IDs. The same seed gives the same IDs (they
// come from the seed, nothing else); one destination sees a counter.
TEST(IpIdent, FirstIdToADestinationComesFromTheSeed) {
    std::vector<uint16_t> a = idents_to_peer(11, 3);
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(idents_to_peer(11, 3), a);
    EXPECT_EQ(a[1], uint16_t(a[0] + 1));
    EXPECT_EQ(a[2], uint16_t(a[0] + 2));
    std::set<uint16_t> firsts;
    for (uint64_t seed = 1; seed <= 8; ++seed)
        for (uint16_t id : idents_to_peer(seed, 1)) firsts.insert(id);
    EXPECT_EQ(firsts.size(), 8u) << "different seeds, yet the same first ID";
}

}  // namespace
}  // namespace quasi::test
