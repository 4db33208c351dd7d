// The sockets' route cache (DstEntry, Stack::route_cached): the generic UDP and TCP
// send paths keep the route, path MTU, next-hop MAC and IP ID bucket per socket and
// must notice every change behind them. Each test sends, changes one input (a route,
// an ARP entry, the path MTU lowered or expired, the interface MTU), sends again and
// checks the frame on the wire; each fails when route_cached stops checking its input.
#include "stack_pair.hpp"

#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <vector>

namespace quasi::test {
namespace {

constexpr Ipv4Addr kUs = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kPeer = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr Ipv4Addr kGateway1 = Ipv4Addr::from_octets(198, 18, 0, 254);
constexpr Ipv4Addr kGateway2 = Ipv4Addr::from_octets(198, 18, 0, 253);
constexpr Ipv4Addr kRemote = Ipv4Addr::from_octets(198, 18, 9, 9);  // beyond a gateway
constexpr MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 0x0b}};
constexpr MacAddr kPeerMac2{{0x02, 0, 0, 0, 0, 0x2b}};
constexpr MacAddr kGatewayMac1{{0x02, 0, 0, 0, 0, 0xf1}};
constexpr MacAddr kGatewayMac2{{0x02, 0, 0, 0, 0, 0xf2}};

struct SentFrame {
    MacAddr dst_mac;
    Ipv4Addr dst;
    uint16_t ident = 0;
    uint16_t total_len = 0;
    bool fragment = false;
};

// One stack on one end of an in-memory link; what it sends is read off the other end
// (no peer stack), its neighbours are static ARP entries.
struct OneStack {
    OneStack() : stack(small_config(7), clock, &pool) {
        stack.add_interface(link.a(), kUs, 24);
        arp().add_static(kPeer, kPeerMac);
        arp().add_static(kGateway1, kGatewayMac1);
        arp().add_static(kGateway2, kGatewayMac2);
        take();  // the gratuitous ARP
    }
    ArpCache& arp() { return stack.interface(0)->arp(); }
    int udp_to(Ipv4Addr dst) {
        int fd = socket(stack, kAfInet, kSockDgram);
        EXPECT_EQ(connect(stack, fd, SockAddr{dst, 9}), 0);
        return fd;
    }
    ssize_t send_bytes(int fd, size_t n) {
        std::vector<uint8_t> data(n, 0x5A);
        ssize_t rc = send(stack, fd, data.data(), n);
        stack.flush_all();
        return rc;
    }
    // The IPv4 frames sent since the last call.
    std::vector<SentFrame> take() {
        std::vector<SentFrame> out;
        std::array<PacketPtr, 32> burst;
        while (size_t n = link.b().rx_burst(burst)) {
            for (size_t i = 0; i < n; ++i) {
                EthernetView eth{burst[i]->bytes()};
                if (eth.ethertype() != uint16_t(EtherType::ipv4)) continue;
                Ipv4View ip{eth.payload()};
                out.push_back(SentFrame{eth.dst(), ip.dst(), ip.ident(), ip.total_len(), ip.is_fragment()});
                burst[i].reset();
            }
        }
        return out;
    }
    // One unfragmented datagram of `n` bytes to dst through next_hop_mac.
    void expect_one_frame(int fd, size_t n, MacAddr next_hop_mac, Ipv4Addr dst) {
        ASSERT_EQ(send_bytes(fd, n), ssize_t(n));
        auto frames = take();
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(frames[0].dst_mac, next_hop_mac);
        EXPECT_EQ(frames[0].dst, dst);
        EXPECT_FALSE(frames[0].fragment);
        EXPECT_EQ(frames[0].total_len, n + kIpv4MinHeaderLen + 8);
    }
    // A datagram of `n` bytes leaves as fragments of at most `mtu` bytes.
    void expect_fragments(int fd, size_t n, uint16_t mtu) {
        ASSERT_EQ(send_bytes(fd, n), ssize_t(n));
        auto frames = take();
        ASSERT_GE(frames.size(), 2u);
        for (const SentFrame& f : frames) {
            EXPECT_TRUE(f.fragment);
            EXPECT_LE(f.total_len, mtu);
        }
    }

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 256}};
    MemLink link;
    Stack stack;
};

TEST(RouteCache, UdpFollowsARouteChange) {
    OneStack t;
    ASSERT_EQ(t.stack.add_route(Ipv4Addr{}, 0, kGateway1), 0);
    int fd = t.udp_to(kRemote);
    t.expect_one_frame(fd, 64, kGatewayMac1, kRemote);
    t.expect_one_frame(fd, 64, kGatewayMac1, kRemote);  // now from the cache
    ASSERT_EQ(t.stack.add_route(Ipv4Addr::from_octets(198, 18, 9, 0), 24, kGateway2), 0);
    t.expect_one_frame(fd, 64, kGatewayMac2, kRemote);
    ASSERT_EQ(t.stack.remove_route(Ipv4Addr::from_octets(198, 18, 9, 0), 24), 0);
    t.expect_one_frame(fd, 64, kGatewayMac1, kRemote);
    ASSERT_EQ(t.stack.remove_route(Ipv4Addr{}, 0), 0);
    EXPECT_EQ(t.send_bytes(fd, 64), -ENETUNREACH);
}

TEST(RouteCache, UdpFollowsAnArpChange) {
    OneStack t;
    int fd = t.udp_to(kPeer);
    t.expect_one_frame(fd, 64, kPeerMac, kPeer);
    t.expect_one_frame(fd, 64, kPeerMac, kPeer);
    ASSERT_TRUE(t.arp().add_static(kPeer, kPeerMac2));  // the peer's MAC changed
    t.expect_one_frame(fd, 64, kPeerMac2, kPeer);
    // Gone from the cache: the datagram waits for resolution (an ARP request) instead.
    t.arp().flush();
    ASSERT_EQ(t.send_bytes(fd, 64), 64);
    EXPECT_TRUE(t.take().empty());
    EXPECT_EQ(t.arp().pending_frames(), 1u);
}

TEST(RouteCache, UdpFollowsALoweredPathMtu) {
    OneStack t;
    int fd = t.udp_to(kPeer);
    t.expect_one_frame(fd, 1000, kPeerMac, kPeer);
    t.expect_one_frame(fd, 1000, kPeerMac, kPeer);
    ASSERT_TRUE(t.stack.lower_path_mtu(kPeer, 600));
    t.expect_fragments(fd, 1000, 600);
    int df = kPmtuDiscDo;
    ASSERT_EQ(setsockopt(t.stack, fd, kIpProtoIp, kIpMtuDiscover, &df, sizeof df), 0);
    EXPECT_EQ(t.send_bytes(fd, 1000), -EMSGSIZE);
}

// RFC 1191 6.3: a learnt path MTU ages out, and sends grow back to the link MTU. A
// stale cache would not show on the wire (the send would decline to the general path,
// which reads the path-MTU table afresh): the cached value itself must grow back.
TEST(RouteCache, UdpFollowsAnExpiredPathMtu) {
    OneStack t;
    int fd = t.udp_to(kPeer);
    const DstEntry& cached = t.stack.descriptors().udp(fd)->route_cache;
    ASSERT_TRUE(t.stack.lower_path_mtu(kPeer, 600));
    t.expect_fragments(fd, 1000, 600);
    t.expect_fragments(fd, 1000, 600);
    EXPECT_EQ(cached.path_mtu, 600);
    t.clock.advance(PathMtuCache::kLifetime + kSecond);
    t.expect_one_frame(fd, 1000, kPeerMac, kPeer);
    EXPECT_EQ(cached.path_mtu, 1500);
}

TEST(RouteCache, UdpFollowsAnInterfaceMtuChange) {
    OneStack t;
    int fd = t.udp_to(kPeer);
    t.expect_one_frame(fd, 1000, kPeerMac, kPeer);
    t.expect_one_frame(fd, 1000, kPeerMac, kPeer);
    t.stack.interface(0)->mtu.guarded_write(576);
    t.expect_fragments(fd, 1000, 576);
    t.stack.interface(0)->mtu.guarded_write(1500);
    t.expect_one_frame(fd, 1000, kPeerMac, kPeer);
}

// An unconnected socket sending to destinations in turn: each datagram takes its own
// destination's route and MAC, and its IP ID comes from the RFC 7739 bucket the keyed
// hash picks for (src, dst, UDP), the one next_ip_ident draws from.
TEST(RouteCache, UnconnectedSendtoAlternatingDestinations) {
    OneStack t;
    ASSERT_EQ(t.stack.add_route(Ipv4Addr{}, 0, kGateway1), 0);
    int fd = socket(t.stack, kAfInet, kSockDgram);
    uint8_t byte = 1;
    for (int i = 0; i < 6; ++i) {
        Ipv4Addr dst = i % 2 ? kRemote : kPeer;
        SockAddr to{dst, 9};
        ASSERT_EQ(sendto(t.stack, fd, &byte, 1, 0, &to), 1);
        t.stack.flush_all();
        auto frames = t.take();
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(frames[0].dst, dst);
        EXPECT_EQ(frames[0].dst_mac, i % 2 ? kGatewayMac1 : kPeerMac);
        uint16_t next = *t.stack.ip_ident_counter(kUs, dst, uint8_t(IpProtocol::udp));
        EXPECT_EQ(frames[0].ident, uint16_t(next - 1)) << i;
    }
}

// TCP's segments take the same cache: a changed route or neighbour shows in the
// very next segment.
TEST(RouteCache, TcpSegmentsFollowRouteAndArpChanges) {
    StackPair p;
    int listener = socket(p.b, kAfInet, kSockStream);
    ASSERT_EQ(bind(p.b, listener, SockAddr{StackPair::addr_b, 80}), 0);
    ASSERT_EQ(listen(p.b, listener, 4), 0);
    int fd = socket(p.a, kAfInet, kSockStream);
    connect(p.a, fd, SockAddr{StackPair::addr_b, 80});
    p.pump();
    ASSERT_GE(accept(p.b, listener, nullptr), 0);
    auto next_segment_mac = [&] {
        uint8_t byte = 7;
        EXPECT_EQ(send(p.a, fd, &byte, 1), 1);
        p.a.flush_all();
        std::array<PacketPtr, 32> burst;
        MacAddr mac{};
        int frames = 0;
        while (size_t n = p.link.b().rx_burst(burst))
            for (size_t i = 0; i < n; ++i, ++frames) mac = EthernetView{burst[i]->bytes()}.dst();
        EXPECT_EQ(frames, 1);
        // The peer's part: everything sent counts as acknowledged.
        TcpSocket* s = p.a.descriptors().tcp(fd);
        s->send_buffer.consume(s->snd_nxt - s->snd_una);
        s->snd_una = s->snd_nxt;
        return mac;
    };
    const MacAddr b_mac = p.link.b().mac();
    EXPECT_EQ(next_segment_mac(), b_mac);
    EXPECT_EQ(next_segment_mac(), b_mac);
    ASSERT_TRUE(p.a.interface(0)->arp().add_static(StackPair::addr_b, kPeerMac2));
    EXPECT_EQ(next_segment_mac(), kPeerMac2);
    ASSERT_TRUE(p.a.interface(0)->arp().add_static(kGateway1, kGatewayMac1));
    ASSERT_EQ(p.a.add_route(StackPair::addr_b, 32, kGateway1), 0);
    EXPECT_EQ(next_segment_mac(), kGatewayMac1);
}

}  // namespace
}  // namespace quasi::test
