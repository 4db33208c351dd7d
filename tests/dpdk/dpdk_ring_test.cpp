// Two quasi stacks in one process over a DPDK net_ring pair (zero-copy rte_mbufs):
// UDP and TCP streams, bad frames and resets, and after each test every mbuf back in
// its mempool. EAL runs without hugepages or PCI (--no-huge --no-pci), so this needs
// no root and no NIC.
#include "ring_stacks.hpp"

namespace quasi::test {
namespace {

TEST(DpdkRing, UdpStreamArrivesWholeAndMbufsComeBack) {
    RingStacks s;
    UdpFlow f;
    ASSERT_TRUE(open_udp_flow(s, 9, f)) << drops_of(s.a->stats()) << "/" << drops_of(s.b->stats());
    int tx = f.tx, rx = f.rx;
    constexpr int kDatagrams = 20000;
    int received = 0, bad = 0;
    uint8_t buf[2048];
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
    UdpFlow f;
    ASSERT_TRUE(open_udp_flow(s, 9, f)) << drops_of(s.a->stats()) << "/" << drops_of(s.b->stats());
    int tx = f.tx, rx = f.rx;
    std::vector<uint8_t> buf(65536);
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

// A transmit ring that fills: DpdkNetif retries the short burst, then leaves the frames
// the device did not take with the caller (counted as refused), never dropping one
// silently; taken plus refused is every frame offered, and all mbufs come back.
TEST(DpdkRing, ShortTransmitBurstIsRetriedThenLeftToTheCaller) {
    RingStacks s;
    dpdk::DpdkNetif& tx = s.port_a->netif(0);
    const dpdk::DpdkNetif::Counters before = tx.counters();
    constexpr size_t kBurst = 64, kBursts = 24;  // 1536 frames: more than the 1024-entry ring holds
    size_t taken = 0, left = 0;
    for (size_t round = 0; round < kBursts; ++round) {
        std::array<PacketPtr, kBurst> frames;
        for (PacketPtr& f : frames) {
            f = s.port_a->pool(0).alloc();
            ASSERT_TRUE(f);
            std::memset(f->append(60), 0, 60);  // to nobody's MAC: B drops them later
        }
        size_t n = tx.tx_burst(frames);
        taken += n;
        for (size_t i = 0; i < kBurst; ++i) {
            EXPECT_EQ(bool(frames[i]), i >= n) << "round " << round << " frame " << i;
            left += bool(frames[i]);
        }
    }  // the frames left with the caller are freed here
    const dpdk::DpdkNetif::Counters after = tx.counters();
    EXPECT_GT(left, 0u);  // the ring did fill
    EXPECT_EQ(taken + left, kBurst * kBursts);
    EXPECT_EQ(after.tx_frames - before.tx_frames, taken);
    EXPECT_EQ(after.tx_refused - before.tx_refused, left);
    EXPECT_GE(after.tx_short_bursts - before.tx_short_bursts, 3u);  // a full ring: every retry of the first short burst
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

}  // namespace
}  // namespace quasi::test

int main(int argc, char** argv) { return quasi::test::run_dpdk_tests(argc, argv); }
