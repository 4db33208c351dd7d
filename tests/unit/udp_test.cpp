// UDP through two whole stacks on the in-memory link: delivery, fragmentation,
// demultiplexing, ICMP errors and the socket API's errors.
#include "stack_pair.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

namespace quasi::test {
namespace {

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    Random r(seed);
    for (auto& byte : v) byte = static_cast<uint8_t>(r.next());
    return v;
}

struct UdpPair : StackPair {
    using StackPair::StackPair;
    int open_bound(Stack& s, uint16_t port) {
        int fd = socket(s, kAfInet, kSockDgram);
        EXPECT_GE(fd, 0);
        EXPECT_EQ(bind(s, fd, SockAddr{Ipv4Addr{}, port}), 0);
        return fd;
    }
};

TEST(Udp, DatagramsOfEverySizeArriveIntactBothWays) {
    UdpPair p;
    int fa = p.open_bound(p.a, 5000);
    int fb = p.open_bound(p.b, 6000);
    std::vector<uint8_t> buf(70000);
    for (size_t size : {0ul, 1ul, 64ul, 1472ul, 1473ul, 2960ul, 4000ul, 8000ul, 65507ul}) {
        auto data = pattern(size, static_cast<uint32_t>(size));
        SockAddr to_b{UdpPair::addr_b, 6000};
        ASSERT_EQ(sendto(p.a, fa, data.data(), size, 0, &to_b), ssize_t(size)) << size;
        p.pump();
        SockAddr from;
        ASSERT_EQ(recvfrom(p.b, fb, buf.data(), buf.size(), 0, &from), ssize_t(size)) << size;
        EXPECT_EQ(from, (SockAddr{UdpPair::addr_a, 5000}));
        EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.begin())) << size;
        // and back
        ASSERT_EQ(sendto(p.b, fb, data.data(), size, 0, &from), ssize_t(size));
        p.pump();
        ASSERT_EQ(recvfrom(p.a, fa, buf.data(), buf.size(), 0, nullptr), ssize_t(size));
        EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.begin())) << size;
    }
    EXPECT_GT(p.a.stats()[Counter::ipv4_fragments_tx], 0u);
    EXPECT_GT(p.b.stats()[Counter::ipv4_reassembled], 0u);
    EXPECT_EQ(unexpected_drops(p.a.stats()), 0u) << drops_of(p.a.stats());
    EXPECT_EQ(unexpected_drops(p.b.stats()), 0u) << drops_of(p.b.stats());
}

// A jumbo link MTU above one pool buffer (2 KB): single-frame datagrams that do not
// fit a buffer go out chained through the general path, never past a buffer's end.
TEST(Udp, JumboFramesLargerThanOneBufferArriveIntact) {
    UdpPair p{9000};
    int fa = p.open_bound(p.a, 5000);
    int fb = p.open_bound(p.b, 6000);
    std::vector<uint8_t> buf(9000);
    SockAddr to_b{UdpPair::addr_b, 6000};
    for (size_t size : {1800ul, 1900ul, 2048ul, 4000ul, 8972ul}) {
        auto data = pattern(size, static_cast<uint32_t>(size));
        ASSERT_EQ(sendto(p.a, fa, data.data(), size, 0, &to_b), ssize_t(size)) << size;
        p.pump();
        ASSERT_EQ(recvfrom(p.b, fb, buf.data(), buf.size(), 0, nullptr), ssize_t(size)) << size;
        EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.begin())) << size;
    }
    EXPECT_EQ(p.a.stats()[Counter::ipv4_fragments_tx], 0u);
    EXPECT_EQ(unexpected_drops(p.b.stats()), 0u) << drops_of(p.b.stats());
}

TEST(Udp, FirstSendResolvesArpAndQueuesTheDatagram) {
    UdpPair p;
    int fa = p.open_bound(p.a, 5000);
    int fb = p.open_bound(p.b, 6000);
    uint8_t byte = 42;
    SockAddr to_b{UdpPair::addr_b, 6000};
    uint64_t requests = p.a.stats()[Counter::arp_requests_sent];  // the gratuitous ARP counts too
    EXPECT_EQ(sendto(p.a, fa, &byte, 1, 0, &to_b), 1);
    EXPECT_EQ(p.a.stats()[Counter::arp_requests_sent], requests + 1);
    p.pump();
    uint8_t got = 0;
    EXPECT_EQ(recv(p.b, fb, &got, 1), 1);
    EXPECT_EQ(got, 42);
}

TEST(Udp, ClosedPortGetsPortUnreachableAndConnectedSenderSeesEconnrefused) {
    UdpPair p;
    int fa = socket(p.a, kAfInet, kSockDgram);
    ASSERT_EQ(connect(p.a, fa, SockAddr{UdpPair::addr_b, 9}), 0);
    uint8_t byte = 1;
    EXPECT_EQ(send(p.a, fa, &byte, 1), 1);
    p.pump();
    EXPECT_EQ(p.b.stats()[Drop::udp_no_socket], 1u);
    EXPECT_EQ(p.b.stats()[Counter::icmp_errors_sent], 1u);
    EXPECT_EQ(p.a.stats()[Counter::icmp_errors_rx], 1u);
    PollFd pfd{fa, events::in, 0};
    EXPECT_EQ(poll(p.a, &pfd, 1), 1);
    EXPECT_TRUE(pfd.revents & events::err);
    EXPECT_EQ(recv(p.a, fa, &byte, 1), -ECONNREFUSED);
    EXPECT_EQ(recv(p.a, fa, &byte, 1), -EAGAIN);  // reported once
}

TEST(Udp, ConnectedSocketOnlyAcceptsItsPeer) {
    UdpPair p;
    int fb = p.open_bound(p.b, 6000);
    ASSERT_EQ(connect(p.b, fb, SockAddr{UdpPair::addr_a, 5000}), 0);
    int other = p.open_bound(p.a, 5001);
    uint8_t byte = 7;
    SockAddr to_b{UdpPair::addr_b, 6000};
    EXPECT_EQ(sendto(p.a, other, &byte, 1, 0, &to_b), 1);
    p.pump();
    EXPECT_EQ(recv(p.b, fb, &byte, 1), -EAGAIN);
    EXPECT_EQ(p.b.stats()[Drop::udp_no_socket], 1u);
}

TEST(Udp, ReceiveQueueIsBoundedAndCountsDrops) {
    UdpPair p;
    int fa = p.open_bound(p.a, 5000);
    int fb = p.open_bound(p.b, 6000);
    int limit = 8 * 2048;
    ASSERT_EQ(setsockopt(p.b, fb, kSolSocket, kSoRcvbuf, &limit, sizeof limit), 0);
    uint8_t byte = 0;
    SockAddr to_b{UdpPair::addr_b, 6000};
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(sendto(p.a, fa, &byte, 1, 0, &to_b), 1);
        p.pump();
    }
    EXPECT_EQ(p.b.stats()[Counter::udp_rx], 8u);
    EXPECT_EQ(p.b.stats()[Drop::udp_queue_full], 12u);
    int received = 0;
    while (recv(p.b, fb, &byte, 1) == 1) ++received;
    EXPECT_EQ(received, 8);
}

TEST(Udp, ReadyCallbackFiresOnArrival) {
    UdpPair p;
    int fa = p.open_bound(p.a, 5000);
    int fb = p.open_bound(p.b, 6000);
    int calls = 0;
    ASSERT_EQ(set_ready_callback(
                  p.b, fb, [](int, uint16_t ev, void* user) { *static_cast<int*>(user) += (ev & events::in) ? 1 : 0; },
                  &calls),
              0);
    uint8_t byte = 0;
    SockAddr to_b{UdpPair::addr_b, 6000};
    sendto(p.a, fa, &byte, 1, 0, &to_b);
    p.pump();
    EXPECT_EQ(calls, 1);
}

TEST(Udp, SocketApiErrors) {
    UdpPair p;
    uint8_t byte = 0;
    EXPECT_EQ(socket(p.a, 10, kSockDgram), -EAFNOSUPPORT);
    EXPECT_EQ(socket(p.a, kAfInet, 99), -ESOCKTNOSUPPORT);
    EXPECT_EQ(send(p.a, 1234, &byte, 1), -EBADF);
    EXPECT_EQ(send(p.a, -1, &byte, 1), -EBADF);
    int fd = socket(p.a, kAfInet, kSockDgram);
    EXPECT_EQ(send(p.a, fd, &byte, 1), -EDESTADDRREQ);
    EXPECT_EQ(send(p.a, fd, nullptr, 5), -EFAULT);
    SockAddr nowhere{Ipv4Addr::from_octets(198, 19, 0, 1), 9};
    EXPECT_EQ(sendto(p.a, fd, &byte, 1, 0, &nowhere), -ENETUNREACH);
    SockAddr port0{UdpPair::addr_b, 0};
    EXPECT_EQ(sendto(p.a, fd, &byte, 1, 0, &port0), -EINVAL);
    std::vector<uint8_t> huge(65508);
    SockAddr to_b{UdpPair::addr_b, 7};
    EXPECT_EQ(sendto(p.a, fd, huge.data(), huge.size(), 0, &to_b), -EMSGSIZE);
    SockAddr bcast{Ipv4Addr::from_octets(198, 18, 0, 255), 7};
    EXPECT_EQ(sendto(p.a, fd, &byte, 1, 0, &bcast), -EACCES);
    int unbound = socket(p.a, kAfInet, kSockDgram);
    EXPECT_EQ(bind(p.a, unbound, SockAddr{Ipv4Addr::from_octets(198, 18, 0, 99), 1}), -EADDRNOTAVAIL);
    int other = socket(p.a, kAfInet, kSockDgram);
    ASSERT_EQ(bind(p.a, other, SockAddr{Ipv4Addr{}, 4444}), 0);
    int third = socket(p.a, kAfInet, kSockDgram);
    EXPECT_EQ(bind(p.a, third, SockAddr{Ipv4Addr{}, 4444}), -EADDRINUSE);
    EXPECT_EQ(bind(p.a, other, SockAddr{Ipv4Addr{}, 4445}), -EINVAL);  // already bound
    int ttl = 0;
    EXPECT_EQ(setsockopt(p.a, fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), -EINVAL);
    EXPECT_EQ(setsockopt(p.a, fd, kIpProtoIp, kIpTtl, &ttl, 1), -EINVAL);
    EXPECT_EQ(setsockopt(p.a, fd, 99, 99, &ttl, sizeof ttl), -ENOPROTOOPT);
    EXPECT_EQ(recv(p.a, fd, &byte, 1), -EAGAIN);
    SockAddr peer;
    EXPECT_EQ(getpeername(p.a, fd, &peer), -ENOTCONN);
    EXPECT_EQ(close(p.a, fd), 0);
    EXPECT_EQ(close(p.a, fd), -EBADF);
}

TEST(Udp, DontFragmentRefusesOversizeAndBroadcastNeedsSoBroadcast) {
    UdpPair p;
    int fa = p.open_bound(p.a, 5000);
    int fb = p.open_bound(p.b, 6000);
    int do_pmtu = kPmtuDiscDo;
    ASSERT_EQ(setsockopt(p.a, fa, kIpProtoIp, kIpMtuDiscover, &do_pmtu, sizeof do_pmtu), 0);
    std::vector<uint8_t> big(2000);
    SockAddr to_b{UdpPair::addr_b, 6000};
    EXPECT_EQ(sendto(p.a, fa, big.data(), big.size(), 0, &to_b), -EMSGSIZE);
    int one = 1;
    ASSERT_EQ(setsockopt(p.a, fa, kSolSocket, kSoBroadcast, &one, sizeof one), 0);
    SockAddr bcast{Ipv4Addr::from_octets(198, 18, 0, 255), 6000};
    EXPECT_EQ(sendto(p.a, fa, big.data(), 100, 0, &bcast), 100);
    p.pump();
    EXPECT_EQ(recv(p.b, fb, big.data(), big.size()), 100);
}

TEST(Udp, SendWithoutChecksumIsAccepted) {
    UdpPair p;
    int fa = p.open_bound(p.a, 5000);
    int fb = p.open_bound(p.b, 6000);
    int one = 1;
    ASSERT_EQ(setsockopt(p.a, fa, kSolSocket, kSoNoCheck, &one, sizeof one), 0);
    uint8_t data[100] = {1, 2, 3};
    SockAddr to_b{UdpPair::addr_b, 6000};
    for (size_t size : {100ul, 3000ul}) {
        std::vector<uint8_t> d(size, 9);
        ASSERT_EQ(sendto(p.a, fa, d.data(), size, 0, &to_b), ssize_t(size));
        p.pump();
        std::vector<uint8_t> got(size);
        EXPECT_EQ(recv(p.b, fb, got.data(), size), ssize_t(size));
        EXPECT_EQ(got, d);
    }
    (void)data;
}

TEST(Udp, EphemeralPortsAreNotSequential) {
    UdpPair p;
    std::vector<uint16_t> ports;
    for (int i = 0; i < 8; ++i) {
        int fd = socket(p.a, kAfInet, kSockDgram);
        ASSERT_EQ(bind(p.a, fd, SockAddr{}), 0);
        SockAddr name;
        getsockname(p.a, fd, &name);
        EXPECT_GE(name.port, UdpLayer::kEphemeralFirst);
        ports.push_back(name.port);
    }
    int sequential = 0;
    for (size_t i = 1; i < ports.size(); ++i) sequential += ports[i] == ports[i - 1] + 1;
    EXPECT_LT(sequential, 3);
}

}  // namespace
}  // namespace quasi::test
