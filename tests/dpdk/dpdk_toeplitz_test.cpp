// The Toeplitz hash flow steering uses on ports with RSS (ports/x86/dpdk/flow_steer.hpp):
// against Microsoft's published verification values ("Verifying the RSS Hash
// Calculation", IPv4 rows, its 40-byte sample key), against DPDK's own software
// implementation (rte_softrss) over many tuples and both keys, its symmetry under the
// 0x6d5a key the port configures, and ownership by redirection table: a flow and its
// reply land on the same core, and a core's own connections (owns_tuple's direction)
// agree with where the device would put the peer's frames.
#include "ports/x86/dpdk/dpdk_port.hpp"
#include "ports/x86/dpdk/flow_steer.hpp"

#include <gtest/gtest.h>
#include <rte_thash.h>

#include <array>
#include <random>

namespace quasi::dpdk {
namespace {

constexpr std::array<uint8_t, 40> kMicrosoftKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return Ipv4Addr::from_octets(a, b, c, d).value; }

struct Row {
    uint32_t dst, src;
    uint16_t dst_port, src_port;
    uint32_t ipv4, ipv4_tcp;
};

// Microsoft's table: destination, source, then the IPv4 and IPv4-with-TCP hashes.
const Row kRows[] = {
    {ip(161, 142, 100, 80), ip(66, 9, 149, 187), 1766, 2794, 0x323e8fc2, 0x51ccc178},
    {ip(65, 69, 140, 83), ip(199, 92, 111, 2), 4739, 14230, 0xd718262a, 0xc626b0ea},
    {ip(12, 22, 207, 184), ip(24, 19, 198, 95), 38024, 12898, 0xd2d0a5de, 0x5c2b394a},
    {ip(209, 142, 163, 6), ip(38, 27, 205, 30), 2217, 48228, 0x82989176, 0xafc7327f},
    {ip(202, 188, 127, 2), ip(153, 39, 163, 191), 1303, 44251, 0x5d1809c5, 0x10e828a2},
};

TEST(Toeplitz, MicrosoftVerificationValues) {
    for (const Row& r : kRows) {
        EXPECT_EQ(toeplitz_ipv4(kMicrosoftKey, r.src, r.dst, r.src_port, r.dst_port, false), r.ipv4);
        EXPECT_EQ(toeplitz_ipv4(kMicrosoftKey, r.src, r.dst, r.src_port, r.dst_port, true), r.ipv4_tcp);
    }
}

// rte_softrss takes the tuple as host-order 32-bit words: addresses, then sport << 16 | dport.
uint32_t dpdk_softrss(std::span<const uint8_t> key, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                      bool ports) {
    uint32_t words[3] = {src, dst, uint32_t{sport} << 16 | dport};
    return rte_softrss(words, ports ? 3 : 2, key.data());
}

TEST(Toeplitz, AgreesWithDpdkSoftRss) {
    std::mt19937 rng(7);
    for (auto key : {std::span<const uint8_t>(kMicrosoftKey), DpdkPort::rss_key()}) {
        for (int i = 0; i < 2000; ++i) {
            uint32_t src = rng(), dst = rng();
            auto sport = static_cast<uint16_t>(rng()), dport = static_cast<uint16_t>(rng());
            for (bool ports : {false, true})
                ASSERT_EQ(toeplitz_ipv4(key, src, dst, sport, dport, ports), dpdk_softrss(key, src, dst, sport, dport, ports))
                    << i;
        }
    }
}

TEST(Toeplitz, PortKeyIsSymmetric) {
    std::mt19937 rng(8);
    auto key = DpdkPort::rss_key();
    ASSERT_EQ(key.size(), 40u);
    for (int i = 0; i < 2000; ++i) {
        uint32_t a = rng(), b = rng();
        auto pa = static_cast<uint16_t>(rng()), pb = static_cast<uint16_t>(rng());
        ASSERT_EQ(toeplitz_ipv4(key, a, b, pa, pb, true), toeplitz_ipv4(key, b, a, pb, pa, true)) << i;
    }
    // The Microsoft key is not: the property comes from the key, not the code.
    EXPECT_NE(toeplitz_ipv4(kMicrosoftKey, kRows[0].src, kRows[0].dst, 1, 2, true),
              toeplitz_ipv4(kMicrosoftKey, kRows[0].dst, kRows[0].src, 2, 1, true));
}

TEST(Toeplitz, OwnershipFollowsTheRedirectionTable) {
    auto key = DpdkPort::rss_key();
    FlowHash how{{key.begin(), key.end()}, {}};
    for (uint16_t i = 0; i < 128; ++i) how.reta.push_back(i % 2);  // the usual round-robin table
    Ipv4Addr local = Ipv4Addr::from_octets(198, 18, 0, 2), peer = Ipv4Addr::from_octets(198, 18, 0, 1);
    int on[2] = {0, 0};
    for (uint16_t port = 40000; port < 40200; ++port) {
        uint16_t owner = flow_owner(peer, 80, local, port, 6, 2, how);
        uint32_t h = toeplitz_ipv4(key, peer.value, local.value, 80, port, true);
        ASSERT_EQ(owner, how.reta[h % 128]);                               // where the device puts it
        ASSERT_EQ(flow_owner(local, port, peer, 80, 6, 2, how), owner);   // the reply too
        ++on[owner];
    }
    EXPECT_GT(on[0], 50);  // both cores get flows
    EXPECT_GT(on[1], 50);
}

}  // namespace
}  // namespace quasi::dpdk
