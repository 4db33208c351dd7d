// The benchmark fixture: one Stack on a sink device (tx_burst frees what it gets),
// with a static ARP entry for the peer, so a send measures the send path and
// nothing of a receiver. Shared by quasi-bench-spec's measurements.
#pragma once

#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#include "stack/tcp.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace quasi::bench {

class SinkNetif final : public Netif {
public:
    size_t rx_burst(std::span<PacketPtr>) override { return 0; }
    size_t tx_burst(std::span<PacketPtr> frames) override {
        for (PacketPtr& f : frames) f.reset();
        sent_ += frames.size();
        return frames.size();
    }
    MacAddr mac() const override { return MacAddr{{0x02, 0, 0, 0, 0, 0x0a}}; }
    uint16_t mtu() const override { return 1500; }
    const char* name() const override { return "sink"; }
    uint64_t sent() const { return sent_; }

private:
    uint64_t sent_ = 0;
};

struct SendBench {
    static constexpr Ipv4Addr kLocal = Ipv4Addr::from_octets(198, 18, 0, 1);
    static constexpr Ipv4Addr kPeer = Ipv4Addr::from_octets(198, 18, 0, 2);

    SendBench() : stack(config(), clock) {
        stack.add_interface(netif, kLocal, 24);
        stack.interface(0)->arp().add_static(kPeer, MacAddr{{0x02, 0, 0, 0, 0, 0x0b}});
    }
    static Stack::Config config() {
        Stack::Config c;
        c.seed = 42;
        c.max_udp_sockets = 1024;
        return c;
    }
    // A socket connected to the peer from `local_port` (a distinct context per port).
    int open(uint16_t local_port, uint16_t peer_port = 9) {
        int fd = socket(stack, kAfInet, kSockDgram);
        bind(stack, fd, SockAddr{kLocal, local_port});
        connect(stack, fd, SockAddr{kPeer, peer_port});
        return fd;
    }

    ManualClock clock;
    SinkNetif netif;
    Stack stack;
};

// One established TCP connection A -> B on an in-memory link (MSS 1448 with
// timestamps). The peer takes no part in a measured send: between sends, ack()
// plays its part without running it (A's frames are freed, everything sent counts as
// acknowledged), so every send finds the same open windows and an empty queue, and
// a measurement holds A's send path and nothing of a receiver or of ACK processing.
struct TcpSendBench {
    static constexpr Ipv4Addr kLocal = Ipv4Addr::from_octets(198, 18, 0, 1);
    static constexpr Ipv4Addr kPeer = Ipv4Addr::from_octets(198, 18, 0, 2);
    static constexpr uint32_t kSegment = 1448;

    TcpSendBench() : a(config(42), clock, &pool), b(config(43), clock, &pool) {
        a.add_interface(link.a(), kLocal, 24);
        b.add_interface(link.b(), kPeer, 24);
        int listener = socket(b, kAfInet, kSockStream);
        bind(b, listener, SockAddr{kPeer, 5001});
        listen(b, listener, 8);
        fd = socket(a, kAfInet, kSockStream);
        connect(a, fd, SockAddr{kPeer, 5001});
        for (int i = 0; i < 100 && peer < 0; ++i) {
            a.poll();
            b.poll();
            peer = accept(b, listener, nullptr);
        }
        for (int i = 0; i < 10; ++i) a.poll(), b.poll();
        s = a.descriptors().tcp(fd);
    }
    static Stack::Config config(uint64_t seed) {
        Stack::Config c;
        c.seed = seed;
        return c;
    }
    bool established() const { return s && s->state == TcpState::established && peer >= 0; }
    // The peer's part between two sends: A's frames are taken off the link and freed,
    // and all A sent counts as acknowledged (SND.UNA = SND.NXT, the send buffer
    // emptied). The retransmission timer stays armed, as in a stream.
    void ack() {
        std::array<PacketPtr, 32> burst;
        while (size_t n = link.b().rx_burst(burst))
            for (size_t i = 0; i < n; ++i) burst[i].reset();
        s->send_buffer.consume(s->snd_nxt - s->snd_una);
        s->snd_una = s->snd_nxt;
    }

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 1024}};
    MemLink link;
    Stack a;
    Stack b;
    int fd = -1;
    int peer = -1;
    TcpSocket* s = nullptr;
};

}  // namespace quasi::bench
