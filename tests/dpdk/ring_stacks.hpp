// The fixture of the DPDK tests: EAL without hugepages or PCI, a net_ring pair made
// once per process, and two stacks on it (A 198.18.0.1, B 198.18.0.2) whose shut_down()
// says how many mbufs are not back in their mempools.
#pragma once

#include "ports/x86/dpdk/dpdk_port.hpp"
#include "ports/x86/dpdk/eal.hpp"
#include "ports/x86/dpdk/ring_pair.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace quasi::test {

inline std::string drops_of(const Stats& stats) {
    std::string out;
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (stats.drops[i]) out += std::string(name(Drop(i))) + "=" + std::to_string(stats.drops[i]) + " ";
    return out;
}

inline std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    Random r(seed);
    for (auto& byte : v) byte = static_cast<uint8_t>(r.next());
    return v;
}

inline Stack::Config config_with_seed(uint64_t seed) {
    Stack::Config c;
    c.seed = seed;
    return c;
}

// Ports are created once per process (DPDK cannot remove a net_ring port's name), then
// reconfigured by each test's DpdkPort.
inline dpdk::RingPair ring_pair() {
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

// A UDP socket on A connected to one bound on B at `port`, with one datagram sent
// through first: B's MAC is resolved, so what follows never waits on ARP. False when
// that first datagram did not arrive.
struct UdpFlow {
    int tx = -1, rx = -1;
};
inline bool open_udp_flow(RingStacks& s, uint16_t port, UdpFlow& f) {
    f.tx = socket(*s.a, kAfInet, kSockDgram);
    f.rx = socket(*s.b, kAfInet, kSockDgram);
    if (bind(*s.b, f.rx, SockAddr{Ipv4Addr{}, port}) != 0) return false;
    if (connect(*s.a, f.tx, SockAddr{RingStacks::addr_b, port}) != 0) return false;
    uint8_t byte = 'x';
    if (send(*s.a, f.tx, &byte, 1) != 1) return false;
    s.pump();
    return recv(*s.b, f.rx, &byte, 1) == 1;
}

// B listens on `port`, A connects: an established pair.
struct TcpConn {
    int listener = -1, client = -1, server = -1;
};

inline TcpConn establish(RingStacks& s, uint16_t port) {
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

inline std::vector<uint8_t> transfer(RingStacks& s, Stack& src, int sfd, Stack& dst, int dfd, const std::vector<uint8_t>& data) {
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

class EalEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        std::string prefix = "--file-prefix=quasi_ring_test_" + std::to_string(getpid());
        std::string error;
        eal_ = dpdk::Eal::start("dpdk_ring_test",
                                {"-l", "0", "--no-huge", "--no-pci", "-m", "256", "--no-shconf", "--no-telemetry",
                                 prefix, "--log-level=lib.eal:warning"},
                                &error, /*need_port=*/false);
        ASSERT_TRUE(eal_) << error;
    }
    void TearDown() override { eal_.reset(); }

private:
    std::unique_ptr<dpdk::Eal> eal_;
};

// main() of a DPDK test: EAL up before the first test, down after the last.
inline int run_dpdk_tests(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new EalEnvironment);
    return RUN_ALL_TESTS();
}

}  // namespace quasi::test
