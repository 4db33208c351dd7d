// One Stack per core on a DPDK port, flows steered between the cores in software
// (ports/x86/dpdk/flow_steer.hpp). B runs two stacks with the same address, each on its
// own thread and queue pair of a net_ring port; A, one stack, is the peer. Both ways:
// A opens connections to B's echo port (each served by exactly one of B's cores, both
// cores carry some), and B's cores open connections to A (each core picks local ports
// whose flows come back to it). Bytes come back intact, every mbuf is home afterwards.
#include "ports/x86/dpdk/flow_steer.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ring_stacks.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace quasi::test {
namespace {

constexpr uint16_t kEchoPort = 7;
constexpr size_t kMessage = 1000;  // small: a send() takes it whole

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

// Echoes whatever its accepted connections send; counts the accepts.
struct EchoServer {
    int listener = -1;
    std::vector<int> conns;
    std::vector<uint8_t> buf = std::vector<uint8_t>(65536);
    int accepted = 0;
    void listen_on(Stack& s) {
        listener = socket(s, kAfInet, kSockStream);
        bind(s, listener, SockAddr{Ipv4Addr{}, kEchoPort});
        listen(s, listener, 256);
    }
    void serve(Stack& s) {
        for (int fd; (fd = accept(s, listener, nullptr)) >= 0; ++accepted) conns.push_back(fd);
        for (int fd : conns)
            if (ssize_t r = recv(s, fd, buf.data(), buf.size()); r > 0) send(s, fd, buf.data(), size_t(r));
    }
};

// Clients that each send one message and wait for its echo.
struct EchoClients {
    std::vector<int> fds;
    std::vector<size_t> echoed;
    std::vector<uint8_t> message = pattern(kMessage, 5), buf = std::vector<uint8_t>(4096);
    std::vector<bool> sent;
    int done = 0, mismatched = 0, failed_connects = 0;
    void open(Stack& s, Ipv4Addr to, int count) {
        for (int i = 0; i < count; ++i) {
            int fd = socket(s, kAfInet, kSockStream);
            if (connect(s, fd, SockAddr{to, kEchoPort}) != -EINPROGRESS) ++failed_connects;
            fds.push_back(fd);
        }
        echoed.assign(fds.size(), 0);
        sent.assign(fds.size(), false);
    }
    void step(Stack& s) {
        for (size_t i = 0; i < fds.size(); ++i) {
            if (!sent[i] && send(s, fds[i], message.data(), kMessage) == ssize_t(kMessage)) sent[i] = true;
            ssize_t r = recv(s, fds[i], buf.data(), buf.size());
            if (r <= 0) continue;
            if (std::memcmp(buf.data(), message.data() + echoed[i], size_t(r))) ++mismatched;
            echoed[i] += size_t(r);
            if (echoed[i] == kMessage) ++done;
        }
    }
    bool finished() const { return done == int(fds.size()); }
    void reset_all(Stack& s) {  // RST: nothing left waiting on the far side
        for (int fd : fds) {
            Linger l{1, 0};
            setsockopt(s, fd, kSolSocket, kSoLinger, &l, sizeof l);
            close(s, fd);
        }
    }
};

// B: two cores, each a Stack on its steered queue, running `work` until stopped.
struct TwoCoreWorld {
    std::unique_ptr<dpdk::DpdkPort> pa, pb;
    std::unique_ptr<dpdk::FlowSteering> steering;
    std::atomic<bool> stop{false};
    std::vector<std::thread> cores;
    SteadyClock clock;

    void start(const char* name, std::function<void(Stack&, uint16_t, const std::atomic<bool>&)> work) {
        std::string error;
        dpdk::RingPair pair;
        ASSERT_TRUE(dpdk::create_ring_pair(name, 2, 1024, pair, &error)) << error;
        pa = dpdk::DpdkPort::open({.port_id = pair.port_a, .queues = 2, .mbufs_per_queue = 4095}, &error);
        ASSERT_TRUE(pa) << error;
        pb = dpdk::DpdkPort::open({.port_id = pair.port_b, .queues = 2, .mbufs_per_queue = 4095}, &error);
        ASSERT_TRUE(pb) << error;
        steering = dpdk::FlowSteering::create((std::string(name) + "_st").c_str(), 2, &error);
        ASSERT_TRUE(steering) << error;
        for (uint16_t q = 0; q < 2; ++q) {
            dpdk::SteeredNetif& netif = steering->attach(q, pb->netif(q), pb->pool(q));
            cores.emplace_back([this, q, &netif, work] {
                Stack::Config config = config_with_seed(10 + q);
                config.tcp.local_port_ok = &dpdk::SteeredNetif::owns_tuple;
                config.tcp.local_port_context = &netif;
                Stack b(config, clock, &pb->pool(q));
                b.add_interface(netif, RingStacks::addr_b, 24);
                work(b, q, stop);
            });
        }
    }
    // A: one stack on both of its queues, running `step` until it says done (20 s at most).
    void run_a(const std::function<void(Stack&)>& setup, const std::function<bool(Stack&)>& step) {
        BothQueues link(pa->netif(0), pa->netif(1));
        Stack a(config_with_seed(1), clock, &pa->pool(0));
        ASSERT_GE(a.add_interface(link, RingStacks::addr_a, 24), 0);
        setup(a);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            a.poll();
            if (step(a)) break;
        }
        for (int i = 0; i < 100; ++i) a.poll();
    }
    // Stops B, frees what the rings hold: the mbufs not home (0).
    size_t finish() {
        stop = true;
        for (auto& t : cores) t.join();
        steering->drain();
        std::array<PacketPtr, 32> burst;
        for (uint16_t q = 0; q < 2; ++q)
            while (pa->netif(q).rx_burst(burst) + pb->netif(q).rx_burst(burst) > 0)
                for (auto& p : burst) p.reset();
        pa->stop();
        pb->stop();
        return pa->mbufs_in_use() + pb->mbufs_in_use();
    }
};

TEST(DpdkCores, TwoCoresEachServeTheirFlows) {
    TwoCoreWorld w;
    std::atomic<int> accepted[2] = {0, 0};
    w.start("qcores1", [&](Stack& b, uint16_t q, const std::atomic<bool>& stop) {
        EchoServer server;
        server.listen_on(b);
        while (!stop.load(std::memory_order_relaxed)) b.poll(), server.serve(b);
        accepted[q] = server.accepted;
    });
    EchoClients clients;
    w.run_a([&](Stack& a) { clients.open(a, RingStacks::addr_b, 64); },
            [&](Stack& a) {
                clients.step(a);
                if (!clients.finished()) return false;
                clients.reset_all(a);
                return true;
            });
    EXPECT_EQ(w.finish(), 0u);
    std::printf("connections served: core 0 %d, core 1 %d\n", accepted[0].load(), accepted[1].load());
    EXPECT_EQ(clients.done, 64);
    EXPECT_EQ(clients.mismatched, 0);
    EXPECT_EQ(accepted[0] + accepted[1], 64);
    EXPECT_GT(accepted[0], 0);  // both cores carried connections
    EXPECT_GT(accepted[1], 0);
}

TEST(DpdkCores, ConnectionsACoreOpensComeBackToIt) {
    TwoCoreWorld w;
    std::atomic<int> done[2] = {0, 0}, mismatched{0};
    std::atomic<bool> a_ready{false};
    w.start("qcores2", [&](Stack& b, uint16_t q, const std::atomic<bool>& stop) {
        while (!a_ready.load()) b.poll();
        EchoClients clients;
        clients.open(b, RingStacks::addr_a, 32);
        while (!stop.load(std::memory_order_relaxed) && !clients.finished()) b.poll(), clients.step(b);
        done[q] = clients.done;
        mismatched += clients.mismatched;
        clients.reset_all(b);
        while (!stop.load(std::memory_order_relaxed)) b.poll();
    });
    EchoServer server;
    w.run_a([&](Stack& a) { server.listen_on(a), a_ready = true; },
            [&](Stack& a) {
                server.serve(a);
                return done[0] + done[1] == 64;
            });
    EXPECT_EQ(w.finish(), 0u);
    std::printf("connections opened and echoed: core 0 %d, core 1 %d\n", done[0].load(), done[1].load());
    EXPECT_EQ(done[0], 32);
    EXPECT_EQ(done[1], 32);
    EXPECT_EQ(mismatched, 0);
    EXPECT_EQ(server.accepted, 64);
}

// A queue of frames put there by the test (a device queue that delivers what it is told).
class ScriptedQueue final : public Netif {
public:
    std::vector<PacketPtr> pending;
    size_t rx_burst(std::span<PacketPtr> out) override {
        size_t n = 0;
        for (; n < out.size() && n < pending.size(); ++n) out[n] = std::move(pending[n]);
        pending.erase(pending.begin(), pending.begin() + long(n));
        return n;
    }
    size_t tx_burst(std::span<PacketPtr> frames) override { return frames.size(); }
    MacAddr mac() const override { return {}; }
    uint16_t mtu() const override { return 1500; }
    const char* name() const override { return "scripted"; }
};

// A TCP segment's headers (Ethernet, IPv4, TCP with NOP, NOP, timestamps): what steering
// reads. tsval 0: no options.
PacketPtr tcp_frame(BufferPool& pool, Ipv4Addr src, uint16_t sport, Ipv4Addr dst, uint16_t dport, uint32_t tsval = 0) {
    PacketPtr p = pool.alloc();
    size_t len = tsval ? 66 : 54;
    uint8_t* d = p->append(len);
    std::memset(d, 0, len);
    store_be16(d + 12, 0x0800);
    d[14] = 0x45;
    d[23] = 6;
    store_be32(d + 26, src.value);
    store_be32(d + 30, dst.value);
    store_be16(d + 34, sport);
    store_be16(d + 36, dport);
    d[46] = uint8_t((len - 34) / 4 << 4);
    if (tsval) {
        d[54] = 1, d[55] = 1, d[56] = 8, d[57] = 10;
        store_be32(d + 58, tsval);
    }
    return p;
}

// net_af_packet's kernel fanout may move a flow to another queue's socket while the
// flow's own socket is 3/4 full (PACKET_FANOUT_FLAG_ROLLOVER): its frames then reach the
// owning core by two paths, out of their order on the wire. The core counts each frame
// whose path differs from its flow's previous frame (either direction of the flow), and
// each TCP segment whose timestamp is older than its flow's previous one.
TEST(DpdkCores, AFlowSplitAcrossQueuesCountsPathSwitchesAndReordering) {
    std::string error;
    auto steering = dpdk::FlowSteering::create("qsplit", 2, &error);
    ASSERT_TRUE(steering) << error;
    BufferPool pool(BufferPool::Config{.count = 64});
    ScriptedQueue queues[2];
    dpdk::SteeredNetif* cores[2] = {&steering->attach(0, queues[0], pool), &steering->attach(1, queues[1], pool)};
    const Ipv4Addr peer = RingStacks::addr_a, self = RingStacks::addr_b;
    auto segment = [&] { return tcp_frame(pool, peer, 40000, self, 7); };
    const uint16_t owner = dpdk::flow_owner(peer, 40000, self, 7, 6, 2), other = uint16_t(1 - owner);
    std::array<PacketPtr, 8> got;
    auto receive = [&](uint16_t core) {
        size_t n = cores[core]->rx_burst(got);
        for (auto& p : got) p.reset();
        return n;
    };
    auto arrive = [&](uint16_t queue, PacketPtr frame) { queues[queue].pending.push_back(std::move(frame)); };

    arrive(owner, segment());
    arrive(owner, tcp_frame(pool, self, 7, peer, 40000));  // the reverse direction: the same flow
    EXPECT_EQ(receive(owner), 2u);
    EXPECT_EQ(cores[owner]->path_switches(), 0u);  // one path so far
    arrive(other, segment());                      // rolled over: the other core forwards it
    EXPECT_EQ(receive(other), 0u);
    EXPECT_EQ(cores[other]->forwarded(), 1u);
    EXPECT_EQ(receive(owner), 1u);
    EXPECT_EQ(cores[owner]->path_switches(), 1u);
    arrive(owner, segment());  // and back on the owner's own queue
    arrive(owner, segment());
    EXPECT_EQ(receive(owner), 2u);
    EXPECT_EQ(cores[owner]->path_switches(), 2u);
    // Another flow's first frame, by the other path, is no switch.
    Ipv4Addr peer2 = Ipv4Addr::from_octets(198, 18, 0, 3);
    uint16_t owner2 = dpdk::flow_owner(peer2, 40001, self, 7, 6, 2);
    arrive(uint16_t(1 - owner2), tcp_frame(pool, peer2, 40001, self, 7));
    receive(uint16_t(1 - owner2));
    EXPECT_EQ(receive(owner2), 1u);
    EXPECT_EQ(cores[0]->path_switches() + cores[1]->path_switches(), 2u);
    EXPECT_EQ(cores[0]->reordered() + cores[1]->reordered(), 0u);  // no timestamps so far

    // Order by the sender's timestamps: the rolled-over segment (TSval 101) overtakes
    // the one still in the other queue (100); equal TSvals and a wrap are in order.
    auto stamped = [&](uint32_t tsval) { return tcp_frame(pool, peer, 40000, self, 7, tsval); };
    arrive(owner, stamped(0xfffffff0));
    arrive(owner, stamped(99));  // after the wrap: newer
    arrive(owner, stamped(99));
    EXPECT_EQ(receive(owner), 3u);
    EXPECT_EQ(cores[owner]->reordered(), 0u);
    arrive(other, stamped(101));
    EXPECT_EQ(receive(other), 0u);
    arrive(owner, stamped(100));
    EXPECT_EQ(receive(owner), 2u);  // the forwarded 101 first, then the queue's 100
    EXPECT_EQ(cores[owner]->reordered(), 1u);
    arrive(owner, tcp_frame(pool, peer, 40000, self, 7));  // no timestamp: 100 still stands
    arrive(owner, stamped(100));
    EXPECT_EQ(receive(owner), 2u);
    EXPECT_EQ(cores[owner]->reordered(), 1u);
    EXPECT_EQ(pool.available(), 64u);  // every frame freed
}

}  // namespace
}  // namespace quasi::test

int main(int argc, char** argv) { return quasi::test::run_dpdk_tests(argc, argv); }
