// TCP at server scale on the in-memory link: 100,000 concurrent connections between
// two stacks, opened, each made to answer, closed, and the memory back where it began;
// and connection churn through TIME-WAIT records with a socket table far smaller than
// the number of connections.
#include "stack_pair.hpp"

#include <gtest/gtest.h>

#include <malloc.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace quasi::test {
namespace {

// Bytes the process heap holds for the program (glibc: arena in use plus mmapped).
// Drops other than the start-up ARP announcements and the ARP warm-up datagrams
// (sent to a port nobody listens on).
uint64_t churn_drops(const Stats& stats) { return unexpected_drops(stats) - stats[Drop::udp_no_socket]; }

size_t heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

struct ScalePair {
    ScalePair(size_t max_sockets, size_t max_time_wait)
        : link(MemLink::Config{.queue_frames = 4096}),
          a(config(1, max_sockets, max_time_wait), clock, &pool),
          b(config(2, max_sockets, max_time_wait), clock, &pool) {
        a.add_interface(link.a(), StackPair::addr_a, 24);
        b.add_interface(link.b(), StackPair::addr_b, 24);
        pump();
        // A datagram each way resolves ARP both ways, so a burst of SYNs does not
        // overflow the queue of packets waiting for resolution.
        for (auto [from, to] : {std::pair{&a, StackPair::addr_b}, std::pair{&b, StackPair::addr_a}}) {
            int u = socket(*from, kAfInet, kSockDgram);
            SockAddr dst{to, 9};
            sendto(*from, u, "x", 1, 0, &dst);
            close(*from, u);
            pump();
        }
    }
    static Stack::Config config(uint64_t seed, size_t max_sockets, size_t max_time_wait) {
        Stack::Config c;
        c.seed = seed;
        c.max_descriptors = max_sockets;
        c.tcp.max_sockets = max_sockets;
        c.tcp.max_time_wait = max_time_wait;
        c.tcp.msl = kSecond;  // TIME-WAIT lasts 2 s of the manual clock
        return c;
    }
    void pump() {
        for (int i = 0; i < 100000; ++i) {
            size_t work = a.poll() + b.poll();
            if (work == 0 && link.a().rx_pending() == 0 && link.b().rx_pending() == 0) return;
        }
        ADD_FAILURE() << "the stacks never went idle";
    }
    void run_for(TimeNs duration, TimeNs step) {
        for (TimeNs t = 0; t < duration; t += step) {
            clock.advance(step);
            pump();
        }
    }
    size_t tcp_memory() { return a.tcp().memory_in_use() + b.tcp().memory_in_use(); }

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 8192}};
    MemLink link;
    Stack a;
    Stack b;
};

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kConnections = 20000;  // ASan: slower and redzones on every socket; the plain build does 100,000
#else
constexpr size_t kConnections = 100000;
#endif
constexpr uint16_t kFirstPort = 80;
constexpr uint16_t kPorts = 8;  // 8 x 16,384 ephemeral ports: room for 100,000 tuples
constexpr size_t kBatch = 512;

// 100,000 connections at once: all established, each answers a request, all close;
// then every socket, ring, record and table entry is gone and the memory with them.
TEST(TcpScale, HundredThousandConnectionsOpenAnswerCloseAndMemoryReturns) {
    ScalePair p(kConnections + 64, kConnections + 64);
    std::vector<int> listeners;
    for (uint16_t i = 0; i < kPorts; ++i) {
        int l = socket(p.b, kAfInet, kSockStream);
        ASSERT_EQ(bind(p.b, l, SockAddr{Ipv4Addr{}, uint16_t(kFirstPort + i)}), 0);
        ASSERT_EQ(listen(p.b, l, int(kBatch)), 0);
        listeners.push_back(l);
    }
    std::vector<int> clients, servers;
    clients.reserve(kConnections);
    servers.reserve(kConnections);
    p.pump();
    const size_t heap_before = heap_in_use();
    const size_t tcp_before = p.tcp_memory();
    const size_t descriptors_before = p.a.descriptors().bytes() + p.b.descriptors().bytes();

    // ---- open ----
    for (size_t done = 0; done < kConnections;) {
        size_t n = std::min(kBatch, kConnections - done);
        for (size_t i = 0; i < n; ++i) {
            int fd = socket(p.a, kAfInet, kSockStream);
            ASSERT_GE(fd, 0) << "connection " << done + i;
            uint16_t port = uint16_t(kFirstPort + (done + i) % kPorts);
            ASSERT_EQ(connect(p.a, fd, SockAddr{StackPair::addr_b, port}), -EINPROGRESS) << "connection " << done + i;
            clients.push_back(fd);
        }
        p.pump();
        for (int l : listeners)
            for (int fd; (fd = accept(p.b, l, nullptr)) >= 0;) servers.push_back(fd);
        done += n;
        ASSERT_EQ(servers.size(), done) << drops_of(p.b.stats());
    }
    EXPECT_EQ(p.a.tcp().open_sockets(), kConnections);
    EXPECT_EQ(p.b.tcp().open_sockets(), kConnections + kPorts);
    for (int fd : clients) {
        PollFd pfd{fd, events::out, 0};
        ASSERT_EQ(poll(p.a, &pfd, 1), 1);
    }
    const size_t heap_open = heap_in_use();
    const size_t tcp_open = p.tcp_memory();
    EXPECT_EQ(p.a.tcp().buffer_memory() + p.b.tcp().buffer_memory(), 0u) << "idle connections hold no rings";

    // ---- each one answers: a request of 4 bytes, the reply echoes it ----
    for (size_t first = 0; first < kConnections; first += kBatch) {
        size_t last = std::min(first + kBatch, kConnections);
        for (size_t i = first; i < last; ++i) {
            uint32_t v = uint32_t(i);
            ASSERT_EQ(send(p.a, clients[i], &v, 4), 4);
        }
        p.pump();
        for (int fd : std::vector<int>(servers.begin() + long(first), servers.begin() + long(last))) {
            uint32_t v = 0;
            ASSERT_EQ(recv(p.b, fd, &v, 4), 4);
            ASSERT_EQ(send(p.b, fd, &v, 4), 4);
        }
        p.pump();
        for (size_t i = first; i < last; ++i) {
            uint32_t v = 0;
            ASSERT_EQ(recv(p.a, clients[i], &v, 4), 4) << "connection " << i;
            ASSERT_EQ(v, uint32_t(i)) << "connection " << i;
        }
    }
    p.run_for(100 * kMillisecond, 50 * kMillisecond);  // delayed ACKs: the send rings empty
    EXPECT_EQ(p.a.tcp().buffer_memory() + p.b.tcp().buffer_memory(), 0u) << "rings given back once empty";
    // Freed first-size ring chunks wait in each layer's bounded cache for the next
    // connections until housekeeping finds them unused (checked at the end).
    const size_t cached = p.a.tcp().cached_ring_memory() + p.b.tcp().cached_ring_memory();
    EXPECT_LE(cached, 2 * TcpLayer::kRingCacheBlocks * ByteRing::kFirstAllocation);
    EXPECT_EQ(p.tcp_memory() - cached, tcp_open);

    // ---- close: clients first (their TIME-WAIT records), then the servers on EOF ----
    for (size_t first = 0; first < kConnections; first += kBatch) {
        size_t last = std::min(first + kBatch, kConnections);
        for (size_t i = first; i < last; ++i) ASSERT_EQ(close(p.a, clients[i]), 0);
        p.pump();
        for (size_t i = first; i < last; ++i) {
            uint8_t byte;
            ASSERT_EQ(recv(p.b, servers[i], &byte, 1), 0);
            ASSERT_EQ(close(p.b, servers[i]), 0);
        }
        p.pump();
    }
    EXPECT_EQ(p.a.tcp().open_sockets(), 0u) << "TIME-WAIT keeps no socket";
    EXPECT_EQ(p.b.tcp().open_sockets(), size_t{kPorts});
    EXPECT_EQ(p.a.tcp().time_wait().size(), kConnections);
    EXPECT_EQ(p.a.stats()[Counter::tcp_time_wait_entered], kConnections);
    p.run_for(2 * p.a.tcp().config().msl + 200 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(p.a.tcp().time_wait().size(), 0u);
    EXPECT_EQ(churn_drops(p.a.stats()), 0u) << drops_of(p.a.stats());
    EXPECT_EQ(churn_drops(p.b.stats()), 0u) << drops_of(p.b.stats());
    EXPECT_EQ(p.a.stats()[Counter::tcp_resets_sent] + p.b.stats()[Counter::tcp_resets_sent], 0u);

    // ---- memory: the TCP layers where they began, but for the one empty chunk a slab
    // pool keeps in reserve (sockets and records, per stack); the process heap too, but
    // for those and the descriptor tables, which keep their high-water chunks (24 B a
    // descriptor), with 128 KiB for the allocator's own slack.
    const size_t descriptors_grown = p.a.descriptors().bytes() + p.b.descriptors().bytes() - descriptors_before;
    constexpr size_t kSpareChunks = 2 * 2 * 16 * 1024;
    EXPECT_EQ(p.a.tcp().cached_ring_memory() + p.b.tcp().cached_ring_memory(), 0u) << "unused cached chunks given back";
    EXPECT_LE(p.tcp_memory(), tcp_before + kSpareChunks);
    const size_t heap_after = heap_in_use();
    EXPECT_LE(heap_after, heap_before + descriptors_grown + kSpareChunks + 128 * 1024)
        << "before " << heap_before << " after " << heap_after << " descriptors grown " << descriptors_grown;
    std::printf("[ scale    ] %zu idle established connections: process heap +%zu B (%.0f B per connection end, "
                "descriptors included), TCP layers +%zu B (%.0f B per end); after close and TIME-WAIT: heap %+lld B, "
                "TCP layers %+lld B\n",
                kConnections, heap_open - heap_before, double(heap_open - heap_before) / (2.0 * kConnections),
                tcp_open - tcp_before, double(tcp_open - tcp_before) / (2.0 * kConnections),
                (long long)heap_after - (long long)heap_before, (long long)p.tcp_memory() - (long long)tcp_before);
}

// Churn through a socket table of 64: 5,000 connections one after another, the server
// closing first each time (its TIME-WAIT records pile up beside the table), a full
// record table retiring its oldest early (counted) and never refusing a connection.
TEST(TcpScale, ChurnWithSmallSocketTableAndFullTimeWaitTable) {
    constexpr size_t kCycles = 5000;
    constexpr size_t kMaxRecords = 1000;
    ScalePair p(64, kMaxRecords);
    int l = socket(p.b, kAfInet, kSockStream);
    ASSERT_EQ(bind(p.b, l, SockAddr{Ipv4Addr{}, 80}), 0);
    ASSERT_EQ(listen(p.b, l, 16), 0);
    for (size_t i = 0; i < kCycles; ++i) {
        int c = socket(p.a, kAfInet, kSockStream);
        ASSERT_GE(c, 0) << "cycle " << i;
        ASSERT_EQ(connect(p.a, c, SockAddr{StackPair::addr_b, 80}), -EINPROGRESS) << "cycle " << i;
        p.pump();
        int s = accept(p.b, l, nullptr);
        ASSERT_GE(s, 0) << "cycle " << i << ": " << drops_of(p.b.stats());
        ASSERT_EQ(send(p.a, c, "GET", 3), 3);
        p.pump();
        char buf[8];
        ASSERT_EQ(recv(p.b, s, buf, sizeof buf), 3);
        ASSERT_EQ(send(p.b, s, "OK", 2), 2);
        ASSERT_EQ(close(p.b, s), 0);  // the server closes first: TIME-WAIT on b
        p.pump();
        ASSERT_EQ(recv(p.a, c, buf, sizeof buf), 2) << "cycle " << i;
        ASSERT_EQ(recv(p.a, c, buf, sizeof buf), 0) << "cycle " << i;
        ASSERT_EQ(close(p.a, c), 0);
        p.pump();
        p.clock.advance(kMillisecond);
    }
    EXPECT_EQ(p.b.tcp().open_sockets(), 1u);
    EXPECT_EQ(p.b.tcp().time_wait().size(), kMaxRecords);
    EXPECT_EQ(p.b.stats()[Counter::tcp_time_wait_entered], kCycles);
    // 5 s of churn at 1 ms a cycle in a 2 s TIME-WAIT, 1,000 records: the rest retired early.
    EXPECT_GT(p.b.stats()[Counter::tcp_time_wait_retired_early], 0u);
    EXPECT_EQ(p.a.stats()[Counter::tcp_established], kCycles);
    EXPECT_EQ(churn_drops(p.b.stats()), 0u) << drops_of(p.b.stats());
}

}  // namespace
}  // namespace quasi::test
