// The loss tail (RFC 8985 RACK-TLP, SACK recovery after an RTO), driven by crafted
// segments (tcp_segment_harness.hpp): the tail loss probe, RACK's time rule with its
// reordering window, and an RTO that keeps the SACK scoreboard. Each scenario would
// otherwise end in an RTO (or a go-back-N over data the peer holds); every test
// asserts what the stack sent and when, in virtual time, and the counters.
#include "tcp_segment_harness.hpp"

#include "stack/tcp_rack.hpp"
#include "stack/tcp_sack.hpp"

#include <gtest/gtest.h>

namespace quasi::test {
namespace {

constexpr uint32_t kSeg = 1460;

void stack_send(TcpHarness& h, const Conn& c, const Bytes& data) {
    ASSERT_EQ(quasi::send(h.stack, c.fd, data.data(), data.size()), ssize_t(data.size()));
}

// Sends `n` full segments from the stack and checks they all left; returns SND.UNA.
uint32_t send_segments(TcpHarness& h, Conn& c, uint32_t n, uint8_t seed) {
    stack_send(h, c, pattern(n * kSeg, seed));
    for (uint32_t i = 0; i < n; ++i) {
        Rx r = h.expect_segment(c, i + 1 == n ? kAck | kPsh : kAck, c.rcv_nxt + i * kSeg, c.snd_nxt);
        EXPECT_EQ(r.payload.size(), kSeg);
    }
    return c.rcv_nxt;
}

// An ACK from the peer: cumulative `ack`, SACK blocks as given.
void ack_with_sacks(TcpHarness& h, Conn& c, uint32_t ack, std::initializer_list<SackBlock> blocks) {
    Seg s = h.seg(c);
    s.ack = ack;
    s.options.sack_count = 0;
    for (const SackBlock& b : blocks) s.options.sacks[s.options.sack_count++] = b;
    h.send(s);
}

// ================================================================ SendTimes and Rack on their own

TEST(RackUnit, SendTimesFindsTheSegmentAndMergesWhenFull) {
    SendTimes t;
    ASSERT_TRUE(t.init(8, quasi::heap_memory()));
    ASSERT_EQ(t.capacity(), 8u);
    const uint32_t base = 0xFFFFF000;  // across the sequence wrap
    for (uint32_t i = 0; i < 8; ++i) t.on_send(base + i * 100, base + (i + 1) * 100, (i + 1) * kMillisecond);
    uint32_t stamp = 0;
    ASSERT_TRUE(t.sent_at(base + 250, stamp));
    EXPECT_EQ(stamp, rack_stamp(3 * kMillisecond));
    EXPECT_FALSE(t.sent_at(base - 1, stamp));
    EXPECT_FALSE(t.sent_at(base + 800, stamp));
    // Full: the ninth segment joins the newest record, which takes its (later) time.
    t.on_send(base + 800, base + 900, 9 * kMillisecond);
    EXPECT_EQ(t.size(), 8u);
    ASSERT_TRUE(t.sent_at(base + 750, stamp));
    EXPECT_EQ(stamp, rack_stamp(9 * kMillisecond));
    t.on_cumulative_ack(base + 300);
    EXPECT_EQ(t.size(), 5u);
    EXPECT_FALSE(t.sent_at(base + 299, stamp));
    ASSERT_TRUE(t.sent_at(base + 300, stamp));
    EXPECT_EQ(stamp, rack_stamp(4 * kMillisecond));
}

// RFC 8985 6.2: lost once something sent later is delivered and RACK.rtt + reo_wnd
// has passed since the segment left; until then, the time left for the timer.
TEST(RackUnit, DetectLossHonoursTheReorderingWindow) {
    SendTimes t;
    ASSERT_TRUE(t.init(8, quasi::heap_memory()));
    const uint32_t una = 1000;
    t.on_send(una, una + 100, 10 * kMillisecond);
    t.on_send(una + 100, una + 200, 11 * kMillisecond);
    t.on_send(una + 200, una + 300, 12 * kMillisecond);
    SackScoreboard sb;
    SackBlock b{una + 200, una + 300};
    sb.update(&b, 1, una, una + 300);
    Rack rack;
    rack.on_delivered(rack_stamp(12 * kMillisecond), una + 300, 22 * kMillisecond);  // RACK.rtt 10 ms
    EXPECT_EQ(rack.rtt(), 10 * kMillisecond);
    const TimeNs reo_wnd = rack.reorder_window(false, false, 10 * kMillisecond);
    EXPECT_EQ(reo_wnd, 10 * kMillisecond / 4);  // min_RTT / 4
    // At 22 ms the first segment (sent at 10) waits until 10 + 10 + 2.5 ms.
    EXPECT_EQ(rack.detect_loss(t, sb, una, 22 * kMillisecond, reo_wnd), 500 * kMicrosecond);
    EXPECT_FALSE(sb.is_lost(una, 100));
    // At 22.5 ms the first is lost; the second (sent at 11) has 1 ms to go.
    EXPECT_EQ(rack.detect_loss(t, sb, una, 22500 * kMicrosecond, reo_wnd), kMillisecond);
    EXPECT_TRUE(sb.is_lost(una, 100));
    EXPECT_TRUE(sb.is_lost(una + 99, 100));
    EXPECT_FALSE(sb.is_lost(una + 100, 100));
    // At 23.5 ms the second too; the SACKed third asks for no timer.
    EXPECT_EQ(rack.detect_loss(t, sb, una, 23500 * kMicrosecond, reo_wnd), 0u);
    EXPECT_TRUE(sb.is_lost(una + 199, 100));
    // In recovery without reordering seen the window is 0; once seen, min_RTT / 4 again.
    EXPECT_EQ(rack.reorder_window(true, false, 10 * kMillisecond), 0u);
    rack.saw_reordering();
    EXPECT_EQ(rack.reorder_window(true, false, 10 * kMillisecond), 10 * kMillisecond / 4);
}

// RFC 8985 6.2 step 4: each round trip with a D-SACK widens the window by min_RTT / 4
// (capped at SRTT); 16 recoveries without one bring it back.
TEST(RackUnit, DsackWidensTheReorderingWindowOncePerRound) {
    Rack rack;
    rack.on_delivered(rack_stamp(0), 100, 8 * kMillisecond);  // min_RTT 8 ms
    const TimeNs srtt = 100 * kMillisecond;
    EXPECT_EQ(rack.reorder_window(false, false, srtt), 2 * kMillisecond);
    rack.on_dsack(1000, 5000);
    EXPECT_EQ(rack.reorder_window(false, false, srtt), 4 * kMillisecond);
    EXPECT_TRUE(rack.reordering_seen());
    rack.on_dsack(2000, 6000);  // the same round (SND.UNA below 5000): no more
    EXPECT_EQ(rack.reorder_window(true, true, srtt), 4 * kMillisecond);
    rack.on_dsack(5000, 9000);  // the next round
    EXPECT_EQ(rack.reorder_window(false, false, srtt), 6 * kMillisecond);
    EXPECT_EQ(rack.reorder_window(false, false, 5 * kMillisecond), 5 * kMillisecond);  // SRTT caps it
    for (int i = 0; i < 15; ++i) rack.on_recovery_end();
    EXPECT_EQ(rack.reorder_multiplier(), 3u);
    rack.on_recovery_end();
    EXPECT_EQ(rack.reorder_multiplier(), 1u);
}

// ================================================================ TLP (RFC 8985 7)

// The last two segments of a burst are lost: no duplicate ACK can come. The probe
// timeout (2 * SRTT) resends the last segment long before the RTO, its SACK shows
// the hole, and the hole is repaired without any timeout.
TEST(TcpLossTail, TailLossProbeResendsTheLastSegmentBeforeTheRto) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    const uint32_t base = send_segments(h, c, 5, 31);
    h.advance(10 * kMillisecond);
    Stats before = h.stats();
    ack_with_sacks(h, c, base + 3 * kSeg, {});  // segments 4 and 5 lost
    c.rcv_nxt = base + 3 * kSeg;
    const TimeNs acked_at = h.clock.now();
    const TimeNs rto = s->rtt.rto();
    h.expect_nothing();
    std::optional<Rx> probe = h.wait_segment(kSecond);
    ASSERT_TRUE(probe.has_value());
    EXPECT_EQ(probe->h.seq, base + 4 * kSeg) << "the probe is the last segment sent";
    EXPECT_EQ(probe->payload.size(), kSeg);
    EXPECT_LE(probe->at - acked_at, Rack::probe_timeout(s->rtt.srtt(), false) + kMillisecond);
    EXPECT_LT(probe->at - acked_at, rto);
    EXPECT_EQ(h.delta(before, Counter::tcp_tail_loss_probes), 1u);
    // The probe arrives: its SACK leaves segment 4 alone in the hole.
    h.advance(10 * kMillisecond);
    ack_with_sacks(h, c, base + 3 * kSeg, {{base + 4 * kSeg, base + 5 * kSeg}});
    std::optional<Rx> repair = h.wait_segment(kSecond);
    ASSERT_TRUE(repair.has_value());
    EXPECT_EQ(repair->h.seq, base + 3 * kSeg);
    EXPECT_EQ(repair->payload.size(), kSeg);
    EXPECT_LT(repair->at - acked_at, rto);
    ack_with_sacks(h, c, base + 5 * kSeg, {});
    c.rcv_nxt = base + 5 * kSeg;
    h.advance(kSecond, 10 * kMillisecond);
    h.expect_nothing();
    EXPECT_EQ(h.delta(before, Counter::tcp_rto_expiries), 0u);
    EXPECT_EQ(h.delta(before, Counter::tcp_retransmits), 2u);
}

// A SACK connection, idle: `n` segments leave at once, then the test waits for what
// the stack sends again.
struct BurstFromIdle {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    TcpSocket* s = h.socket_of(c);
    Stats before = h.stats();
    uint32_t base = 0;
    TimeNs sent_at = 0;

    std::optional<Rx> send_and_wait(uint32_t n, uint8_t seed) {
        base = send_segments(h, c, n, seed);
        sent_at = h.clock.now();
        return h.wait_segment(kSecond);
    }
};

// A burst from idle is lost whole: the probe timer must cover the burst, not the
// first segment alone (one segment in flight would add the 200 ms delayed-ACK
// allowance and lose to the RTO): RFC 8985 7.2 restarts it with every new segment.
TEST(TcpLossTail, TailLossProbeCoversAWholeBurstFromIdle) {
    BurstFromIdle t;
    ASSERT_NE(t.s, nullptr);
    std::optional<Rx> probe = t.send_and_wait(4, 34);
    ASSERT_TRUE(probe.has_value());
    EXPECT_EQ(probe->h.seq, t.base + 3 * kSeg);
    EXPECT_LE(probe->at - t.sent_at, Rack::probe_timeout(t.s->rtt.srtt(), false) + kMillisecond);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_tail_loss_probes), 1u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_rto_expiries), 0u);
}

// One segment in flight: the PTO (2 * SRTT plus the 200 ms worst-case delayed ACK)
// is later than the RTO, so the probe takes the RTO's time and place (RFC 8985 7.2):
// the segment goes again as a probe, the window is not collapsed, and only if that
// fails too does the RTO follow.
TEST(TcpLossTail, TailLossProbeTakesTheRtoPlaceForOneSegment) {
    BurstFromIdle t;
    ASSERT_NE(t.s, nullptr);
    const TimeNs rto = t.s->rtt.rto();
    const uint32_t cwnd = t.s->cc.cwnd();
    std::optional<Rx> probe = t.send_and_wait(1, 35);
    ASSERT_TRUE(probe.has_value());
    EXPECT_EQ(probe->h.seq, t.base);
    EXPECT_EQ(probe->at - t.sent_at, rto);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_tail_loss_probes), 1u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_rto_expiries), 0u);
    EXPECT_EQ(t.s->cc.cwnd(), cwnd);
    // Lost again: now the RTO.
    std::optional<Rx> again = t.h.wait_segment(2 * kSecond);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->h.seq, t.base);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_rto_expiries), 1u);
}

// RFC 8985 7.4: a probe that resent old data and is acknowledged repaired a loss:
// the window is reduced once, as a recovery would, and the connection is left in the
// open state (later ACKs grow the window again).
TEST(TcpLossTail, TailLossProbeThatRepairsALossReducesTheWindowOnce) {
    BurstFromIdle t;
    TcpHarness& h = t.h;
    Conn& c = t.c;
    TcpSocket* s = t.s;
    ASSERT_NE(s, nullptr);
    const uint32_t cwnd = s->cc.cwnd();
    std::optional<Rx> probe = t.send_and_wait(1, 36);
    ASSERT_TRUE(probe.has_value());
    const uint32_t base = t.base;
    EXPECT_EQ(probe->h.seq, base);
    // More data leaves before the probe's ACK arrives: that ACK covers the probe but
    // not SND.MAX.
    stack_send(h, c, pattern(kSeg, 38));
    h.expect_segment(c, kAck | kPsh, base + kSeg, c.snd_nxt);
    ack_with_sacks(h, c, base + kSeg, {});
    c.rcv_nxt = base + kSeg;
    EXPECT_FALSE(s->cc.in_recovery());
    EXPECT_FALSE(s->rack.probe_out());
    EXPECT_LT(s->cc.cwnd(), cwnd);
    EXPECT_EQ(s->cc.cwnd(), s->cc.ssthresh());
    // The window grows again when a full window is acknowledged (it would stay
    // frozen in recovery).
    const uint32_t reduced = s->cc.cwnd();
    const uint32_t full = reduced / kSeg;
    ack_with_sacks(h, c, base + 2 * kSeg, {});
    c.rcv_nxt = base + 2 * kSeg;
    const uint32_t next = send_segments(h, c, full, 37);
    h.advance(10 * kMillisecond);
    ack_with_sacks(h, c, next + full * kSeg, {});
    c.rcv_nxt = next + full * kSeg;
    EXPECT_GT(s->cc.cwnd(), reduced);
    EXPECT_EQ(h.stats()[Counter::tcp_rto_expiries], 0u);
}

// ================================================================ RACK (RFC 8985 6)

// Ten segments leave at once; the second is missing and only the third is SACKed:
// one duplicate, so neither DupThresh, IsLost nor Early Retransmit (nine segments
// out) can call it lost. RACK does, once RACK.rtt plus the reordering window
// (min_RTT / 4) has passed since it left, and not before.
struct RackScenario {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    uint32_t base = 0;
    Stats before;
    TimeNs sacked_at = 0;
    TimeNs reo_wnd = 0;

    void run_to_the_sack() {
        base = send_segments(h, c, 10, 32);
        h.advance(10 * kMillisecond);
        ack_with_sacks(h, c, base + kSeg, {});
        c.rcv_nxt = base + kSeg;
        h.expect_nothing();
        before = h.stats();
        ack_with_sacks(h, c, base + kSeg, {{base + 2 * kSeg, base + 3 * kSeg}});
        sacked_at = h.clock.now();
        TcpSocket* s = h.socket_of(c);
        ASSERT_NE(s, nullptr);
        reo_wnd = s->rack.min_rtt() / 4;
        ASSERT_GE(reo_wnd, 2 * kMillisecond);
    }
};

TEST(TcpLossTail, RackMarksLostByTimeAfterTheReorderingWindow) {
    RackScenario t;
    ASSERT_NO_FATAL_FAILURE(t.run_to_the_sack());
    t.h.expect_nothing();  // one duplicate: nothing yet
    t.h.advance(t.reo_wnd - kMillisecond);
    t.h.expect_nothing();  // still within the reordering window
    std::optional<Rx> r = t.h.wait_segment(kSecond);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->h.seq, t.base + kSeg);
    EXPECT_EQ(r->payload.size(), kSeg);
    EXPECT_GE(r->at - t.sacked_at, t.reo_wnd - kMillisecond);  // the wheel's 1 ms tick
    EXPECT_LE(r->at - t.sacked_at, t.reo_wnd + kMillisecond);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_rack_recoveries), 1u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_fast_retransmits), 1u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_rto_expiries), 0u);
}

// The same, but the missing segment was only reordered: it arrives within the
// window (the peer ACKs past the SACKed one) and nothing is resent.
TEST(TcpLossTail, RackToleratesReorderingWithinTheWindow) {
    RackScenario t;
    ASSERT_NO_FATAL_FAILURE(t.run_to_the_sack());
    t.h.advance(t.reo_wnd - kMillisecond);
    ack_with_sacks(t.h, t.c, t.base + 3 * kSeg, {});
    t.c.rcv_nxt = t.base + 3 * kSeg;
    t.h.advance(5 * t.reo_wnd);
    t.h.expect_nothing();
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_retransmits), 0u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_fast_retransmits), 0u);
    TcpSocket* s = t.h.socket_of(t.c);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->rack.reordering_seen());
}

// ================================================================ SACK kept across the RTO

// Ten segments; the first two are lost, the peer SACKs the other eight; the fast
// retransmissions of both are lost too, and nothing follows them, so only the RTO
// can act. After it, recovery resends the two holes as the window reopens and never
// the eight segments the peer holds (go-back-N would resend them after the holes).
TEST(TcpLossTail, RtoKeepsTheScoreboardAndSkipsSackedData) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    const uint32_t base = send_segments(h, c, 10, 33);
    h.advance(10 * kMillisecond);
    Stats before = h.stats();
    const SackBlock held{base + 2 * kSeg, base + 10 * kSeg};
    ack_with_sacks(h, c, base, {held});
    // Fast recovery resends both holes; the peer never sees them.
    uint32_t resent_in_recovery = 0;
    while (std::optional<Rx> r = h.next()) {
        EXPECT_TRUE(seq_lt(r->h.seq, held.left)) << describe(*r);
        ++resent_in_recovery;
    }
    EXPECT_EQ(resent_in_recovery, 2u);
    ASSERT_EQ(h.delta(before, Counter::tcp_rto_expiries), 0u);
    // The RTO: the first hole again (one segment: the loss window).
    std::optional<Rx> r = h.wait_segment(2 * kSecond);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(h.delta(before, Counter::tcp_rto_expiries), 1u);
    EXPECT_EQ(r->h.seq, base);
    h.expect_nothing();
    // It arrives; the peer still holds the eight. The window grows to two segments:
    // the second hole goes, and no SACKed octet is sent again.
    h.advance(10 * kMillisecond);
    ack_with_sacks(h, c, base + kSeg, {held});
    c.rcv_nxt = base + kSeg;
    std::vector<Rx> after;
    while (std::optional<Rx> x = h.next()) after.push_back(*x);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].h.seq, base + kSeg);
    EXPECT_EQ(after[0].payload.size(), kSeg);
    h.advance(10 * kMillisecond);
    ack_with_sacks(h, c, base + 10 * kSeg, {});
    c.rcv_nxt = base + 10 * kSeg;
    h.advance(2 * kSecond, 10 * kMillisecond);
    h.expect_nothing();
    EXPECT_EQ(h.delta(before, Counter::tcp_rto_expiries), 1u);
    EXPECT_EQ(h.delta(before, Counter::tcp_rto_sack_recoveries), 1u);
    EXPECT_EQ(h.delta(before, Counter::tcp_retransmits), 4u);
}

}  // namespace
}  // namespace quasi::test
