// Two quasi stacks in one process over a DPDK net_ring pair (zero-copy rte_mbufs):
// UDP and TCP streams, bad frames and resets, and after each test every mbuf back in
// its mempool. EAL runs without hugepages or PCI (--no-huge --no-pci), so this needs
// no root and no NIC.
#include "ports/x86/dpdk/dpdk_port.hpp"
#include "ports/x86/dpdk/eal.hpp"
#include "ports/x86/dpdk/ring_pair.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace quasi::test {
namespace {

dpdk::Eal* eal = nullptr;

std::string drops_of(const Stats& stats) {
    std::string out;
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (stats.drops[i]) out += std::string(name(Drop(i))) + "=" + std::to_string(stats.drops[i]) + " ";
    return out;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    Random r(seed);
    for (auto& byte : v) byte = static_cast<uint8_t>(r.next());
    return v;
}

Stack::Config config_with_seed(uint64_t seed) {
    Stack::Config c;
    c.seed = seed;
    return c;
}

// Ports are created once per process (DPDK cannot remove a net_ring port's name), then
// reconfigured by each test's DpdkPort.
dpdk::RingPair ring_pair() {
    static dpdk::RingPair pair;
    static bool made = false;
    if (!made) {
        std::string error;
        made = dpdk::create_ring_pair("qtest", 1, 1024, pair, &error);
        EXPECT_TRUE(made) << error;
    }
    return pair;
}

// The ring pair with a stack on each end, A 198.18.0.1, B 198.18.0.2.
struct RingStacks {
    RingStacks() {
        dpdk::RingPair pair = ring_pair();
        std::string error;
        port_a = dpdk::DpdkPort::open({.port_id = pair.port_a, .mbufs_per_queue = 4095}, &error);
        port_b = dpdk::DpdkPort::open({.port_id = pair.port_b, .mbufs_per_queue = 4095}, &error);
        EXPECT_TRUE(port_a && port_b) << error;
        a = std::make_unique<Stack>(config_with_seed(1), clock, &port_a->pool(0));
        b = std::make_unique<Stack>(config_with_seed(2), clock, &port_b->pool(0));
        EXPECT_GE(a->add_interface(port_a->netif(0), addr_a, 24), 0);
        EXPECT_GE(b->add_interface(port_b->netif(0), addr_b, 24), 0);
        pump();
    }

    // Stacks gone, rings drained, ports stopped: every mbuf must be in its mempool.
    // Returns the mbufs still out.
    size_t shut_down() {
        pump();
        a.reset();
        b.reset();
        // Frames still in the rings arrive at nobody: receive and free them.
        std::array<PacketPtr, 32> burst;
        while (port_a->netif(0).rx_burst(burst) + port_b->netif(0).rx_burst(burst) > 0)
            for (auto& p : burst) p.reset();
        port_a->stop();
        port_b->stop();
        return port_a->mbufs_in_use() + port_b->mbufs_in_use();
    }

    void pump(int max_rounds = 1000) {
        for (int i = 0; i < max_rounds; ++i)
            if (a->poll() + b->poll() == 0) return;
    }
    void run_for(TimeNs duration, TimeNs step = 10 * kMillisecond) {
        for (TimeNs t = 0; t < duration; t += step) {
            clock.advance(step);
            pump();
        }
    }

    static constexpr Ipv4Addr addr_a = Ipv4Addr::from_octets(198, 18, 0, 1);
    static constexpr Ipv4Addr addr_b = Ipv4Addr::from_octets(198, 18, 0, 2);
    ManualClock clock;
    std::unique_ptr<dpdk::DpdkPort> port_a, port_b;
    std::unique_ptr<Stack> a, b;
};

TEST(DpdkRing, UdpStreamArrivesWholeAndMbufsComeBack) {
    RingStacks s;
    int tx = socket(*s.a, kAfInet, kSockDgram);
    int rx = socket(*s.b, kAfInet, kSockDgram);
    ASSERT_EQ(bind(*s.b, rx, SockAddr{Ipv4Addr{}, 9}), 0);
    ASSERT_EQ(connect(*s.a, tx, SockAddr{RingStacks::addr_b, 9}), 0);
    constexpr int kDatagrams = 20000;
    int received = 0, bad = 0;
    uint8_t buf[2048];
    // One datagram first resolves B's MAC; the stream then never waits on ARP.
    ASSERT_EQ(send(*s.a, tx, "x", 1), 1);
    s.pump();
    ASSERT_EQ(recv(*s.b, rx, buf, sizeof buf), 1);
    for (int i = 0; i < kDatagrams; ++i) {
        size_t len = 1 + (i * 37) % 1472;  // 1..1472 bytes: every size a frame takes
        auto data = pattern(len, uint32_t(i));
        ASSERT_EQ(send(*s.a, tx, data.data(), len), ssize_t(len)) << i;
        if (i % 16 == 15 || i == kDatagrams - 1) {
            s.pump();
            ssize_t n;
            while ((n = recv(*s.b, rx, buf, sizeof buf)) > 0) {
                size_t want = 1 + (received * 37) % 1472;
                if (size_t(n) != want || std::memcmp(buf, pattern(want, uint32_t(received)).data(), want)) ++bad;
                ++received;
            }
        }
    }
    EXPECT_EQ(received, kDatagrams) << drops_of(s.b->stats());
    EXPECT_EQ(bad, 0);
    EXPECT_GT(s.port_a->netif(0).counters().tx_frames, uint64_t(kDatagrams));  // and ARP
    EXPECT_EQ(s.port_a->netif(0).counters().tx_copied, 0u);  // zero-copy: the stack filled the mbufs
    EXPECT_EQ(s.shut_down(), 0u);
}

struct TcpConn {
    int listener = -1, client = -1, server = -1;
};

TcpConn establish(RingStacks& s, uint16_t port) {
    TcpConn c;
    c.listener = socket(*s.b, kAfInet, kSockStream);
    EXPECT_EQ(bind(*s.b, c.listener, SockAddr{Ipv4Addr{}, port}), 0);
    EXPECT_EQ(listen(*s.b, c.listener, 16), 0);
    c.client = socket(*s.a, kAfInet, kSockStream);
    EXPECT_EQ(connect(*s.a, c.client, SockAddr{RingStacks::addr_b, port}), -EINPROGRESS);
    s.pump();
    c.server = accept(*s.b, c.listener, nullptr);
    EXPECT_GE(c.server, 0) << drops_of(s.b->stats());
    return c;
}

std::vector<uint8_t> transfer(RingStacks& s, Stack& src, int sfd, Stack& dst, int dfd, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> got, buf(65536);
    size_t sent = 0;
    for (int round = 0; round < 200000 && got.size() < data.size(); ++round) {
        if (sent < data.size()) {
            ssize_t n = send(src, sfd, data.data() + sent, data.size() - sent);
            if (n > 0) sent += size_t(n);
        }
        s.a->poll();
        s.b->poll();
        ssize_t n;
        while ((n = recv(dst, dfd, buf.data(), buf.size())) > 0) got.insert(got.end(), buf.begin(), buf.begin() + n);
        s.clock.advance(kMillisecond / 10);
    }
    return got;
}

TEST(DpdkRing, TcpStreamsBothWaysThenCloseAndMbufsComeBack) {
    RingStacks s;
    TcpConn c = establish(s, 80);
    auto data = pattern(8 << 20, 7);
    EXPECT_TRUE(transfer(s, *s.a, c.client, *s.b, c.server, data) == data);
    auto back = pattern(4 << 20, 8);
    EXPECT_TRUE(transfer(s, *s.b, c.server, *s.a, c.client, back) == back);
    EXPECT_EQ(close(*s.a, c.client), 0);
    EXPECT_EQ(close(*s.b, c.server), 0);
    s.run_for(2 * kSecond);
    EXPECT_EQ(s.a->stats()[Counter::tcp_retransmits], 0u);
    EXPECT_EQ(s.port_a->netif(0).counters().tx_copied, 0u);
    EXPECT_EQ(s.shut_down(), 0u);
}

// Datagrams above the MTU: fragmented into mbufs by A, reassembled from mbuf chains by B.
TEST(DpdkRing, FragmentedUdpIsReassembled) {
    RingStacks s;
    int tx = socket(*s.a, kAfInet, kSockDgram);
    int rx = socket(*s.b, kAfInet, kSockDgram);
    ASSERT_EQ(bind(*s.b, rx, SockAddr{Ipv4Addr{}, 9}), 0);
    ASSERT_EQ(connect(*s.a, tx, SockAddr{RingStacks::addr_b, 9}), 0);
    std::vector<uint8_t> buf(65536);
    ASSERT_EQ(send(*s.a, tx, "x", 1), 1);
    s.pump();
    ASSERT_EQ(recv(*s.b, rx, buf.data(), buf.size()), 1) << drops_of(s.a->stats()) << "/" << drops_of(s.b->stats());
    for (size_t len : {1473u, 2000u, 2961u, 3000u, 4000u, 8000u, 30000u, 65507u}) {
        auto data = pattern(len, uint32_t(len));
        ASSERT_EQ(send(*s.a, tx, data.data(), len), ssize_t(len));
        s.pump();
        ASSERT_EQ(recv(*s.b, rx, buf.data(), buf.size()), ssize_t(len)) << len << " " << drops_of(s.b->stats());
        EXPECT_EQ(std::memcmp(buf.data(), data.data(), len), 0) << len;
    }
    EXPECT_EQ(s.shut_down(), 0u);
}

TEST(DpdkRing, ResetWithDataInFlightLeavesNoMbufOut) {
    RingStacks s;
    TcpConn c = establish(s, 81);
    // Queue data both ways, deliver part of it, then abort: RST with data in the
    // send rings, the out-of-order queues and the device rings.
    auto data = pattern(1 << 20, 3);
    EXPECT_GT(send(*s.a, c.client, data.data(), data.size()), 0);
    EXPECT_GT(send(*s.b, c.server, data.data(), data.size()), 0);
    s.a->poll();
    s.b->poll();
    Linger l{1, 0};
    ASSERT_EQ(setsockopt(*s.a, c.client, kSolSocket, kSoLinger, &l, sizeof l), 0);
    EXPECT_EQ(close(*s.a, c.client), 0);
    s.pump();
    uint8_t byte;
    ssize_t r;
    while ((r = recv(*s.b, c.server, &byte, 1)) > 0) {
    }
    EXPECT_EQ(r, -ECONNRESET);
    EXPECT_EQ(s.shut_down(), 0u);
}

// Frames no stack wants: runts, a bad IPv4 checksum, an unknown EtherType, a frame
// for another MAC, a UDP datagram with a bad length. Each is counted as a drop and
// its mbuf goes back.
TEST(DpdkRing, BadFramesAreCountedAndFreed) {
    RingStacks s;
    auto frame = [&](size_t len, auto fill) {
        PacketPtr p = s.port_a->pool(0).alloc();
        uint8_t* d = p->append(len);
        std::memset(d, 0, len);
        MacAddr dst = s.port_b->mac(), src = s.port_a->mac();
        std::memcpy(d, dst.bytes.data(), 6);
        std::memcpy(d + 6, src.bytes.data(), 6);
        d[12] = 0x08;  // IPv4
        if (len >= 34) {
            d[14] = 0x45;
            d[16] = 0;
            d[17] = uint8_t(len - 14);
            d[22] = 64;
            d[23] = 17;
            uint32_t sa = RingStacks::addr_a.value, da = RingStacks::addr_b.value;
            for (int k = 0; k < 4; ++k) d[26 + k] = uint8_t(sa >> (24 - 8 * k)), d[30 + k] = uint8_t(da >> (24 - 8 * k));
        }
        fill(d);
        return p;
    };
    std::vector<PacketPtr> bad;
    bad.push_back(frame(10, [](uint8_t*) {}));                         // runt
    bad.push_back(frame(60, [](uint8_t* d) { d[24] = 0xde; }));        // bad IPv4 checksum
    bad.push_back(frame(60, [](uint8_t* d) { d[12] = 0x88, d[13] = 0xb5; }));  // unknown EtherType
    bad.push_back(frame(60, [](uint8_t* d) { d[0] = 0x02, d[5] = 0x77; }));    // not our MAC
    uint64_t before = s.b->stats().total_drops();
    size_t sent = s.port_a->netif(0).tx_burst(bad);
    EXPECT_EQ(sent, bad.size());
    s.pump();
    EXPECT_EQ(s.b->stats().total_drops() - before, bad.size()) << drops_of(s.b->stats());
    EXPECT_EQ(s.b->stats()[Drop::eth_too_short], 1u);
    EXPECT_EQ(s.b->stats()[Drop::ipv4_bad_checksum], 1u);
    EXPECT_EQ(s.b->stats()[Drop::eth_unknown_ethertype], 1u);
    EXPECT_EQ(s.b->stats()[Drop::eth_not_for_us], 1u);
    EXPECT_EQ(s.shut_down(), 0u);
}

class EalEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        std::string prefix = "--file-prefix=quasi_ring_test_" + std::to_string(getpid());
        std::string error;
        eal_ = dpdk::Eal::start("dpdk_ring_test",
                                {"-l", "0", "--no-huge", "--no-pci", "-m", "256", "--no-shconf", "--no-telemetry",
                                 prefix, "--log-level=lib.eal:warning", "--vdev=net_null0"},
                                &error);
        ASSERT_TRUE(eal_) << error;
        eal = eal_.get();
    }
    void TearDown() override { eal_.reset(); }

private:
    std::unique_ptr<dpdk::Eal> eal_;
};

}  // namespace
}  // namespace quasi::test

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new quasi::test::EalEnvironment);
    return RUN_ALL_TESTS();
}
