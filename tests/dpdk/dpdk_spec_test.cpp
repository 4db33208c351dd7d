// Specialized send handles on a DPDK interface: the frozen send path's transmit door
// (Interface::transmit_frame through the stack's buffer pool) hands rte_mbufs it filled
// itself to the net_ring port, zero-copy, and every mbuf comes back afterwards.
#include "jit/specialize.hpp"
#include "ring_stacks.hpp"

namespace quasi::test {
namespace {

TEST(DpdkSpec, UdpHandleSendsThroughTheDpdkPort) {
    RingStacks s;
    UdpFlow f;
    ASSERT_TRUE(open_udp_flow(s, 9, f)) << drops_of(s.a->stats()) << "/" << drops_of(s.b->stats());
    int tx = f.tx, rx = f.rx;
    uint8_t buf[2048];  // open_udp_flow resolved B's MAC, which the handle freezes
    {
        auto h = specialize_send(*s.a, tx, {.message_size = 64});
        ASSERT_TRUE(h) << h.error().message;
        uint64_t frames_before = s.port_a->netif(0).counters().tx_frames;
        constexpr int kSends = 5000;
        int received = 0, bad = 0;
        for (int i = 0; i < kSends; ++i) {
            auto data = pattern(64, uint32_t(i));
            ASSERT_EQ(h->send(data.data(), 64), 64);
            if (i % 16 == 15) {
                s.pump();
                while (recv(*s.b, rx, buf, sizeof buf) == 64) {
                    if (std::memcmp(buf, pattern(64, uint32_t(received)).data(), 64)) ++bad;
                    ++received;
                }
            }
        }
        s.pump();
        while (recv(*s.b, rx, buf, sizeof buf) == 64) ++received;
        EXPECT_EQ(received, kSends) << drops_of(s.b->stats());
        EXPECT_EQ(bad, 0);
        EXPECT_EQ(h->info().specialized_sends, uint64_t(kSends));  // the frozen path, not the fallback
        EXPECT_GE(s.port_a->netif(0).counters().tx_frames - frames_before, uint64_t(kSends));
        EXPECT_EQ(s.port_a->netif(0).counters().tx_copied, 0u);
        h->release();
    }
    EXPECT_EQ(s.shut_down(), 0u);
}

TEST(DpdkSpec, TcpHandleStreamsThroughTheDpdkPort) {
    RingStacks s;
    TcpConn c = establish(s, 80);
    {
        auto h = specialize_send(*s.a, c.client, {.message_size = 1448});
        ASSERT_TRUE(h) << h.error().message;
        auto data = pattern(4 << 20, 9);
        std::vector<uint8_t> got, buf(65536);
        size_t sent = 0;
        for (int round = 0; round < 200000 && got.size() < data.size(); ++round) {
            if (sent < data.size()) {
                size_t n = std::min<size_t>(1448, data.size() - sent);
                ssize_t r = h->send(data.data() + sent, n);
                if (r > 0) sent += size_t(r);
            }
            s.a->poll();
            s.b->poll();
            ssize_t n;
            while ((n = recv(*s.b, c.server, buf.data(), buf.size())) > 0)
                got.insert(got.end(), buf.begin(), buf.begin() + n);
            s.clock.advance(kMillisecond / 10);
        }
        EXPECT_TRUE(got == data);
        EXPECT_GT(h->info().specialized_sends, 0u);
        EXPECT_EQ(s.port_a->netif(0).counters().tx_copied, 0u);
        h->release();
    }
    EXPECT_EQ(close(*s.a, c.client), 0);
    EXPECT_EQ(close(*s.b, c.server), 0);
    s.run_for(kSecond);
    EXPECT_EQ(s.shut_down(), 0u);
}

}  // namespace
}  // namespace quasi::test

int main(int argc, char** argv) { return quasi::test::run_dpdk_tests(argc, argv); }
