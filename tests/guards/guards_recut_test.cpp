// TCP's own accounting when the egress re-cuts a stale handle's segments (label
// `guards`). After an MSS drop (a forged-but-valid ICMP fragmentation-needed, RFC
// 1191) the handle's code still cuts 1448-byte segments; its egress rule re-cuts each
// into pieces of the new MSS (guards/reinforce.cpp). (A declared message size: the
// code's general loop reads the live MSS, only a declared message is cut at the
// frozen one.) TCP never sees the pieces: its
// retransmission queue (the send ring from SND.UNA), RACK's send times (RFC 8985),
// the SACK scoreboard (RFC 2018, RFC 6675) and cwnd all count bytes. This test drops
// one re-cut piece on the wire and follows the bytes: the scoreboard's hole is that
// piece exactly, the retransmission carries exactly its bytes, RACK's RTT comes from
// the send-time record that spans the piece, and the recovery ends with nothing in
// flight and every byte delivered once.
#include "jit/specialize.hpp"
#include "jit/specializer.hpp"
#include "tests/guards/two_links.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace quasi::test {
namespace {

struct WireSegment {
    uint32_t seq = 0;
    uint32_t len = 0;
    uint8_t flags = 0;
    bool timestamps = false;
    uint32_t ts_val = 0;
};

// A TCP segment with data, as it left A (nullopt: anything else).
std::optional<WireSegment> data_segment(PacketBuffer& frame) {
    EthernetView eth(frame.bytes());
    if (eth.check() != kWireOk || eth.ethertype() != uint16_t(EtherType::ipv4)) return std::nullopt;
    Ipv4View ip(eth.payload());
    if (ip.check() != kWireOk || ip.protocol() != uint8_t(IpProtocol::tcp)) return std::nullopt;
    TcpView tcp(ip.payload());
    if (tcp.check() != kWireOk || tcp.payload().empty()) return std::nullopt;
    EXPECT_TRUE(tcp.checksum_ok(ip.src(), ip.dst()));
    TcpOptions options;
    EXPECT_EQ(TcpOptions::parse(tcp.options(), options), kWireOk);
    return WireSegment{tcp.seq(), uint32_t(tcp.payload().size()), tcp.flags(), options.has_timestamps,
                       options.ts_val};
}

// What A put on link 0 since the last call, data segments apart; `drop` (an index
// into the data segments) is not handed to B.
struct Wire {
    TwoLinks& w;
    std::vector<WireSegment> data;

    void deliver(std::optional<size_t> drop = std::nullopt) {
        data.clear();
        std::array<PacketPtr, 32> burst;
        while (size_t n = w.link0.b().rx_burst(burst)) {
            for (size_t i = 0; i < n; ++i) {
                std::optional<WireSegment> seg = data_segment(*burst[i]);
                if (seg) data.push_back(*seg);
                if (seg && drop && data.size() - 1 == *drop) continue;  // lost on the wire
                w.b.ethernet_input(*w.b.interface(0), std::move(burst[i]));
            }
        }
        w.b.poll();  // B's ACKs leave
    }
};

TEST(GuardsRecut, TcpAccountingFollowsTheBytesThroughAReCutAndALostPiece) {
    TwoLinks w;
    auto [fa, fb] = w.tcp_connection();
    ASSERT_GE(fb, 0);
    TcpSocket& s = *w.a.descriptors().tcp(fa);
    ASSERT_TRUE(s.ts_ok && s.sack_ok);
    ASSERT_EQ(w.a.tcp().data_mss(s), 1448u);
    // A declared message is cut into segments of the MSS the code was compiled for
    // (the general loop reads the live MSS). The default policy: reinforce.
    auto h = specialize_send(w.a, fa, {.message_size = 1448});
    ASSERT_TRUE(h) << h.error().message;

    // Bytes numbered from the connection's first: every byte B reads is checked.
    std::vector<uint8_t> bytes(64 * 1448);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 7 + i / 251);
    size_t sent = 0, received = 0;
    std::vector<uint8_t> buf(1 << 16);
    auto read_b = [&] {
        ssize_t n;
        while ((n = recv(w.b, fb, buf.data(), buf.size())) > 0) {
            EXPECT_EQ(std::memcmp(buf.data(), &bytes[received], size_t(n)), 0) << "at byte " << received;
            received += size_t(n);
        }
    };
    // A first exchange at the original MSS: RTT samples exist, nothing in flight after.
    for (int i = 0; i < 4; ++i, sent += 1448) ASSERT_EQ(h->send(&bytes[sent], 1448), 1448);
    w.pump();
    read_b();
    ASSERT_EQ(received, sent);
    ASSERT_EQ(s.snd_una, s.snd_max);

    // The MSS drops to 960 (948 bytes of data beside the timestamps); the new code's
    // compile is held, so the stale code sends and its frames are re-cut at egress.
    jit::Specializer::instance().hold_background(true);
    uint8_t quoted[8];
    store_be16(quoted, s.local_port);
    store_be16(quoted + 2, s.remote_port);
    store_be32(quoted + 4, s.snd_una);
    w.icmp_frag_needed(TwoLinks::kA0, TwoLinks::kB0, uint8_t(IpProtocol::tcp), quoted, 1000);
    ASSERT_EQ(s.snd_mss, 960);
    constexpr uint32_t kPiece = 948;
    const uint32_t seq0 = s.snd_una;
    const uint64_t specialized_before = h->info().specialized_sends;
    const uint32_t cwnd_before = s.cc.cwnd();

    // Six writes, 10 us apart: one RACK send-time record each, two wire pieces each.
    constexpr size_t kWrites = 6;
    std::vector<TimeNs> sent_at;
    for (size_t i = 0; i < kWrites; ++i, sent += 1448) {
        sent_at.push_back(w.a.now());
        ASSERT_EQ(h->send(&bytes[sent], 1448), 1448);
        w.clock.advance(10 * kMicrosecond);
    }
    SendHandleInfo info = h->info();
    EXPECT_EQ(info.specialized_sends - specialized_before, kWrites);
    EXPECT_EQ(info.guards.recut_segments, 2 * kWrites);
    // Per byte: the retransmission queue and the flight are the six writes, and the
    // send-time records cover exactly [SND.UNA, SND.NXT), one per write.
    EXPECT_EQ(s.snd_nxt - seq0, kWrites * 1448);
    EXPECT_EQ(s.flight_size(), kWrites * 1448);
    EXPECT_EQ(s.send_buffer.size(), kWrites * 1448);
    ASSERT_EQ(s.send_times.size(), kWrites);
    for (size_t i = 0; i < kWrites; ++i) {
        EXPECT_EQ(s.send_times.first_seq(i), seq0 + i * 1448);
        EXPECT_EQ(s.send_times.end(i), seq0 + (i + 1) * 1448);
    }

    // A millisecond later B gets every piece but the third (the first of write 1).
    w.clock.advance(kMillisecond);
    Wire wire{w, {}};
    constexpr size_t kLost = 2;
    wire.deliver(kLost);
    ASSERT_EQ(wire.data.size(), 2 * kWrites);
    for (size_t i = 0; i < wire.data.size(); ++i) {
        const WireSegment& p = wire.data[i];
        bool first = i % 2 == 0;
        EXPECT_EQ(p.seq, seq0 + uint32_t(i / 2) * 1448 + (first ? 0 : kPiece)) << "piece " << i;
        EXPECT_EQ(p.len, first ? kPiece : 1448 - kPiece) << "piece " << i;
        EXPECT_TRUE(p.timestamps) << "piece " << i;  // repeated in every piece
        EXPECT_EQ(p.ts_val, wire.data[i & ~size_t(1)].ts_val) << "piece " << i;
        EXPECT_EQ(p.flags & (tcp_flags::psh | tcp_flags::fin), first ? 0 : tcp_flags::psh) << "piece " << i;
    }
    const uint32_t hole = seq0 + 1448;
    const uint32_t hole_end = hole + kPiece;

    // A reads B's ACKs: write 0 is acknowledged, the rest beyond the hole SACKed.
    const TimeNs ack_time = w.a.now();
    w.a.poll();
    EXPECT_EQ(s.snd_una, hole);
    EXPECT_TRUE(s.in_recovery);
    EXPECT_EQ(s.scoreboard.ranges(), 1u);
    EXPECT_FALSE(s.scoreboard.is_sacked(hole));
    EXPECT_FALSE(s.scoreboard.is_sacked(hole_end - 1));
    EXPECT_TRUE(s.scoreboard.is_sacked(hole_end));
    EXPECT_TRUE(s.scoreboard.is_sacked(s.snd_max - 1));
    // RACK's RTT: from the newest delivered octet's record (write 5) to the ACK.
    EXPECT_TRUE(s.rack.has_sample());
    EXPECT_EQ(s.rack.rtt(), (ack_time - sent_at.back()) / kMicrosecond * kMicrosecond);
    // One reduction, in bytes, for one loss.
    EXPECT_LT(s.cc.ssthresh(), cwnd_before);
    EXPECT_EQ(s.send_times.first_seq(0), hole);

    // The retransmission: the lost piece's bytes exactly, nothing SACKed again.
    wire.deliver();
    ASSERT_EQ(wire.data.size(), 1u);
    EXPECT_EQ(wire.data[0].seq, hole);
    EXPECT_EQ(wire.data[0].len, kPiece);
    EXPECT_EQ(s.total_retransmits, 1u);
    w.a.poll();

    // Recovered: nothing in flight, nothing on the scoreboard, cwnd at ssthresh.
    EXPECT_EQ(s.snd_una, s.snd_max);
    EXPECT_EQ(s.snd_max, seq0 + kWrites * 1448);
    EXPECT_FALSE(s.in_recovery);
    EXPECT_EQ(s.scoreboard.ranges(), 0u);
    EXPECT_EQ(s.send_times.size(), 0u);
    EXPECT_EQ(s.send_buffer.size(), 0u);
    EXPECT_EQ(s.cc.cwnd(), s.cc.ssthresh());
    EXPECT_EQ(s.total_retransmits, 1u);
    read_b();
    EXPECT_EQ(received, sent);

    // The new code, released, is plugged at the next send and the rule retired.
    jit::Specializer::instance().hold_background(false);
    ASSERT_TRUE(h->wait_ready());
    ASSERT_EQ(h->send(&bytes[sent], 1448), 1448);
    sent += 1448;
    EXPECT_EQ(h->info().guards.recut_segments, 2 * kWrites);
    EXPECT_EQ(w.a.ingress_rules, nullptr);
    for (int i = 0; i < 100 && received < sent; ++i) {  // the tail may wait for a delayed ACK (Nagle)
        w.clock.advance(10 * kMillisecond);
        w.pump();
        read_b();
    }
    EXPECT_EQ(received, sent);
}

}  // namespace
}  // namespace quasi::test
