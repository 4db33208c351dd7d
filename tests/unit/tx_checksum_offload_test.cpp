// Transmit checksum offload (Offloads::tx_checksum, kMetaTxChecksumPartial): toward a
// device that offers it, the live UDP and TCP send paths leave the pseudo-header sum in
// the checksum field and mark the frame; the device completes it. Here the "device" is a
// decorator on the in-memory link that completes marked frames as a NIC would (the
// one's-complement sum over the segment, pseudo-header sum included, complemented);
// the peer verifies every checksum in software, so arriving data proves them right.
// Without the completion the peer drops them all: the marks are real.
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack_pair.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace quasi::test {
namespace {

class OffloadingNetif final : public Netif {
public:
    OffloadingNetif(Netif& inner, bool complete) : inner_(inner), complete_(complete) {}
    size_t rx_burst(std::span<PacketPtr> out) override { return inner_.rx_burst(out); }
    size_t tx_burst(std::span<PacketPtr> frames) override {
        for (PacketPtr& f : frames) {
            if (!(f->meta & kMetaTxChecksumPartial)) continue;
            ++marked;
            if (complete_) finish_checksum(f->bytes());
        }
        return inner_.tx_burst(frames);
    }
    MacAddr mac() const override { return inner_.mac(); }
    uint16_t mtu() const override { return inner_.mtu(); }
    Offloads offloads() const override { return {.tx_checksum = true}; }
    const char* name() const override { return "offloading"; }
    size_t marked = 0;

private:
    static void finish_checksum(std::span<uint8_t> frame) {
        uint8_t* ip = frame.data() + kEthernetHeaderLen;
        size_t ihl = size_t(ip[0] & 0x0f) * 4;
        uint8_t* l4 = ip + ihl;
        size_t l4_len = load_be16(ip + 2) - ihl;
        size_t field = ip[9] == uint8_t(IpProtocol::tcp) ? 16 : 6;
        ChecksumAccumulator acc;
        acc.add(l4, l4_len);  // the field holds the pseudo-header sum: it is summed in
        uint16_t sum = acc.finish();
        store_be16(l4 + field, ip[9] == uint8_t(IpProtocol::udp) && sum == 0 ? 0xffff : sum);
    }
    Netif& inner_;
    bool complete_;
};

// A on the offloading device, B on the plain link end.
struct OffloadPair {
    explicit OffloadPair(bool complete)
        : device(link.a(), complete), a(small_config(1), clock, &pool), b(small_config(2), clock, &pool) {
        a.add_interface(device, StackPair::addr_a, 24);
        b.add_interface(link.b(), StackPair::addr_b, 24);
        pump();
    }
    void pump() {
        for (int i = 0; i < 1000; ++i)
            if (a.poll() + b.poll() == 0 && link.a().rx_pending() == 0 && link.b().rx_pending() == 0) return;
    }
    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 4096}};
    MemLink link;
    OffloadingNetif device;
    Stack a, b;
};

// n UDP datagrams of 1..n*7 bytes from A to B; how many arrived intact.
int udp_delivered(OffloadPair& p, int n) {
    int rx = socket(p.b, kAfInet, kSockDgram), tx = socket(p.a, kAfInet, kSockDgram);
    bind(p.b, rx, SockAddr{Ipv4Addr{}, 9});
    SockAddr to{StackPair::addr_b, 9};
    int ok = 0;
    std::vector<uint8_t> data(1400), got(1400);
    // The first waits for ARP on the general path, which sums in software (as fragments
    // do): sent and read before counting, so that all that follow take the fast path.
    sendto(p.a, tx, data.data(), 1, 0, &to);
    p.pump();
    recvfrom(p.b, rx, got.data(), got.size(), 0, nullptr);
    for (int i = 1; i <= n; ++i) {
        for (size_t k = 0; k < data.size(); ++k) data[k] = uint8_t(k * 7 + i);
        size_t len = size_t(i) * 7;
        sendto(p.a, tx, data.data(), len, 0, &to);
        p.pump();
        ssize_t r = recvfrom(p.b, rx, got.data(), got.size(), 0, nullptr);
        if (r == ssize_t(len) && std::equal(data.begin(), data.begin() + r, got.begin())) ++ok;
    }
    return ok;
}

TEST(TxChecksumOffload, UdpDatagramsCompletedByTheDeviceArrive) {
    OffloadPair p(true);
    EXPECT_EQ(udp_delivered(p, 50), 50);
    EXPECT_GE(p.device.marked, 50u);
    EXPECT_EQ(p.b.stats()[Drop::udp_bad_checksum], 0u);
}

TEST(TxChecksumOffload, UnfinishedUdpChecksumsAreWrong) {
    OffloadPair p(false);
    EXPECT_EQ(udp_delivered(p, 20), 0);
    EXPECT_EQ(p.b.stats()[Drop::udp_bad_checksum], 20u);
}

// A connects to B and sends `bytes`; what B received intact.
size_t tcp_delivered(OffloadPair& p, size_t bytes) {
    int listener = socket(p.b, kAfInet, kSockStream);
    bind(p.b, listener, SockAddr{Ipv4Addr{}, 80});
    listen(p.b, listener, 4);
    int c = socket(p.a, kAfInet, kSockStream);
    connect(p.a, c, SockAddr{StackPair::addr_b, 80});
    std::vector<uint8_t> data(bytes), got;
    for (size_t k = 0; k < bytes; ++k) data[k] = uint8_t(k * 13 + 1);
    size_t sent = 0;
    int s = -1;
    uint8_t buf[4096];
    for (int round = 0; round < 2000 && got.size() < bytes; ++round) {
        p.clock.advance(kMillisecond);
        p.pump();
        if (s < 0) s = accept(p.b, listener, nullptr);
        if (ssize_t n = send(p.a, c, data.data() + sent, bytes - sent); n > 0) sent += size_t(n);
        for (ssize_t r; s >= 0 && (r = recv(p.b, s, buf, sizeof buf)) > 0;) got.insert(got.end(), buf, buf + r);
    }
    return got.size() == bytes && got == data ? got.size() : 0;
}

TEST(TxChecksumOffload, TcpStreamCompletedByTheDeviceArrives) {
    OffloadPair p(true);
    EXPECT_EQ(tcp_delivered(p, 200000), 200000u);
    EXPECT_GE(p.device.marked, 200000u / 1460);
    EXPECT_EQ(p.b.stats()[Drop::tcp_bad_checksum], 0u);
}

TEST(TxChecksumOffload, UnfinishedTcpChecksumsAreWrong) {
    OffloadPair p(false);
    EXPECT_EQ(tcp_delivered(p, 10000), 0u);
    EXPECT_GT(p.b.stats()[Drop::tcp_bad_checksum], 0u);
}

TEST(TxChecksumOffload, AskedOfTheDeviceOnce) {
    StackPair plain;
    EXPECT_FALSE(plain.a.interface(0)->tx_checksum_offload());
    OffloadPair offloading(true);
    EXPECT_TRUE(offloading.a.interface(0)->tx_checksum_offload());
    EXPECT_FALSE(offloading.b.interface(0)->tx_checksum_offload());
}

}  // namespace
}  // namespace quasi::test
