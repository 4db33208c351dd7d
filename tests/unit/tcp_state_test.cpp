// The TCP state machine driven by crafted segments (STYLE.md item 12): every RFC 9293
// transition (3.3.2 figure 5, 3.5 figures 6-8, 3.6 figures 12-13), the timers
// (retransmission with backoff, SYN retries, delayed ACK, persist, keepalive,
// TIME-WAIT), Nagle, sender SWS avoidance, SACK reporting, option negotiation and SYN
// cookies. The stack under test is endpoint b of a MemLink; the test is the peer
// (tcp_segment_harness.hpp).
#include "tcp_segment_harness.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace quasi::test {
namespace {

// Data moves both ways and is acknowledged: the connection still works.
void expect_data_flows(TcpHarness& h, Conn& c) {
    SCOPED_TRACE("expect_data_flows");
    Bytes in = pattern(50, 1);
    h.send_data(c, in);
    h.expect_ack(c);  // a small segment is ACKed at once
    EXPECT_EQ(h.read_all(c.fd), in);
    Bytes out = pattern(60, 2);
    ASSERT_EQ(quasi::send(h.stack, c.fd, out.data(), out.size()), 60);
    Rx r = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload, out);
    h.ack(c, 60);
    h.expect_nothing();
}

void stack_send(TcpHarness& h, const Conn& c, const Bytes& data) {
    ASSERT_EQ(quasi::send(h.stack, c.fd, data.data(), data.size()), ssize_t(data.size()));
}

void set_int(TcpHarness& h, int fd, int level, int name, int v) {
    ASSERT_EQ(setsockopt(h.stack, fd, level, name, &v, sizeof v), 0);
}

// ================================================================ opening (RFC 9293 3.5)

TEST(TcpOpen, PassiveOpenListenSynReceivedEstablished) {
    TcpHarness h;
    int l = h.listen_on();
    PeerOptions o;
    Conn c;
    c.opts = o;
    h.send(h.syn(o));
    Rx sa = h.expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);
    // A SYN-ACK offers only what the SYN offered (RFC 7323 2.2, RFC 2018 2).
    EXPECT_TRUE(sa.h.options.has_mss);
    EXPECT_EQ(sa.h.options.mss, 1460);
    EXPECT_FALSE(sa.h.options.has_window_scale);
    EXPECT_FALSE(sa.h.options.sack_permitted);
    EXPECT_FALSE(sa.h.options.has_timestamps);
    EXPECT_EQ(h.state(c), TcpState::syn_received);
    EXPECT_EQ(quasi::accept(h.stack, l, nullptr), -EAGAIN);  // not established yet
    c.stack_iss = sa.h.seq;
    c.snd_nxt = o.iss + 1;
    c.rcv_nxt = c.stack_iss + 1;
    h.send(h.seg(c));
    EXPECT_EQ(h.state(c), TcpState::established);
    c.fd = quasi::accept(h.stack, l, nullptr);
    ASSERT_GE(c.fd, 0);
    h.expect_nothing();
    EXPECT_EQ(h.stats()[Counter::tcp_passive_opens], 1u);
    EXPECT_EQ(h.stats()[Counter::tcp_established], 1u);
    expect_data_flows(h, c);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

TEST(TcpOpen, ActiveOpenSynSentEstablished) {
    TcpHarness h;
    int fd = quasi::socket(h.stack, kAfInet, kSockStream);
    ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
    Rx s = h.expect_segment(kSyn, std::nullopt, 0);
    // The SYN offers everything configured: MSS, window scale, SACK, timestamps.
    EXPECT_EQ(s.h.options.mss, 1460);
    EXPECT_TRUE(s.h.options.has_window_scale);
    EXPECT_EQ(s.h.options.window_scale, 3);  // 256 KiB buffer: 262144 >> 3 fits 16 bits
    EXPECT_TRUE(s.h.options.sack_permitted);
    EXPECT_TRUE(s.h.options.has_timestamps);
    EXPECT_EQ(s.h.options.ts_ecr, 0u);
    Conn c;
    c.fd = fd;
    c.stack_port = s.h.src_port;
    EXPECT_EQ(h.state(c), TcpState::syn_sent);
    PollFd pfd{fd, events::out, 0};
    EXPECT_EQ(quasi::poll(h.stack, &pfd, 1), 0);  // not writable while opening
    c.stack_iss = s.h.seq;
    c.rcv_nxt = s.h.seq + 1;
    c.snd_nxt = kPeerIss;
    h.send(h.seg(c, kSyn | kAck));
    c.snd_nxt = kPeerIss + 1;
    h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(h.state(c), TcpState::established);
    EXPECT_EQ(quasi::poll(h.stack, &pfd, 1), 1);
    EXPECT_EQ(h.stats()[Counter::tcp_active_opens], 1u);
    expect_data_flows(h, c);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// RFC 9293 3.5 figure 8: both ends send a SYN; each answers the other's SYN with a
// SYN-ACK, and that SYN-ACK (line 6) completes the handshake.
TEST(TcpOpen, SimultaneousOpenSynSentSynReceivedEstablished) {
    TcpHarness h;
    int fd = quasi::socket(h.stack, kAfInet, kSockStream);
    ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
    Rx s = h.expect_segment(kSyn, std::nullopt, 0);
    Conn c;
    c.fd = fd;
    c.stack_port = s.h.src_port;
    c.stack_iss = s.h.seq;
    // Our SYN crosses theirs: the stack sees a bare SYN in SYN-SENT.
    Seg peer_syn = h.syn(c.opts, c.stack_port);
    h.send(peer_syn);
    h.expect_segment(kSyn | kAck, c.stack_iss, kPeerIss + 1);
    EXPECT_EQ(h.state(c), TcpState::syn_received);
    // The peer's SYN-ACK: SEQ is its ISN again, ACK covers our SYN.
    Seg synack = peer_syn;
    synack.flags = kSyn | kAck;
    synack.ack = c.stack_iss + 1;
    Stats before = h.stats();
    h.send(synack);
    EXPECT_EQ(h.state(c), TcpState::established) << drops_of(h.stats());
    h.expect_drops(before, {});
    h.rx.clear();  // an ACK here is allowed, not required
    c.snd_nxt = kPeerIss + 1;
    c.rcv_nxt = c.stack_iss + 1;
    expect_data_flows(h, c);
}

// The same crossing completed by a bare ACK from a peer that took our SYN-ACK first.
TEST(TcpOpen, SimultaneousOpenCompletedByAck) {
    TcpHarness h;
    int fd = quasi::socket(h.stack, kAfInet, kSockStream);
    ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
    Rx s = h.expect_segment(kSyn, std::nullopt, 0);
    Conn c;
    c.fd = fd;
    c.stack_port = s.h.src_port;
    c.stack_iss = s.h.seq;
    h.send(h.syn(c.opts, c.stack_port));
    h.expect_segment(kSyn | kAck, c.stack_iss, kPeerIss + 1);
    c.snd_nxt = kPeerIss + 1;
    c.rcv_nxt = c.stack_iss + 1;
    h.send(h.seg(c));
    EXPECT_EQ(h.state(c), TcpState::established);
    h.expect_nothing();
    expect_data_flows(h, c);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// RFC 9293 3.10.7.4 second, SYN-RECEIVED from a passive OPEN: a RST returns the
// connection to LISTEN; the listener keeps working.
TEST(TcpOpen, SynReceivedRstReturnsToListen) {
    TcpHarness h;
    int l = h.listen_on();
    PeerOptions o;
    h.send(h.syn(o));
    h.expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);
    Conn c;
    c.opts = o;
    EXPECT_EQ(h.state(c), TcpState::syn_received);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 2u);
    Seg rst;
    rst.seq = o.iss + 1;
    rst.flags = kRst;
    h.send(rst);
    h.expect_nothing();
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
    EXPECT_EQ(h.stats()[Counter::tcp_resets_rx], 1u);
    EXPECT_EQ(quasi::accept(h.stack, l, nullptr), -EAGAIN);
    EXPECT_EQ(h.stack.descriptors().tcp(l)->syn_queue_len, 0u);
    // The listener still works, even for the same 4-tuple.
    Conn again = h.establish_passive(o, {}, l);
    expect_data_flows(h, again);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// RFC 9293 3.10.7.3: a RST whose ACK covers our SYN refuses the connection.
TEST(TcpOpen, SynSentRstAckIsConnectionRefused) {
    TcpHarness h;
    int fd = quasi::socket(h.stack, kAfInet, kSockStream);
    ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
    Rx s = h.expect_segment(kSyn, std::nullopt, 0);
    Seg rst;
    rst.dport = s.h.src_port;
    rst.seq = 0;
    rst.ack = s.h.seq + 1;
    rst.flags = kRst | kAck;
    h.send(rst);
    h.expect_nothing();
    PollFd pfd{fd, events::out, 0};
    EXPECT_EQ(quasi::poll(h.stack, &pfd, 1), 1);
    EXPECT_TRUE(pfd.revents & events::err);
    EXPECT_EQ(h.so_error(fd), ECONNREFUSED);
    EXPECT_EQ(h.stats()[Counter::tcp_resets_rx], 1u);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
    h.advance(5 * kSecond, 10 * kMillisecond);
    h.expect_nothing();  // no SYN retransmissions after the refusal
}

// RFC 5961 3 / RFC 9293 3.10.7.3: in SYN-SENT a RST without an acceptable ACK is
// dropped; so is a RST whose ACK does not cover the SYN (no RST answers a RST).
TEST(TcpOpen, SynSentRstWithoutAcceptableAckIsIgnored) {
    TcpHarness h;
    int fd = quasi::socket(h.stack, kAfInet, kSockStream);
    ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
    Rx s = h.expect_segment(kSyn, std::nullopt, 0);
    Conn c;
    c.fd = fd;
    c.stack_port = s.h.src_port;
    c.stack_iss = s.h.seq;
    Stats before = h.stats();
    Seg rst;
    rst.dport = c.stack_port;
    rst.seq = 1234;
    rst.flags = kRst;
    h.send(rst);
    rst.flags = kRst | kAck;
    rst.ack = s.h.seq + 7;
    h.send(rst);
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_bad_rst, 1}, {Drop::tcp_bad_ack, 1}});
    EXPECT_EQ(h.state(c), TcpState::syn_sent);
    EXPECT_EQ(h.so_error(fd), 0);
}

// RFC 9293 3.10.7.3 first: an ACK that does not cover our SYN gets <SEQ=SEG.ACK><CTL=RST>
// and the connection stays in SYN-SENT; the right SYN-ACK then completes it.
TEST(TcpOpen, SynSentBadAckGetsRst) {
    TcpHarness h;
    int fd = quasi::socket(h.stack, kAfInet, kSockStream);
    ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
    Rx s = h.expect_segment(kSyn, std::nullopt, 0);
    Conn c;
    c.fd = fd;
    c.stack_port = s.h.src_port;
    c.stack_iss = s.h.seq;
    c.snd_nxt = kPeerIss;
    Stats before = h.stats();
    for (uint32_t bad_ack : {c.stack_iss + 1000, c.stack_iss, c.stack_iss - 5}) {
        c.rcv_nxt = bad_ack;
        h.send(h.seg(c, kSyn | kAck));
        h.expect_segment(kRst, bad_ack, 0);
        EXPECT_EQ(h.state(c), TcpState::syn_sent);
    }
    h.expect_drops(before, {{Drop::tcp_bad_ack, 3}});
    EXPECT_EQ(h.delta(before, Counter::tcp_resets_sent), 3u);
    c.rcv_nxt = c.stack_iss + 1;
    h.send(h.seg(c, kSyn | kAck));
    c.snd_nxt = kPeerIss + 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::established);
    expect_data_flows(h, c);
}

// RFC 6298 5 / RFC 9293 3.8.1: the SYN is retransmitted with the RTO doubling from
// 1 s, and after syn_retries the connect fails with ETIMEDOUT.
TEST(TcpOpen, SynRetransmittedWithBackoffThenEtimedout) {
    TcpHarness h;
    int fd = quasi::socket(h.stack, kAfInet, kSockStream);
    ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
    Rx first = h.expect_segment(kSyn, std::nullopt, 0);
    TimeNs last = first.at;
    TimeNs expected_gap = kSecond;
    for (uint32_t i = 0; i < h.stack.tcp().config().syn_retries; ++i) {
        std::optional<Rx> r = h.wait_segment(200 * kSecond, 10 * kMillisecond);
        ASSERT_TRUE(r.has_value()) << "retry " << i;
        EXPECT_EQ(flag_names(r->h.flags), flag_names(kSyn));
        EXPECT_EQ(r->h.seq, first.h.seq);
        EXPECT_NEAR(double(r->at - last), double(expected_gap), double(10 * kMillisecond)) << "retry " << i;
        last = r->at;
        expected_gap *= 2;
    }
    EXPECT_EQ(h.so_error(fd), 0);
    // The last timeout gives up: no RST (nothing to reset), ETIMEDOUT to the user.
    h.advance(expected_gap - 20 * kMillisecond, 10 * kMillisecond);
    EXPECT_EQ(h.stack.descriptors().tcp(fd)->state, TcpState::syn_sent);
    h.advance(40 * kMillisecond, 10 * kMillisecond);
    h.expect_nothing();
    EXPECT_EQ(h.stack.descriptors().tcp(fd)->state, TcpState::closed);
    EXPECT_EQ(h.so_error(fd), ETIMEDOUT);
    EXPECT_EQ(h.stats()[Counter::tcp_retransmits], h.stack.tcp().config().syn_retries);
}

// The passive side: the SYN-ACK is retransmitted with backoff, and the half-open
// child is dropped after syn_retries (the listener stays).
TEST(TcpOpen, SynAckRetransmittedThenHalfOpenChildDropped) {
    TcpHarness h;
    int l = h.listen_on();
    PeerOptions o;
    h.send(h.syn(o));
    Rx first = h.expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);
    TimeNs last = first.at;
    TimeNs gap = kSecond;
    for (uint32_t i = 0; i < h.stack.tcp().config().syn_retries; ++i) {
        std::optional<Rx> r = h.wait_segment(200 * kSecond, 10 * kMillisecond);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(flag_names(r->h.flags), flag_names(kSyn | kAck));
        EXPECT_EQ(r->h.seq, first.h.seq);
        EXPECT_EQ(r->h.ack, o.iss + 1);
        EXPECT_NEAR(double(r->at - last), double(gap), double(10 * kMillisecond));
        last = r->at;
        gap *= 2;
    }
    h.advance(gap + 20 * kMillisecond, 10 * kMillisecond);
    h.expect_nothing();
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
    EXPECT_EQ(h.stack.descriptors().tcp(l)->syn_queue_len, 0u);
    Conn c = h.establish_passive(PeerOptions{.port = 40001}, {}, l);
    expect_data_flows(h, c);
}

// A peer whose SYN-ACK was lost sends its SYN again: the child answers with the
// SYN-ACK again (RFC 9293 3.5 figure 9 recovery; Linux and BSD do the same) rather
// than a bare ACK the peer in SYN-SENT would discard.
TEST(TcpOpen, RetransmittedSynInSynReceivedGetsSynAckAgain) {
    TcpHarness h;
    h.listen_on();
    PeerOptions o;
    h.send(h.syn(o));
    Rx sa = h.expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);
    h.advance(300 * kMillisecond);
    h.send(h.syn(o));
    h.expect_segment(kSyn | kAck, sa.h.seq, o.iss + 1);
    Conn c;
    c.opts = o;
    EXPECT_EQ(h.state(c), TcpState::syn_received);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 2u);  // no second child
}

// RFC 9293 3.10.7.1: a segment for no connection is answered with a RST.
TEST(TcpOpen, ClosedPortAnswersWithRst) {
    TcpHarness h;
    Stats before = h.stats();
    Seg s = h.syn(PeerOptions{}, kClosedPort);
    h.send(s);
    h.expect_segment(kRst | kAck, 0, kPeerIss + 1);
    // With ACK: <SEQ=SEG.ACK><CTL=RST>.
    Seg a;
    a.dport = kClosedPort;
    a.seq = 5;
    a.ack = 777;
    a.payload = pattern(10);
    h.send(a);
    h.expect_segment(kRst, 777, 0);
    // Data and FIN without ACK: ACK = SEQ + LEN (FIN counted).
    Seg f;
    f.dport = kClosedPort;
    f.seq = 100;
    f.flags = kFin;
    f.payload = pattern(10);
    h.send(f);
    h.expect_segment(kRst | kAck, 0, 111);
    // Never a RST for a RST.
    Seg r;
    r.dport = kClosedPort;
    r.flags = kRst;
    h.send(r);
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_no_socket, 4}});
    EXPECT_EQ(h.delta(before, Counter::tcp_resets_sent), 3u);
}

// ================================================================ closing (RFC 9293 3.6)

TEST(TcpClose, ActiveCloseFinWait1FinWait2TimeWaitClosedAfter2Msl) {
    TcpHarness h;
    Conn c = h.establish_passive();
    const TimeNs msl = h.stack.tcp().config().msl;
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(h.state(c), TcpState::fin_wait_1);
    h.ack(c, 1);
    h.expect_nothing();
    EXPECT_EQ(h.state(c), TcpState::fin_wait_2);
    h.send(h.seg(c, kFin | kAck));
    c.snd_nxt += 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    h.advance(2 * msl - 10 * kMillisecond, 10 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    h.advance(20 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::closed);
    h.expect_nothing();
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);  // the listener
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// Simultaneous close (RFC 9293 3.6 figure 13): FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
TEST(TcpClose, SimultaneousCloseFinWait1ClosingTimeWait) {
    TcpHarness h;
    Conn c = h.establish_passive();
    ASSERT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(h.state(c), TcpState::fin_wait_1);
    // Their FIN crossed ours: it does not ACK our FIN.
    h.send(h.seg(c, kFin | kAck));
    c.snd_nxt += 1;
    h.expect_segment(c, kAck, c.rcv_nxt + 1, c.snd_nxt);
    EXPECT_EQ(h.state(c), TcpState::closing);
    h.ack(c, 1);
    h.expect_nothing();
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    uint8_t b;
    EXPECT_EQ(quasi::recv(h.stack, c.fd, &b, 1), 0);  // EOF
    h.advance(2 * h.stack.tcp().config().msl + 10 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// FIN-WAIT-1 -> TIME-WAIT when the peer's FIN also ACKs ours.
TEST(TcpClose, FinWait1ToTimeWaitOnFinAck) {
    TcpHarness h;
    Conn c = h.establish_passive();
    ASSERT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    c.rcv_nxt += 1;
    h.send(h.seg(c, kFin | kAck));
    c.snd_nxt += 1;
    h.expect_ack(c);
    h.expect_nothing();
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// After shutdown(SHUT_WR) the application may still be reading: data that arrived
// with the peer's FIN stays readable in TIME-WAIT, then EOF.
TEST(TcpClose, TimeWaitKeepsUnreadDataReadable) {
    TcpHarness h;
    Conn c = h.establish_passive();
    ASSERT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    c.rcv_nxt += 1;
    const Bytes data = pattern(1000, 7);
    h.send(h.seg(c, kFin | kAck | kPsh, data));
    c.snd_nxt += static_cast<uint32_t>(data.size()) + 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    EXPECT_EQ(h.read_all(c.fd), data);
    uint8_t b;
    EXPECT_EQ(quasi::recv(h.stack, c.fd, &b, 1), 0);  // EOF
    EXPECT_EQ(quasi::close(h.stack, c.fd), 0);
    h.advance(2 * h.stack.tcp().config().msl + 10 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.stack.tcp().buffer_memory(), 0u);  // the listener holds no rings
}

// Passive close (RFC 9293 3.6 figure 12): ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED.
TEST(TcpClose, PassiveCloseCloseWaitLastAckClosed) {
    TcpHarness h;
    Conn c = h.establish_passive();
    h.send(h.seg(c, kFin | kAck));
    c.snd_nxt += 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::close_wait);
    uint8_t b;
    EXPECT_EQ(quasi::recv(h.stack, c.fd, &b, 1), 0);  // EOF
    PollFd pfd{c.fd, events::in, 0};
    EXPECT_EQ(quasi::poll(h.stack, &pfd, 1), 1);
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(h.state(c), TcpState::last_ack);
    h.ack(c, 1);
    h.expect_nothing();
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// Half-close: after shutdown(SHUT_WR) the stack keeps receiving (FIN-WAIT-2) until
// the peer's FIN.
TEST(TcpClose, HalfCloseKeepsReceiving) {
    TcpHarness h;
    Conn c = h.establish_passive();
    ASSERT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    h.ack(c, 1);
    EXPECT_EQ(h.state(c), TcpState::fin_wait_2);
    uint8_t b = 1;
    EXPECT_EQ(quasi::send(h.stack, c.fd, &b, 1), -EPIPE);
    Bytes all;
    for (int i = 0; i < 3; ++i) {
        Bytes d = pattern(100, uint8_t(10 + i));
        h.send_data(c, d);
        h.expect_ack(c);
        all.insert(all.end(), d.begin(), d.end());
    }
    EXPECT_EQ(h.read_all(c.fd), all);
    EXPECT_EQ(h.state(c), TcpState::fin_wait_2);
    h.send(h.seg(c, kFin | kAck));
    c.snd_nxt += 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    EXPECT_EQ(quasi::recv(h.stack, c.fd, &b, 1), 0);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// The other half: the peer half-closes and the stack keeps sending in CLOSE-WAIT.
TEST(TcpClose, PeerHalfCloseStackKeepsSending) {
    TcpHarness h;
    Conn c = h.establish_passive();
    h.send(h.seg(c, kFin | kAck));
    c.snd_nxt += 1;
    h.expect_ack(c);
    Bytes d = pattern(300, 3);
    stack_send(h, c, d);
    Rx r = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload, d);
    h.ack(c, 300);
    EXPECT_EQ(h.state(c), TcpState::close_wait);
    ASSERT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    h.ack(c, 1);
    EXPECT_EQ(h.state(c), TcpState::closed);
}

// An orphan in FIN-WAIT-2 whose peer never sends its FIN is reset after 2*MSL.
TEST(TcpClose, OrphanInFinWait2TimesOut) {
    TcpHarness h;
    Conn c = h.establish_passive();
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);
    h.expect_segment(c, kFin | kAck, c.rcv_nxt, c.snd_nxt);
    h.ack(c, 1);
    EXPECT_EQ(h.state(c), TcpState::fin_wait_2);
    h.advance(2 * h.stack.tcp().config().msl + 50 * kMillisecond, 50 * kMillisecond);
    h.expect_segment(kRst | kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
}

// ================================================================ TIME-WAIT (RFC 9293 3.6.1)

Conn to_time_wait(TcpHarness& h, const PeerOptions& o = {}) {
    Conn c = h.establish_passive(o);
    h.close_into_time_wait(c);
    return c;
}

// A retransmitted FIN (our last ACK was lost) is ACKed again and restarts 2*MSL.
TEST(TcpTimeWait, RetransmittedFinReAckedAndTimerRestarted) {
    TcpHarness h;
    Conn c = to_time_wait(h);
    const TimeNs msl = h.stack.tcp().config().msl;
    h.advance(msl, 100 * kMillisecond);
    Stats before = h.stats();
    Seg fin = h.seg(c, kFin | kAck);
    fin.seq = c.snd_nxt - 1;
    h.send(fin);
    h.expect_ack(c);
    h.expect_drops(before, {});
    EXPECT_EQ(h.delta(before, Counter::tcp_time_wait_fin_acked), 1u);
    h.advance(2 * msl - 100 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::time_wait);  // would have ended at 2*MSL from the first FIN
    h.advance(200 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::closed);
}

// RFC 6191 / RFC 9293 3.6.1 (MAY-2): a SYN above the old sequence space reopens the
// pair from TIME-WAIT when a listener is there.
TEST(TcpTimeWait, SynWithHigherSeqReusesThePair) {
    TcpHarness h;
    Conn c = to_time_wait(h);
    int l = c.listener;
    h.advance(kSecond, 100 * kMillisecond);
    PeerOptions o2;
    o2.iss = c.snd_nxt + 1000;
    Conn d = h.establish_passive(o2, {}, l);
    EXPECT_EQ(h.stats()[Counter::tcp_time_wait_reused], 1u);
    expect_data_flows(h, d);
}

// The same with the new ISN well beyond the old receive window, as an RFC 6528
// clock-driven ISN chosen a few seconds later is.
TEST(TcpTimeWait, SynFarAboveTheWindowReusesThePair) {
    TcpHarness h;
    Conn c = to_time_wait(h);
    h.advance(5 * kSecond, 100 * kMillisecond);
    PeerOptions o2;
    o2.iss = c.snd_nxt + 50'000'000;  // 5 s of a 4 us ISN clock, far beyond 256 KiB
    Conn d = h.establish_passive(o2, {}, c.listener);
    EXPECT_EQ(h.stats()[Counter::tcp_time_wait_reused], 1u);
    expect_data_flows(h, d);
}

// A SYN below RCV.NXT may be an old duplicate: no reuse, the pair stays in TIME-WAIT.
TEST(TcpTimeWait, SynWithLowerSeqDoesNotReuse) {
    TcpHarness h;
    Conn c = to_time_wait(h);
    PeerOptions o2;
    o2.iss = c.snd_nxt - 100;
    h.send(h.syn(o2));
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    EXPECT_EQ(h.stats()[Counter::tcp_time_wait_reused], 0u);
}

// Without a listener on the port nothing can take the new SYN: challenge ACK.
TEST(TcpTimeWait, NoListenerNoReuse) {
    TcpHarness h;
    Conn c = h.establish_active();
    ASSERT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
    h.fins_into_time_wait(c);
    Seg s = h.syn(c.opts, c.stack_port);
    s.seq = c.snd_nxt + 1000;
    h.send(s);
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
}

// ================================================================ retransmission (RFC 6298, RFC 5681)

// The RTO starts from the handshake's RTT sample (10 ms here: the 200 ms floor) and
// doubles on every expiry; an ACK stops it.
TEST(TcpRetransmit, RtoRetransmissionWithExponentialBackoff) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Bytes d = pattern(100, 4);
    stack_send(h, c, d);
    Rx first = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    TimeNs last = first.at;
    TimeNs gap = 200 * kMillisecond;
    for (int i = 0; i < 4; ++i) {
        std::optional<Rx> r = h.wait_segment(10 * kSecond);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->h.seq, c.rcv_nxt);
        EXPECT_EQ(r->payload, d);
        EXPECT_NEAR(double(r->at - last), double(gap), double(2 * kMillisecond)) << "expiry " << i;
        last = r->at;
        gap *= 2;
    }
    EXPECT_EQ(h.stats()[Counter::tcp_rto_expiries], 4u);
    EXPECT_EQ(h.stats()[Counter::tcp_retransmits], 4u);
    h.ack(c, 100);
    h.advance(10 * kSecond, 10 * kMillisecond);
    h.expect_nothing();
    expect_data_flows(h, c);
}

// RFC 6298 2.2: the handshake's RTT is measured from the SYN (or SYN-ACK), whatever
// the clock's epoch: a stack up for days must not take its uptime for an RTT.
TEST(TcpRetransmit, HandshakeRttSampleIsTheHandshakeNotTheClock) {
    for (bool active : {false, true}) {
        SCOPED_TRACE(active ? "active open" : "passive open");
        TcpHarness h(tcp_stack_config(), 1500, 3 * 24 * 3600 * kSecond);  // up for three days
        Conn c = active ? h.establish_active() : h.establish_passive();
        TcpSocket* s = h.socket_of(c);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(s->rtt.srtt(), 10 * kMillisecond);
        stack_send(h, c, pattern(100, 4));
        Rx sent = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
        std::optional<Rx> r = h.wait_segment(200 * kSecond, kMillisecond);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->payload, pattern(100, 4));
        EXPECT_EQ(r->at - sent.at, 200 * kMillisecond);  // 10 ms RTT: the RTO floor
    }
}

// After max_retransmits expiries the connection is reset and the user sees ETIMEDOUT.
TEST(TcpRetransmit, GivesUpAfterMaxRetransmits) {
    Stack::Config cfg = tcp_stack_config();
    cfg.tcp.max_retransmits = 3;
    TcpHarness h(cfg);
    Conn c = h.establish_passive();
    Bytes d = pattern(100, 4);
    stack_send(h, c, d);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    for (int i = 0; i < 3; ++i) {
        std::optional<Rx> r = h.wait_segment(10 * kSecond);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->payload, d);
    }
    std::optional<Rx> r = h.wait_segment(10 * kSecond);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(flag_names(r->h.flags), flag_names(kRst | kAck));
    EXPECT_EQ(r->h.seq, c.rcv_nxt + 100);
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.so_error(c.fd), ETIMEDOUT);
}

// RFC 5681 3.2: the third duplicate ACK retransmits the missing segment at once.
TEST(TcpRetransmit, FastRetransmitAfterThreeDupAcks) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Bytes d = pattern(5 * 1460, 5);
    stack_send(h, c, d);
    for (int i = 0; i < 5; ++i) {
        Rx r = h.expect_segment(c, i == 4 ? kAck | kPsh : kAck, c.rcv_nxt + i * 1460, c.snd_nxt);
        EXPECT_EQ(r.payload.size(), 1460u);
    }
    h.ack(c, 1460);  // the first arrived, the second was lost
    h.expect_nothing();
    Stats before = h.stats();
    h.send(h.seg(c));
    h.send(h.seg(c));
    h.expect_nothing();  // two duplicates are not enough
    h.send(h.seg(c));
    Rx r = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload, Bytes(d.begin() + 1460, d.begin() + 2920));
    EXPECT_EQ(h.delta(before, Counter::tcp_dup_acks), 3u);
    EXPECT_EQ(h.delta(before, Counter::tcp_fast_retransmits), 1u);
    EXPECT_EQ(h.delta(before, Counter::tcp_rto_expiries), 0u);
    h.ack(c, 4 * 1460);
    h.expect_nothing();
    expect_data_flows(h, c);
}

// RFC 3042 Limited Transmit: the first duplicate ACK lets one new segment out beyond a
// full congestion window, to keep the ACK clock going.
TEST(TcpRetransmit, LimitedTransmitSendsNewDataOnTheFirstDuplicate) {
    TcpHarness h;
    Conn c = h.establish_passive();
    stack_send(h, c, pattern(11 * 1460, 12));
    for (uint32_t i = 0; i < 10; ++i) h.expect_segment(c, kAck, c.rcv_nxt + i * 1460, c.snd_nxt);
    h.expect_nothing();  // the initial window (10 segments) is full
    Stats before = h.stats();
    h.send(h.seg(c));  // the first duplicate
    Rx r = h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 10 * 1460, c.snd_nxt);
    EXPECT_EQ(r.payload.size(), 1460u);
    EXPECT_EQ(h.delta(before, Counter::tcp_fast_retransmits), 0u);
}

// RFC 5827 Early Retransmit: two segments outstanding and nothing new to send can
// never bring three duplicates; one does.
TEST(TcpRetransmit, EarlyRetransmitWithFewSegmentsOutstanding) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Bytes d = pattern(3 * 1460, 13);
    stack_send(h, c, d);
    for (uint32_t i = 0; i < 3; ++i) h.expect_segment(c, i == 2 ? kAck | kPsh : kAck, c.rcv_nxt + i * 1460, c.snd_nxt);
    h.ack(c, 1460);  // the first arrived, the second was lost
    h.expect_nothing();
    Stats before = h.stats();
    h.send(h.seg(c));  // the third arrived: one duplicate
    Rx r = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload, Bytes(d.begin() + 1460, d.begin() + 2920));
    EXPECT_EQ(h.delta(before, Counter::tcp_fast_retransmits), 1u);
    EXPECT_EQ(h.delta(before, Counter::tcp_rto_expiries), 0u);
}

// Eifel (RFC 3522/4015): the ACK covering the fast-retransmitted segment echoes the
// original's TSval, so that segment was reordered, not lost: the window reduction is
// undone and DupThresh rises past the duplicates this reordering caused.
TEST(TcpRetransmit, SpuriousFastRetransmitUndoneByTimestamps) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.ts = true});
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    Bytes d = pattern(5 * 1448, 8);
    stack_send(h, c, d);
    uint32_t original_tsval = 0;
    for (int i = 0; i < 5; ++i) {
        Rx r = h.expect_segment(c, i == 4 ? kAck | kPsh : kAck, c.rcv_nxt + i * 1448, c.snd_nxt);
        if (i == 1) original_tsval = r.h.options.ts_val;
    }
    h.advance(10 * kMillisecond);
    h.ack(c, 1448);
    const uint32_t cwnd = s->cc.cwnd();
    const uint32_t ssthresh = s->cc.ssthresh();
    Stats before = h.stats();
    for (int i = 0; i < 3; ++i) h.send(h.seg(c));
    Rx r = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload, Bytes(d.begin() + 1448, d.begin() + 2896));
    EXPECT_GT(r.h.options.ts_val, original_tsval);
    EXPECT_LT(s->cc.ssthresh(), ssthresh);
    // The original second segment arrives late and fills the hole: the peer's ACK of
    // everything echoes its TSval (RFC 7323 4.3).
    c.rcv_nxt += 4 * 1448;
    Seg all = h.seg(c);
    all.options.ts_ecr = original_tsval;
    h.send(all);
    EXPECT_EQ(h.delta(before, Counter::tcp_spurious_recoveries), 1u);
    EXPECT_EQ(s->cc.ssthresh(), ssthresh);
    EXPECT_GE(s->cc.cwnd(), cwnd);
    EXPECT_FALSE(s->in_recovery);
    EXPECT_EQ(s->scoreboard.dup_thresh(), 4u);
    expect_data_flows(h, c);
}

// A real loss: the ACK echoes the retransmission's TSval, nothing is undone.
TEST(TcpRetransmit, NecessaryFastRetransmitIsNotUndone) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.ts = true});
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    stack_send(h, c, pattern(5 * 1448, 9));
    for (int i = 0; i < 5; ++i) h.expect_segment(c, i == 4 ? kAck | kPsh : kAck, c.rcv_nxt + i * 1448, c.snd_nxt);
    h.advance(10 * kMillisecond);
    h.ack(c, 1448);
    const uint32_t cwnd = s->cc.cwnd();
    const uint32_t ssthresh = s->cc.ssthresh();
    Stats before = h.stats();
    for (int i = 0; i < 3; ++i) h.send(h.seg(c));
    h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);  // sets c.ts_ecr to the retransmission's TSval
    c.rcv_nxt += 4 * 1448;
    h.send(h.seg(c));
    EXPECT_EQ(h.delta(before, Counter::tcp_spurious_recoveries), 0u);
    EXPECT_LT(s->cc.ssthresh(), ssthresh);
    EXPECT_LT(s->cc.cwnd(), cwnd);
    EXPECT_EQ(s->scoreboard.dup_thresh(), 3u);
}

// ================================================================ SACK (RFC 2018)

TEST(TcpSack, StackReportsSackBlocksForOutOfOrderData) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    const uint32_t p = c.snd_nxt;
    Bytes d = pattern(400, 6);
    auto piece = [&](uint32_t from, uint32_t len) {
        Seg s = h.seg(c, kAck, Bytes(d.begin() + from, d.begin() + from + len));
        s.seq = p + from;
        h.send(s);
    };
    piece(100, 100);
    Rx a1 = h.expect_segment(c, kAck, c.rcv_nxt, p);
    ASSERT_EQ(a1.h.options.sack_count, 1);
    EXPECT_EQ(a1.h.options.sacks[0].left, p + 100);
    EXPECT_EQ(a1.h.options.sacks[0].right, p + 200);
    piece(300, 100);
    Rx a2 = h.expect_segment(c, kAck, c.rcv_nxt, p);
    ASSERT_EQ(a2.h.options.sack_count, 2);
    EXPECT_EQ(a2.h.options.sacks[0].left, p + 300);  // the most recent block first (RFC 2018 4)
    EXPECT_EQ(a2.h.options.sacks[0].right, p + 400);
    EXPECT_EQ(a2.h.options.sacks[1].left, p + 100);
    EXPECT_EQ(a2.h.options.sacks[1].right, p + 200);
    piece(0, 100);
    Rx a3 = h.expect_segment(c, kAck, c.rcv_nxt, p + 200);
    ASSERT_EQ(a3.h.options.sack_count, 1);
    EXPECT_EQ(a3.h.options.sacks[0].left, p + 300);
    piece(200, 100);
    Rx a4 = h.expect_segment(c, kAck, c.rcv_nxt, p + 400);
    EXPECT_EQ(a4.h.options.sack_count, 0);
    c.snd_nxt = p + 400;
    EXPECT_EQ(h.read_all(c.fd), d);
    EXPECT_EQ(h.stats()[Counter::tcp_out_of_order], 2u);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// RFC 6675 2: with SACK, an ACK that SACKs octets not SACKed before is a duplicate
// even when it carries data (both directions busy, the peer's ACKs ride on its data).
TEST(TcpSack, DataCarryingAcksWithNewSackBlocksStartRecovery) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    stack_send(h, c, pattern(5 * 1460, 11));
    for (int i = 0; i < 5; ++i) h.expect_segment(c, i == 4 ? kAck | kPsh : kAck, c.rcv_nxt + i * 1460, c.snd_nxt);
    const uint32_t base = c.rcv_nxt;
    c.rcv_nxt = base + 1460;  // the first arrived, the second was lost
    Stats before = h.stats();
    for (uint32_t k = 0; k < 3; ++k) {
        Seg s = h.seg(c, kAck | kPsh, pattern(100, 20 + k));
        s.options.sack_count = 1;
        s.options.sacks[0] = SackBlock{base + 2 * 1460, base + (3 + k) * 1460};
        h.send(s);
        c.snd_nxt += 100;
    }
    bool retransmitted = false;
    while (std::optional<Rx> r = h.next())
        if (r->h.seq == base + 1460 && r->payload.size() == 1460) retransmitted = true;
    EXPECT_TRUE(retransmitted);
    EXPECT_EQ(h.delta(before, Counter::tcp_fast_retransmits), 1u);
    EXPECT_EQ(h.delta(before, Counter::tcp_rto_expiries), 0u);
}

// A fast retransmission that is lost too (RetransmitLog). The scenario up to the
// point where the proof comes: 40 segments queued, the first lost; the peer SACKs
// the rest one by one: fast retransmit (after Limited Transmit), and that
// retransmission is lost as well; then the peer SACKs what was in flight when it
// left, while recovery sends new data behind it.
struct LostRetransmission {
    static constexpr uint32_t kSeg = 1460;
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    uint32_t base = 0;
    uint32_t sent_end = 0;       // one past the highest octet the stack sent (SND.MAX)
    uint32_t rxt_snd_max = 0;    // SND.MAX when the first segment was retransmitted
    uint32_t first_seg_sends = 0;
    uint32_t highest = 0;        // the right edge the peer SACKs
    Stats before;

    void drain() {
        while (std::optional<Rx> r = h.next()) {
            if (r->payload.empty()) continue;
            if (r->h.seq == base && ++first_seg_sends == 2) rxt_snd_max = sent_end;
            if (seq_gt(r->h.seq + uint32_t(r->payload.size()), sent_end)) sent_end = r->h.seq + uint32_t(r->payload.size());
        }
    }
    void sack_up_to(uint32_t right) {
        Seg a = h.seg(c, kAck, {});
        a.ack = base;
        a.options.sack_count = 1;
        a.options.sacks[0] = SackBlock{base + kSeg, right};
        h.send(a);
        highest = right;
        drain();
    }
    void run_up_to_the_proof() {
        stack_send(h, c, pattern(40 * kSeg, 12));
        base = sent_end = c.rcv_nxt;
        highest = base + kSeg;
        drain();
        ASSERT_EQ(first_seg_sends, 1u);
        before = h.stats();
        while (first_seg_sends < 2 && seq_lt(highest, sent_end)) sack_up_to(highest + kSeg);
        ASSERT_EQ(h.delta(before, Counter::tcp_fast_retransmits), 1u);
        ASSERT_EQ(first_seg_sends, 2u);
        while (seq_lt(highest, rxt_snd_max)) sack_up_to(highest + kSeg);
        ASSERT_EQ(first_seg_sends, 2u);
        ASSERT_TRUE(seq_ge(sent_end, rxt_snd_max + 3 * kSeg)) << "recovery sent too little new data";
        ASSERT_EQ(h.delta(before, Counter::tcp_lost_retransmits), 0u);
    }
};

// By sequence: SACKs for data sent after the retransmission, two segments beyond it
// are not yet enough (DupThresh 3: reordering tolerated as for a first loss), the
// third is; no RTO.
TEST(TcpSack, LostRetransmissionIsSentAgainWithoutTimeout) {
    LostRetransmission t;
    ASSERT_NO_FATAL_FAILURE(t.run_up_to_the_proof());
    constexpr uint32_t kSeg = LostRetransmission::kSeg;
    t.sack_up_to(t.rxt_snd_max + kSeg);
    t.sack_up_to(t.rxt_snd_max + 2 * kSeg);
    EXPECT_EQ(t.first_seg_sends, 2u);
    t.sack_up_to(t.rxt_snd_max + 3 * kSeg);
    EXPECT_EQ(t.first_seg_sends, 3u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_lost_retransmits), 1u);
    t.sack_up_to(t.rxt_snd_max + 4 * kSeg);  // not a fourth time for the same evidence
    EXPECT_EQ(t.first_seg_sends, 3u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_rto_expiries), 0u);
}

// By time: one segment sent after the retransmission is SACKed, and more than an RTT
// and a quarter has passed since the retransmission left (RACK's rule; the sequence
// rule would want three).
TEST(TcpSack, LostRetransmissionFoundByTimeWhenLittleFollowsIt) {
    LostRetransmission t;
    ASSERT_NO_FATAL_FAILURE(t.run_up_to_the_proof());
    const TimeNs srtt = t.h.socket_of(t.c)->rtt.srtt();
    ASSERT_GT(srtt, 0u);
    t.sack_up_to(t.rxt_snd_max + LostRetransmission::kSeg);
    EXPECT_EQ(t.first_seg_sends, 2u);
    t.h.advance(srtt + srtt / 2);
    EXPECT_EQ(t.first_seg_sends, 2u);
    t.sack_up_to(t.rxt_snd_max + LostRetransmission::kSeg);  // the same SACK again, later
    EXPECT_EQ(t.first_seg_sends, 3u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_lost_retransmits), 1u);
    EXPECT_EQ(t.h.delta(t.before, Counter::tcp_rto_expiries), 0u);
}

TEST(TcpSack, NoSackBlocksUnlessNegotiated) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Seg s = h.seg(c, kAck, pattern(100));
    s.seq = c.snd_nxt + 100;
    h.send(s);
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.options.sack_count, 0);
}

// ================================================================ delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2)

TEST(TcpDelayedAck, OneFullSegmentIsAckedWithin40ms) {
    TcpHarness h;
    Conn c = h.establish_passive();
    TimeNs t0 = h.clock.now();
    h.send_data(c, pattern(1460, 7));
    h.expect_nothing();
    std::optional<Rx> r = h.wait_segment(kSecond);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(flag_names(r->h.flags), flag_names(kAck));
    EXPECT_EQ(r->h.ack, c.snd_nxt);
    EXPECT_EQ(r->at - t0, h.stack.tcp().config().delayed_ack);
}

TEST(TcpDelayedAck, TwoFullSegmentsAreAckedAtOnce) {
    TcpHarness h;
    Conn c = h.establish_passive();
    h.send_data(c, pattern(1460, 7), 0);
    h.expect_nothing();
    h.send_data(c, pattern(1460, 8));
    h.expect_ack(c);
    h.advance(100 * kMillisecond);
    h.expect_nothing();  // the delayed-ACK timer went with the ACK
}

// A delayed ACK rides on data the application sends in the meantime.
TEST(TcpDelayedAck, PiggybacksOnData) {
    TcpHarness h;
    Conn c = h.establish_passive();
    h.send_data(c, pattern(1460, 7));
    h.expect_nothing();
    h.advance(10 * kMillisecond);
    stack_send(h, c, pattern(20, 9));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    h.ack(c, 20);
    h.advance(100 * kMillisecond);
    h.expect_nothing();
}

// A short segment is ACKed at once until the exchange is interactive: once the stack
// has answered the peer's data with data of its own, the ACK of the next short request
// waits for the answer and rides on it (Linux's pingpong mode; TCP_RR: two segments per
// transaction instead of four). With no answer, the delayed-ACK timer sends it; after a
// quiet spell the exchange is no longer interactive.
TEST(TcpDelayedAck, InteractiveShortRequestRidesOnTheAnswer) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Bytes request = pattern(64, 1), response = pattern(64, 2);
    h.send_data(c, request);
    h.expect_ack(c);  // nothing answered yet
    EXPECT_EQ(h.read_all(c.fd), request);
    stack_send(h, c, response);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    h.ack(c, 64);
    h.send_data(c, request);
    h.expect_nothing();  // interactive: the ACK waits for the answer...
    EXPECT_EQ(h.read_all(c.fd), request);
    stack_send(h, c, response);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);  // ...and rides on it
    h.ack(c, 64);
    h.send_data(c, request);  // no answer comes: the timer sends the ACK
    TimeNs t0 = h.clock.now();
    std::optional<Rx> r = h.wait_segment(kSecond);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(flag_names(r->h.flags), flag_names(kAck));
    EXPECT_EQ(r->h.ack, c.snd_nxt);
    EXPECT_EQ(r->at - t0, h.stack.tcp().config().delayed_ack);
    h.advance(100 * kMillisecond);
    h.send_data(c, request);
    h.expect_ack(c);  // quiet since: ACKed at once again
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// ================================================================ Nagle (RFC 896, RFC 9293 3.7.4)

TEST(TcpNagle, SmallSecondWriteWaitsForTheAck) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Bytes a = pattern(10, 1), b = pattern(10, 2);
    stack_send(h, c, a);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    stack_send(h, c, b);
    h.expect_nothing();
    h.advance(50 * kMillisecond);
    h.expect_nothing();
    h.ack(c, 10);
    Rx r = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload, b);
}

TEST(TcpNagle, NodelaySendsAtOnce) {
    TcpHarness h;
    Conn c = h.establish_passive();
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    stack_send(h, c, pattern(10, 1));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    stack_send(h, c, pattern(10, 2));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 10, c.snd_nxt);
}

TEST(TcpNagle, SettingNodelayReleasesHeldData) {
    TcpHarness h;
    Conn c = h.establish_passive();
    stack_send(h, c, pattern(10, 1));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    stack_send(h, c, pattern(10, 2));
    h.expect_nothing();
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 10, c.snd_nxt);
}

// ================================================================ sender SWS avoidance (RFC 9293 3.8.6.2.1)

// With TCP_NODELAY Nagle holds nothing back, so only the sender's silly window
// avoidance stands between a window that opens by a little and a runt segment: with
// data in flight, a segment below the MSS goes only if it is the last of the data or
// at least half the largest window the peer offered (Fs = 1/2).
TEST(TcpSws, NodelayStillSendsNoRuntIntoASmallUsableWindow) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.window = 4000});
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    Bytes a = pattern(3000, 1);
    stack_send(h, c, a);
    h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    h.expect_segment(c, kAck, c.rcv_nxt + 1460, c.snd_nxt);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 2920, c.snd_nxt);  // the last of the data: may be small
    // 3000 in flight: 1000 of the 4000-byte window left, below half of it, and more
    // queued than that.
    Bytes b = pattern(2000, 2);
    stack_send(h, c, b);
    h.expect_nothing();
    h.advance(50 * kMillisecond);
    h.expect_nothing();
    // An ACK that opens the usable window to 1400: still below a segment and below
    // half the window, still nothing.
    h.ack(c, 400);
    h.expect_nothing();
    // Opened to 2460: a full segment goes, then the tail (the last of the data).
    h.ack(c, 1060);
    Rx r1 = h.expect_segment(c, kAck, c.rcv_nxt + 1540, c.snd_nxt);
    Rx r2 = h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 3000, c.snd_nxt);
    EXPECT_EQ(r1.payload, Bytes(b.begin(), b.begin() + 1460));
    EXPECT_EQ(r2.payload, Bytes(b.begin() + 1460, b.end()));
    h.ack(c, 3540);
    h.expect_nothing();
}

// ================================================================ zero window (RFC 9293 3.8.6.1)

// The window closes under queued data: probes with backoff; a window update resumes.
TEST(TcpPersist, ZeroWindowProbesWithBackoffAndWindowUpdateResumes) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.window = 1000});
    Bytes d = pattern(3000, 3);
    stack_send(h, c, d);
    Rx r = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload.size(), 1000u);
    h.expect_nothing();
    c.window = 0;
    h.ack(c, 1000);
    h.expect_nothing();
    Stats before = h.stats();
    TimeNs last = h.clock.now();
    TimeNs gap = 200 * kMillisecond;
    for (int i = 0; i < 4; ++i) {
        std::optional<Rx> p = h.wait_segment(20 * kSecond);
        ASSERT_TRUE(p.has_value()) << "probe " << i;
        EXPECT_EQ(flag_names(p->h.flags), flag_names(kAck));
        EXPECT_EQ(p->h.seq, c.rcv_nxt - 1);  // old data: the peer must answer
        EXPECT_TRUE(p->payload.empty());
        EXPECT_NEAR(double(p->at - last), double(gap), double(5 * kMillisecond)) << "probe " << i;
        last = p->at;
        gap *= 2;
        h.send(h.seg(c));  // still zero
    }
    EXPECT_EQ(h.delta(before, Counter::tcp_window_probes), 4u);
    EXPECT_EQ(h.state(c), TcpState::established);
    c.window = 65535;
    h.send(h.seg(c));
    Rx r1 = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r1.payload, Bytes(d.begin() + 1000, d.begin() + 2460));
    h.ack(c, 1460);  // Nagle held the 540-byte tail for this ACK
    Rx r2 = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r2.payload, Bytes(d.begin() + 2460, d.end()));
    h.ack(c, 540);
    h.expect_nothing();
}

// The window was already zero when the application wrote: the persist timer must
// start all the same, or the connection hangs until the peer happens to speak.
TEST(TcpPersist, WriteIntoAZeroWindowStartsProbing) {
    TcpHarness h;
    Conn c = h.establish_passive();
    c.window = 0;
    h.send(h.seg(c));
    stack_send(h, c, pattern(100, 3));
    h.expect_nothing();
    std::optional<Rx> p = h.wait_segment(5 * kSecond);
    ASSERT_TRUE(p.has_value()) << "no zero-window probe";
    EXPECT_EQ(p->h.seq, c.rcv_nxt - 1);
    c.window = 65535;
    h.send(h.seg(c));
    Rx r = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload, pattern(100, 3));
}

// ================================================================ keepalive (RFC 1122 4.2.3.6)

Conn keepalive_conn(TcpHarness& h) {
    Conn c = h.establish_passive();
    set_int(h, c.fd, kIpProtoTcp, kTcpKeepidle, 10);
    set_int(h, c.fd, kIpProtoTcp, kTcpKeepintvl, 2);
    set_int(h, c.fd, kIpProtoTcp, kTcpKeepcnt, 3);
    set_int(h, c.fd, kSolSocket, kSoKeepalive, 1);
    return c;
}

// TCP_KEEPIDLE lowered while the idle timer runs: the first probe follows the new
// idle time, not the old one (two hours by default).
TEST(TcpKeepalive, LoweringKeepidleReschedulesTheRunningTimer) {
    TcpHarness h;
    Conn c = h.establish_passive();
    set_int(h, c.fd, kSolSocket, kSoKeepalive, 1);
    TimeNs t0 = h.clock.now();
    h.advance(5 * kSecond, 10 * kMillisecond);
    set_int(h, c.fd, kIpProtoTcp, kTcpKeepidle, 10);
    std::optional<Rx> p = h.wait_segment(60 * kSecond, 10 * kMillisecond);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->h.seq, c.rcv_nxt - 1);
    EXPECT_NEAR(double(p->at - t0), double(10 * kSecond), double(20 * kMillisecond));
    EXPECT_EQ(h.stats()[Counter::tcp_keepalive_probes], 1u);
}

TEST(TcpKeepalive, UnansweredProbesThenEtimedout) {
    TcpHarness h;
    Conn c = keepalive_conn(h);
    TimeNs t0 = h.clock.now();
    for (TimeNs at : {10 * kSecond, 12 * kSecond, 14 * kSecond}) {
        std::optional<Rx> p = h.wait_segment(30 * kSecond, 10 * kMillisecond);
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(flag_names(p->h.flags), flag_names(kAck));
        EXPECT_EQ(p->h.seq, c.rcv_nxt - 1);
        EXPECT_TRUE(p->payload.empty());
        EXPECT_NEAR(double(p->at - t0), double(at), double(20 * kMillisecond));
    }
    std::optional<Rx> rst = h.wait_segment(30 * kSecond, 10 * kMillisecond);
    ASSERT_TRUE(rst.has_value());
    EXPECT_EQ(flag_names(rst->h.flags), flag_names(kRst | kAck));
    EXPECT_NEAR(double(rst->at - t0), double(16 * kSecond), double(20 * kMillisecond));
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.so_error(c.fd), ETIMEDOUT);
    EXPECT_EQ(h.stats()[Counter::tcp_keepalive_probes], 3u);
}

TEST(TcpKeepalive, AnsweredProbesKeepTheConnection) {
    TcpHarness h;
    Conn c = keepalive_conn(h);
    for (int i = 0; i < 10; ++i) {
        std::optional<Rx> p = h.wait_segment(30 * kSecond, 10 * kMillisecond);
        ASSERT_TRUE(p.has_value());
        EXPECT_EQ(p->h.seq, c.rcv_nxt - 1);
        h.send(h.seg(c));
    }
    EXPECT_EQ(h.state(c), TcpState::established);
    EXPECT_EQ(h.stats()[Counter::tcp_keepalive_probes], 10u);
    expect_data_flows(h, c);
}

// ================================================================ options (RFC 7323, RFC 9293 3.7.1)

TEST(TcpOptions, WindowScaleUsedWhenBothOffer) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.wscale = 7});
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->wscale_ok);
    EXPECT_EQ(s->snd_wscale, 7);
    EXPECT_EQ(s->rcv_wscale, 3);
    c.window = 100;  // 100 << 7 = 12800 bytes
    h.send(h.seg(c));
    EXPECT_EQ(s->snd_wnd, 12800u);
    h.send_data(c, pattern(10));
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.window, (262144 - 10) >> 3);
    // The SYN-ACK carried our shift; its own window field is never scaled.
    Bytes d = pattern(20000, 1);
    stack_send(h, c, d);
    uint32_t sent = 0;
    while (std::optional<Rx> r = h.next()) sent += static_cast<uint32_t>(r->payload.size());
    // Never beyond the scaled window; sender SWS avoidance may hold a last runt.
    EXPECT_LE(sent, 12800u);
    EXPECT_GT(sent, 12800u - 1460u);
}

TEST(TcpOptions, WindowScaleNotUsedUnlessThePeerOffers) {
    TcpHarness h;
    PeerOptions o;
    h.listen_on();
    h.send(h.syn(o));
    Rx sa = h.expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);
    EXPECT_FALSE(sa.h.options.has_window_scale);
    EXPECT_EQ(sa.h.window, 65535);
    Conn c;
    c.opts = o;
    c.snd_nxt = o.iss + 1;
    c.rcv_nxt = sa.h.seq + 1;
    c.window = 1000;
    h.send(h.seg(c));
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    EXPECT_FALSE(s->wscale_ok);
    EXPECT_EQ(s->rcv_wscale, 0);
    EXPECT_EQ(s->snd_wnd, 1000u);
    h.send_data(c, pattern(10));
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.window, 65535);  // 256 KiB free, unscaled: the field's maximum
}

// Active open: the SYN offers scaling, the SYN-ACK does not: neither side scales.
TEST(TcpOptions, WindowScaleOfferedButNotReturned) {
    TcpHarness h;
    Conn c = h.establish_active(PeerOptions{.window = 1000});
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    EXPECT_FALSE(s->wscale_ok);
    EXPECT_EQ(s->rcv_wscale, 0);
    EXPECT_EQ(s->snd_wscale, 0);
    h.send_data(c, pattern(10));
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.window, 65535);
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    stack_send(h, c, pattern(5000, 2));
    uint32_t sent = 0;
    while (std::optional<Rx> r = h.next()) sent += static_cast<uint32_t>(r->payload.size());
    EXPECT_EQ(sent, 1000u);
}

TEST(TcpOptions, TimestampsOnlyWhenBothOffer) {
    TcpHarness h;
    Conn c = h.establish_passive();
    stack_send(h, c, pattern(10));
    Rx r = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    EXPECT_FALSE(r.h.options.has_timestamps);
    TcpHarness h2;
    Conn c2 = h2.establish_passive(PeerOptions{.ts = true});
    stack_send(h2, c2, pattern(10));
    Rx r2 = h2.expect_segment(c2, kAck | kPsh, c2.rcv_nxt, c2.snd_nxt);
    ASSERT_TRUE(r2.h.options.has_timestamps);
    EXPECT_EQ(r2.h.options.ts_ecr, h2.socket_of(c2)->ts_recent);
}

TEST(TcpOptions, MssAbsentMeans536) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.mss = kNotOffered});
    int mss = 0;
    size_t len = sizeof mss;
    ASSERT_EQ(getsockopt(h.stack, c.fd, kIpProtoTcp, kTcpMaxseg, &mss, &len), 0);
    EXPECT_EQ(mss, 536);
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    stack_send(h, c, pattern(1000));
    Rx r = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload.size(), 536u);
}

// ================================================================ SYN cookies (RFC 4987 3.6)

TEST(TcpSynCookies, FullSynQueueAnswersWithCookieAndFinalAckConnects) {
    TcpHarness h;
    int l = h.listen_on(ListenOptions{.backlog = 1});  // SYN queue: 2 half-open children
    for (uint16_t port : {50001, 50002}) {
        h.send(h.syn(PeerOptions{.port = port}));
        h.expect_segment(kSyn | kAck, std::nullopt, kPeerIss + 1);
    }
    EXPECT_EQ(h.stack.tcp().open_sockets(), 3u);
    PeerOptions o{.wscale = 7, .sack = true, .ts = true, .iss = 0x2bcdef00, .port = 50003};
    h.send(h.syn(o));
    Rx sa = h.expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);
    EXPECT_EQ(h.stats()[Counter::tcp_syn_cookies_sent], 1u);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 3u);  // no state kept for it
    // A cookie carries only the MSS (tcp_isn.hpp).
    EXPECT_EQ(sa.h.options.mss, 1460);
    EXPECT_FALSE(sa.h.options.has_window_scale);
    EXPECT_FALSE(sa.h.options.sack_permitted);
    EXPECT_FALSE(sa.h.options.has_timestamps);
    h.advance(10 * kMillisecond);
    Conn c;
    c.opts = o;
    c.listener = l;
    c.stack_iss = sa.h.seq;
    c.snd_nxt = o.iss + 1;
    c.rcv_nxt = sa.h.seq + 1;
    h.send(h.seg(c));
    EXPECT_EQ(h.stats()[Counter::tcp_syn_cookies_accepted], 1u);
    EXPECT_EQ(h.state(c), TcpState::established);
    c.fd = quasi::accept(h.stack, l, nullptr);
    ASSERT_GE(c.fd, 0);
    h.expect_nothing();
    // No window scaling was agreed (the cookie SYN-ACK offered none): windows go unscaled.
    h.send_data(c, pattern(10));
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.window, 65535);
    EXPECT_EQ(h.read_all(c.fd), pattern(10));
    expect_data_flows(h, c);
    EXPECT_EQ(h.stats().total_drops(), 0u) << drops_of(h.stats());
}

// ================================================================ receive window updates (RFC 9293 3.8.6.2.2)

// The first window the stack announces is its buffer, whatever the peer's ISN: nothing
// announced before may be taken for a larger right edge (sequence numbers compare
// modulo 2^32, so an unset RCV.ADV of 0 lies "ahead" of half of them).
TEST(TcpWindowUpdate, FirstWindowIsTheBufferWhateverThePeerIss) {
    for (uint32_t iss : {0x10000000u, 0x90000000u, 0xfffff000u}) {
        for (bool active : {false, true}) {
            SCOPED_TRACE(std::to_string(iss) + (active ? " active" : " passive"));
            TcpHarness h;
            PeerOptions o{.iss = iss};
            Conn c;
            if (active) {
                c = h.establish_active(o, 10 * kMillisecond, 4096);  // its ACK is the first window
            } else {
                c = h.establish_passive(o, ListenOptions{.rcvbuf = 4096});
            }
            TcpSocket* s = h.socket_of(c);
            ASSERT_NE(s, nullptr);
            EXPECT_LE(s->rcv_adv - s->rcv_nxt, 4096u);
            h.send_data(c, pattern(10));
            Rx a = h.expect_ack(c);
            EXPECT_EQ(a.h.window, 4096 - 10);
        }
    }
}

// Reading a little data does not move the right edge the peer knows by a full
// segment, so no window update goes out (receiver SWS avoidance); reading enough does.
TEST(TcpWindowUpdate, SmallReadsSendNoWindowUpdate) {
    for (int wscale : {kNotOffered, 7}) {
        SCOPED_TRACE(wscale == kNotOffered ? "unscaled" : "scaled");
        TcpHarness h;
        Conn c = h.establish_passive(PeerOptions{.wscale = wscale});
        h.send_data(c, pattern(50));
        h.expect_ack(c);
        uint8_t buf[100];
        EXPECT_EQ(quasi::recv(h.stack, c.fd, buf, sizeof buf), 50);
        h.expect_nothing();
    }
}

TEST(TcpWindowUpdate, ReadingAFullWindowAnnouncesIt) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{}, ListenOptions{.rcvbuf = 4096});
    Bytes d = pattern(4096, 1);
    h.send_data(c, Bytes(d.begin(), d.begin() + 1460), 0);
    h.send_data(c, Bytes(d.begin() + 1460, d.begin() + 2920), 0);
    h.expect_ack(c);
    h.send_data(c, Bytes(d.begin() + 2920, d.end()));
    h.advance(h.stack.tcp().config().delayed_ack);
    Rx full = h.expect_ack(c);
    EXPECT_EQ(full.h.window, 0);
    EXPECT_EQ(h.read_all(c.fd), d);
    Rx update = h.expect_ack(c);
    EXPECT_EQ(update.h.window, 4096);
}

}  // namespace
}  // namespace quasi::test
