// Two stacks on an in-memory link, with frames captured at B's end of the link
// instead of being received (UDP), or captured and then handed to B so a TCP
// connection runs on (capture_and_deliver, settle): the fixture of the specializer's
// tests. Two worlds built from the same seed behave identically, so one can send
// through the generic path and the other through a specialized handle and their
// frames must agree.
#pragma once

#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <array>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace quasi::test {

// The first counter of the protocol's work that differs between two stacks, or ""
// when none does: a specialized handle must count as the generic path does. The
// guards' own counters (guard_*) have no generic twin and are left out.
inline std::string counters_differ(const Stats& a, const Stats& b) {
    for (size_t i = 0; i < kCounterCount; ++i) {
        const char* counter = name(static_cast<Counter>(i));
        if (std::strncmp(counter, "guard_", 6) != 0 && a.counters[i] != b.counters[i]) return counter;
    }
    return "";
}

struct WorldConfig {
    uint64_t seed = 1;
    uint16_t mtu = 1500;
    Ipv4Addr addr_a = Ipv4Addr::from_octets(198, 18, 0, 1);
    Ipv4Addr addr_b = Ipv4Addr::from_octets(198, 18, 0, 2);
    uint8_t prefix_len = 24;
    TcpLayer::Config tcp{};  // both stacks' TCP (options offered, buffer sizes)
};

// One captured frame: what A put on the link.
using Frame = std::vector<uint8_t>;

struct World {
    explicit World(const WorldConfig& c)
        : config(c),
          link(MemLink::Config{.mtu = c.mtu}),
          a(stack_config(c.seed, c.tcp), clock, &pool),
          b(stack_config(c.seed + 1, c.tcp), clock, &pool) {
        a.add_interface(link.a(), c.addr_a, c.prefix_len);
        b.add_interface(link.b(), c.addr_b, c.prefix_len);
        pump();
    }
    static Stack::Config stack_config(uint64_t seed, const TcpLayer::Config& tcp) {
        Stack::Config s;
        s.seed = seed;
        s.tcp = tcp;
        return s;
    }

    void pump(int max_rounds = 100) {
        for (int i = 0; i < max_rounds; ++i) {
            size_t work = a.poll() + b.poll();
            if (work == 0 && link.a().rx_pending() == 0 && link.b().rx_pending() == 0) return;
        }
    }

    // Frames A sent that wait at B's end of the link, taken (B never sees them).
    std::vector<std::vector<uint8_t>> take_frames() {
        std::vector<std::vector<uint8_t>> out;
        std::array<PacketPtr, 32> burst;
        while (size_t n = link.b().rx_burst(burst)) {
            for (size_t i = 0; i < n; ++i) {
                std::vector<uint8_t> bytes(burst[i]->chain_length());
                burst[i]->copy_out(0, bytes.data(), bytes.size());
                out.push_back(std::move(bytes));
                burst[i].reset();
            }
        }
        return out;
    }

    // A UDP socket on A bound to local_port and connected to (dst, dst_port), with
    // the next hop resolved (one datagram sent and the ARP exchange pumped; the
    // frames of it are discarded).
    int connected_socket(uint16_t local_port, Ipv4Addr dst, uint16_t dst_port) {
        // A receiver on B, so B answers no port-unreachable (which would leave an
        // error pending on A's socket).
        if (dst == config.addr_b && !b.udp().find(dst_port)) {
            int sink = socket(b, kAfInet, kSockDgram);
            bind(b, sink, SockAddr{config.addr_b, dst_port});
            set_receive_buffer(sink);
        }
        int fd = socket(a, kAfInet, kSockDgram);
        if (fd < 0) return fd;
        if (bind(a, fd, SockAddr{{}, local_port}) != 0) return -1;
        if (connect(a, fd, SockAddr{dst, dst_port}) != 0) return -1;
        uint8_t byte = 0;
        send(a, fd, &byte, 1);
        pump();
        take_frames();
        return fd;
    }

    // A TCP connection from A's local_port to B's port: B listens, A connects, the
    // handshake is pumped and B accepts. {A's fd, B's fd}, or -1s.
    std::pair<int, int> tcp_connection(uint16_t local_port, uint16_t port) {
        int listener = socket(b, kAfInet, kSockStream);
        if (bind(b, listener, SockAddr{config.addr_b, port}) != 0 || listen(b, listener, 4) != 0) return {-1, -1};
        int client = socket(a, kAfInet, kSockStream);
        if (bind(a, client, SockAddr{{}, local_port}) != 0) return {-1, -1};
        connect(a, client, SockAddr{config.addr_b, port});
        pump();
        int server = accept(b, listener, nullptr);
        close(b, listener);
        pump();
        return {client, server};
    }

    // The frames A sent that wait at B's end of the link, copied out, then handed to
    // B, except those `lose` says the link loses. With a link-level capture like this
    // both sides run normally and a test still sees every frame A sent.
    template <class LoseFn>
    std::vector<Frame> capture_and_deliver(LoseFn&& lose) {
        std::vector<Frame> out;
        std::array<PacketPtr, 32> burst;
        while (size_t n = link.b().rx_burst(burst)) {
            for (size_t i = 0; i < n; ++i) {
                Frame bytes(burst[i]->chain_length());
                burst[i]->copy_out(0, bytes.data(), bytes.size());
                out.push_back(std::move(bytes));
                if (lose())
                    burst[i].reset();
                else
                    b.ethernet_input(*b.interface(0), std::move(burst[i]));
            }
        }
        return out;
    }
    std::vector<Frame> capture_and_deliver() {
        return capture_and_deliver([] { return false; });
    }

    // Runs both stacks until quiet (bounded), capturing everything A sends.
    template <class LoseFn>
    std::vector<Frame> settle(LoseFn&& lose, int max_rounds = 200) {
        std::vector<Frame> all;
        for (int i = 0; i < max_rounds; ++i) {
            std::vector<Frame> frames = capture_and_deliver(lose);
            size_t work = b.poll() + a.poll() + frames.size();
            for (Frame& f : frames) all.push_back(std::move(f));
            if (work == 0 && link.a().rx_pending() == 0 && link.b().rx_pending() == 0) break;
        }
        return all;
    }
    std::vector<Frame> settle() {
        return settle([] { return false; });
    }

    void set_receive_buffer(int fd) {
        int big = 1 << 30;
        setsockopt(b, fd, kSolSocket, kSoRcvbuf, &big, sizeof big);
    }

    WorldConfig config;
    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 512}};
    MemLink link;
    Stack a;
    Stack b;
};

}  // namespace quasi::test
