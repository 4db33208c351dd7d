// One Stack per core on a DPDK port, flows steered between the cores in software
// (ports/x86/dpdk/flow_steer.hpp): B runs two stacks with the same address, each on its
// own thread and queue pair; A, one stack, opens connections to B's echo port. Every
// connection is served by exactly one of B's cores, both cores carry some, the bytes
// come back intact, and every mbuf is home afterwards.
#include "ports/x86/dpdk/flow_steer.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ring_stacks.hpp"

#include <atomic>
#include <thread>

namespace quasi::test {
namespace {

// A's side of a 2-queue net_ring pair as one device: B's core q answers on queue q, so
// A receives on both queues; it sends on queue 0 (which B's core 0 polls and steers).
class BothQueues final : public Netif {
public:
    BothQueues(Netif& q0, Netif& q1) : q0_(q0), q1_(q1) {}
    size_t rx_burst(std::span<PacketPtr> out) override {
        size_t n = q0_.rx_burst(out);
        return n + q1_.rx_burst(out.subspan(n));
    }
    size_t tx_burst(std::span<PacketPtr> frames) override { return q0_.tx_burst(frames); }
    MacAddr mac() const override { return q0_.mac(); }
    uint16_t mtu() const override { return q0_.mtu(); }
    const char* name() const override { return "both queues"; }

private:
    Netif& q0_;
    Netif& q1_;
};

TEST(DpdkCores, TwoCoresEachServeTheirFlows) {
    std::string error;
    dpdk::RingPair pair;
    ASSERT_TRUE(dpdk::create_ring_pair("qcores", 2, 1024, pair, &error)) << error;
    auto pa = dpdk::DpdkPort::open({.port_id = pair.port_a, .queues = 2, .mbufs_per_queue = 4095}, &error);
    ASSERT_TRUE(pa) << error;
    auto pb = dpdk::DpdkPort::open({.port_id = pair.port_b, .queues = 2, .mbufs_per_queue = 4095}, &error);
    ASSERT_TRUE(pb) << error;
    auto steering = dpdk::FlowSteering::create("qcores_steer", 2, &error);
    ASSERT_TRUE(steering) << error;
    std::atomic<bool> stop{false};
    std::atomic<int> accepted[2] = {0, 0};
    std::atomic<size_t> unused{0};
    std::vector<std::thread> cores;
    for (uint16_t q = 0; q < 2; ++q) {
        dpdk::SteeredNetif& n = steering->attach(q, pb->netif(q), pb->pool(q));
        cores.emplace_back([&, q, &n = n] {
            SteadyClock clock;
            Stack b(config_with_seed(10 + q), clock, &pb->pool(q));
            b.add_interface(n, RingStacks::addr_b, 24);
            int l = socket(b, kAfInet, kSockStream);
            bind(b, l, SockAddr{Ipv4Addr{}, 7});
            listen(b, l, 256);
            std::vector<int> conns;
            std::vector<uint8_t> buf(65536);
            while (!stop.load(std::memory_order_relaxed)) {
                b.poll();
                for (int fd; (fd = accept(b, l, nullptr)) >= 0;) {
                    conns.push_back(fd);
                    accepted[q].fetch_add(1);
                }
                for (int fd : conns) {
                    ssize_t r = recv(b, fd, buf.data(), buf.size());
                    if (r > 0) send(b, fd, buf.data(), size_t(r));  // 1000 B messages: the ring takes them whole
                }
            }
        });
    }
    {
        SteadyClock clock;
        BothQueues link(pa->netif(0), pa->netif(1));
        Stack a(config_with_seed(1), clock, &pa->pool(0));
        ASSERT_GE(a.add_interface(link, RingStacks::addr_a, 24), 0);
        constexpr int kConnections = 64;
        std::vector<int> fds;
        for (int i = 0; i < kConnections; ++i) {
            int fd = socket(a, kAfInet, kSockStream);
            EXPECT_EQ(connect(a, fd, SockAddr{RingStacks::addr_b, 7}), -EINPROGRESS);
            fds.push_back(fd);
        }
        auto message = pattern(1000, 5);
        std::vector<size_t> sent(kConnections, 0), echoed(kConnections, 0);
        std::vector<uint8_t> buf(4096);
        int done = 0, mismatched = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (done < kConnections && std::chrono::steady_clock::now() < deadline) {
            a.poll();
            for (int i = 0; i < kConnections; ++i) {
                if (sent[i] == 0 && send(a, fds[i], message.data(), message.size()) == ssize_t(message.size()))
                    sent[i] = message.size();
                ssize_t r = recv(a, fds[i], buf.data(), buf.size());
                if (r <= 0) continue;
                if (std::memcmp(buf.data(), message.data() + echoed[i], size_t(r))) ++mismatched;
                echoed[i] += size_t(r);
                if (echoed[i] == message.size()) ++done;
            }
        }
        EXPECT_EQ(done, kConnections) << drops_of(a.stats());
        EXPECT_EQ(mismatched, 0);
        for (int fd : fds) {
            Linger l{1, 0};  // RST: nothing left waiting on B's side after the test
            setsockopt(a, fd, kSolSocket, kSoLinger, &l, sizeof l);
            close(a, fd);
        }
        for (int i = 0; i < 100; ++i) a.poll();
    }
    stop = true;
    for (auto& t : cores) t.join();
    std::printf("connections served: core 0 %d, core 1 %d\n", accepted[0].load(), accepted[1].load());
    EXPECT_EQ(accepted[0] + accepted[1], 64);
    EXPECT_GT(accepted[0], 0);  // both cores carried connections
    EXPECT_GT(accepted[1], 0);
    steering->drain();
    std::array<PacketPtr, 32> burst;
    for (uint16_t q = 0; q < 2; ++q)
        while (pa->netif(q).rx_burst(burst) + pb->netif(q).rx_burst(burst) > 0)
            for (auto& p : burst) p.reset();
    pa->stop();
    pb->stop();
    EXPECT_EQ(pa->mbufs_in_use() + pb->mbufs_in_use(), 0u);
}

}  // namespace
}  // namespace quasi::test

int main(int argc, char** argv) { return quasi::test::run_dpdk_tests(argc, argv); }
