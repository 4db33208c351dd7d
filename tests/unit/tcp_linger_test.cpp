// SO_LINGER on close(), driven by crafted segments (tcp_segment_harness.hpp): off, a
// zero time (abortive close) and a time T > 0, where close() returns at once and the
// connection is reset if its queued data and FIN are not acknowledged T after the
// close (stack/socket.hpp, Linger).
#include "tcp_segment_harness.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace quasi::test {
namespace {

void set_linger(TcpHarness& h, int fd, int onoff, int seconds) {
    Linger l{onoff, seconds};
    ASSERT_EQ(setsockopt(h.stack, fd, kSolSocket, kSoLinger, &l, sizeof l), 0);
}

// A connection whose peer offers a 1000-byte window, with 3000 bytes written: 1000
// sent, 2000 queued behind the window.
Conn with_queued_data(TcpHarness& h, const Bytes& data) {
    Conn c = h.establish_passive(PeerOptions{.window = 1000});
    EXPECT_EQ(quasi::send(h.stack, c.fd, data.data(), data.size()), ssize_t(data.size()));
    Rx first = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(first.payload, Bytes(data.begin(), data.begin() + 1000));
    h.expect_nothing();
    return c;
}

// The peer ACKs everything within the linger time: the data and the FIN go out as
// after any close, and the connection closes normally (FIN-WAIT-2, TIME-WAIT), with
// no RST when the linger time passes.
TEST(TcpLinger, DataAcknowledgedWithinTheTimeClosesNormally) {
    TcpHarness h;
    Bytes data = pattern(3000, 4);
    Conn c = with_queued_data(h, data);
    set_linger(h, c.fd, 1, 5);
    Stats before = h.stats();
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);  // returns at once
    h.expect_nothing();  // the window is still full
    EXPECT_EQ(h.state(c), TcpState::fin_wait_1);
    h.advance(100 * kMillisecond);  // within the RTO (200 ms)
    h.ack(c, 1000);
    Rx r2 = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r2.payload, Bytes(data.begin() + 1000, data.begin() + 2000));
    h.advance(100 * kMillisecond);  // within the RTO (200 ms)
    h.ack(c, 1000);
    Rx r3 = h.expect_segment(c, kAck | kPsh | kFin, c.rcv_nxt, c.snd_nxt);  // the last data, then the FIN
    EXPECT_EQ(r3.payload, Bytes(data.begin() + 2000, data.end()));
    h.ack(c, 1001);
    EXPECT_EQ(h.state(c), TcpState::fin_wait_2);
    h.advance(5 * kSecond);  // past the linger time
    h.expect_nothing();
    EXPECT_EQ(h.state(c), TcpState::fin_wait_2);
    h.send_data(c, {}, kFin);  // the peer closes too
    c.snd_nxt += 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    EXPECT_EQ(h.delta(before, Counter::tcp_linger_timeouts), 0u);
    EXPECT_EQ(h.delta(before, Counter::tcp_resets_sent), 0u);
}

// The peer keeps its window shut: at the linger time the connection is reset (one
// RST at SND.NXT), the socket and its buffers are freed; not a moment before.
TEST(TcpLinger, DataUnacknowledgedAtTheTimeIsReset) {
    TcpHarness h;
    Bytes data = pattern(3000, 5);
    Conn c = with_queued_data(h, data);
    c.window = 0;
    h.ack(c, 1000);  // everything sent is acknowledged, but the window is shut
    set_linger(h, c.fd, 1, 3);
    const size_t sockets = h.stack.tcp().open_sockets();
    Stats before = h.stats();
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);
    const TimeNs closed_at = h.clock.now();
    std::optional<Rx> rst;
    for (int i = 0; i < 20 && !rst; ++i) {
        std::optional<Rx> r = h.wait_segment(10 * kSecond);
        if (!r) break;
        if (r->has(kRst)) rst = r;
        else h.send(h.seg(c));  // a zero-window probe answered: the window is still zero
    }
    ASSERT_TRUE(rst.has_value()) << "no RST";
    EXPECT_EQ(flag_names(rst->h.flags), flag_names(kRst | kAck));
    EXPECT_EQ(rst->h.seq, c.rcv_nxt);
    EXPECT_GE(rst->at, closed_at + 3 * kSecond);
    EXPECT_LT(rst->at, closed_at + 3 * kSecond + 2 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.stack.tcp().open_sockets(), sockets - 1);  // the connection is gone, the listener stays
    EXPECT_EQ(h.delta(before, Counter::tcp_linger_timeouts), 1u);
    h.expect_nothing();
}

// The same without SO_LINGER: the orphan keeps probing past that time, no RST.
TEST(TcpLinger, WithoutLingerTheOrphanKeepsTrying) {
    TcpHarness h;
    Conn c = with_queued_data(h, pattern(3000, 6));
    c.window = 0;
    h.ack(c, 1000);
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);
    const TimeNs closed_at = h.clock.now();
    while (h.clock.now() < closed_at + 10 * kSecond) {
        std::optional<Rx> r = h.wait_segment(10 * kSecond);
        if (!r) break;
        EXPECT_FALSE(r->has(kRst)) << describe(*r);
        h.send(h.seg(c));
    }
    EXPECT_EQ(h.state(c), TcpState::fin_wait_1);
}

// A linger time set on a connection the peer already closed: LAST-ACK is bounded too.
TEST(TcpLinger, LastAckNotAcknowledgedInTimeIsReset) {
    TcpHarness h;
    Conn c = h.establish_passive();
    h.send_data(c, {}, kFin);
    c.snd_nxt += 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::close_wait);
    set_linger(h, c.fd, 1, 2);
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);
    h.expect_segment(c, kAck | kFin, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(h.state(c), TcpState::last_ack);
    Stats before = h.stats();
    std::optional<Rx> rst;
    for (int i = 0; i < 10 && !rst; ++i) {  // the FIN retransmitted, never acknowledged
        std::optional<Rx> r = h.wait_segment(5 * kSecond);
        if (!r) break;
        if (r->has(kRst)) rst = r;
    }
    ASSERT_TRUE(rst.has_value()) << "no RST";
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.delta(before, Counter::tcp_linger_timeouts), 1u);
}

}  // namespace
}  // namespace quasi::test
