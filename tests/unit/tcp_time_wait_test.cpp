// TIME-WAIT records (stack/tcp_time_wait.hpp), driven by crafted segments: the socket
// and its rings go the moment TIME-WAIT begins, the record answers a retransmitted FIN
// and restarts 2*MSL, ignores RSTs (RFC 1337), gives the tuple to a new incarnation
// only under RFC 6191's rules (server side: the peer's SYN; client side: our own
// connect), and a full table retires its oldest record instead of refusing anyone.
#include "tcp_segment_harness.hpp"

#include <cerrno>

namespace quasi::test {
namespace {

TEST(TcpTimeWaitRecord, SocketRingsAndDescriptorFreeTheMomentTimeWaitBegins) {
    TcpHarness h;
    Conn c = h.establish_passive();
    const size_t sockets_before_close = h.stack.tcp().open_sockets();
    // Data both ways first, so both rings have held storage.
    Bytes in = pattern(500, 1);  // short: ACKed at once
    h.send_data(c, in);
    h.expect_ack(c);
    Bytes out = pattern(1000, 2);
    ASSERT_EQ(quasi::send(h.stack, c.fd, out.data(), out.size()), 1000);
    Rx r = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload.size(), 1000u);
    EXPECT_GT(h.stack.tcp().buffer_memory(), 0u);
    EXPECT_EQ(h.read_all(c.fd), in);
    h.ack(c, 1000);
    h.close_into_time_wait(c);
    EXPECT_EQ(h.stack.tcp().open_sockets(), sockets_before_close - 1);  // the listener is left
    EXPECT_EQ(h.socket_of(c), nullptr);
    EXPECT_EQ(h.stack.tcp().buffer_memory(), 0u);
    EXPECT_EQ(h.stack.descriptors().tcp(c.fd), nullptr);
    EXPECT_EQ(h.stack.tcp().time_wait().size(), 1u);
    EXPECT_EQ(h.stats()[Counter::tcp_time_wait_entered], 1u);
    h.stack.poll();  // the socket's slot goes back to its chunk at the end of a poll
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
}

// With timestamps the record's ACK to a retransmitted FIN echoes the peer's newest
// TSval and continues the connection's own TSval clock; 2*MSL starts over.
TEST(TcpTimeWaitRecord, RetransmittedFinAckedWithTimestampsAndTimerRestarted) {
    TcpHarness h;
    PeerOptions o;
    o.ts = true;
    Conn c = h.establish_passive(o);
    const uint32_t stack_ts_before = c.ts_ecr;
    h.close_into_time_wait(c);
    const TimeNs msl = h.stack.tcp().config().msl;
    h.advance(msl, 100 * kMillisecond);
    Stats before = h.stats();
    Seg fin = h.seg(c, kFin | kAck);
    fin.seq = c.snd_nxt - 1;
    h.send(fin);
    Rx ack = h.expect_ack(c);
    ASSERT_TRUE(ack.h.options.has_timestamps);
    EXPECT_EQ(ack.h.options.ts_ecr, fin.options.ts_val);
    EXPECT_GE(ack.h.options.ts_val - stack_ts_before, uint32_t(msl / kMillisecond));
    EXPECT_EQ(h.delta(before, Counter::tcp_time_wait_fin_acked), 1u);
    h.expect_drops(before, {});
    h.advance(2 * msl - 100 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    h.advance(200 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(h.state(c), TcpState::closed);
    EXPECT_EQ(h.stack.tcp().time_wait().size(), 0u);
}

// RFC 1337: no RST ends TIME-WAIT early, in the window or out of it; each is counted.
TEST(TcpTimeWaitRecord, RstsIgnoredAndCounted) {
    TcpHarness h;
    Conn c = h.establish_passive();
    h.close_into_time_wait(c);
    Stats before = h.stats();
    h.send(h.seg(c, kRst));
    Seg far = h.seg(c, kRst | kAck);
    far.seq += 1'000'000;
    h.send(far);
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_rst_in_time_wait, 2}});
    EXPECT_EQ(h.state(c), TcpState::time_wait);
}

// RFC 6191 with timestamps on both incarnations: the TSval decides, not the SEQ.
TEST(TcpTimeWaitRecord, Rfc6191TimestampNewerReopensEvenWithLowerSeq) {
    TcpHarness h;
    PeerOptions o;
    o.ts = true;
    Conn c = h.establish_passive(o);
    h.close_into_time_wait(c);
    h.advance(kSecond, 100 * kMillisecond);  // the peer's TSval clock moves on
    PeerOptions again = o;
    again.iss = c.snd_nxt - 5000;  // below the old RCV.NXT
    Conn d = h.establish_passive(again, {}, c.listener);
    EXPECT_EQ(h.stats()[Counter::tcp_time_wait_reused], 1u);
    EXPECT_EQ(h.state(d), TcpState::established);
}

TEST(TcpTimeWaitRecord, Rfc6191OlderTimestampRefusedEvenWithHigherSeq) {
    TcpHarness h;
    PeerOptions o;
    o.ts = true;
    Conn c = h.establish_passive(o);
    h.close_into_time_wait(c);
    Stats before = h.stats();
    Seg syn = h.syn(o);
    syn.seq = c.snd_nxt + 100000;
    syn.options.ts_val = h.peer_tsval(c) - 1000;  // from before the old connection's last
    h.send(syn);
    h.expect_ack(c);  // the record answers as TIME-WAIT does
    EXPECT_EQ(h.delta(before, Counter::tcp_time_wait_reused), 0u);
    EXPECT_EQ(h.state(c), TcpState::time_wait);
}

// Table full: the oldest record is retired early (counted); the connection that
// needed the room is never refused.
TEST(TcpTimeWaitRecord, FullTableRetiresTheOldestEarly) {
    Stack::Config config = tcp_stack_config();
    config.tcp.max_time_wait = 2;
    TcpHarness h(config);
    std::vector<Conn> conns;
    int listener = -1;
    for (uint16_t i = 0; i < 3; ++i) {
        PeerOptions o;
        o.port = uint16_t(kPeerPort + i);
        Conn c = h.establish_passive(o, {}, listener);
        listener = c.listener;
        h.close_into_time_wait(c);
        conns.push_back(c);
        h.advance(10 * kMillisecond);
    }
    EXPECT_EQ(h.stack.tcp().time_wait().size(), 2u);
    EXPECT_EQ(h.stats()[Counter::tcp_time_wait_retired_early], 1u);
    EXPECT_EQ(h.state(conns[0]), TcpState::closed);  // the oldest went first
    EXPECT_EQ(h.state(conns[1]), TcpState::time_wait);
    EXPECT_EQ(h.state(conns[2]), TcpState::time_wait);
}

// The stack as a client that closed first holds the record; connecting again from the
// same port (RFC 6191 on our own side) waits until our ISN has passed the old SND.NXT.
TEST(TcpTimeWaitRecord, ClientReusesItsTupleOnlyOnceTheNewIsnIsAboveTheOld) {
    TcpHarness h;
    Conn c = h.establish_active();
    // 100 KB from the stack: the old SND.NXT runs ahead of the ISN clock (250 per ms).
    Bytes data = pattern(100 * 1024, 3);
    size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = quasi::send(h.stack, c.fd, data.data() + sent, data.size() - sent);
        ASSERT_GT(n, 0);
        sent += size_t(n);
        while (std::optional<Rx> r = h.next()) h.ack(c, r->seg_len());
    }
    ASSERT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
    h.fins_into_time_wait(c);
    ASSERT_EQ(quasi::close(h.stack, c.fd), 0);

    auto reconnect = [&]() {
        int fd = quasi::socket(h.stack, kAfInet, kSockStream);
        EXPECT_EQ(quasi::bind(h.stack, fd, SockAddr{kUs, c.stack_port}), 0);
        int rc = quasi::connect(h.stack, fd, SockAddr{kPeer, c.opts.port});
        if (rc != -EINPROGRESS) quasi::close(h.stack, fd);
        return rc;
    };
    EXPECT_EQ(reconnect(), -EADDRINUSE);  // ISN now is below the old SND.NXT
    h.expect_nothing();
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    h.advance(kSecond, 100 * kMillisecond);  // 250,000 more on the ISN clock
    EXPECT_EQ(reconnect(), -EINPROGRESS);
    Rx syn = h.expect_segment(kSyn, std::nullopt, 0);
    EXPECT_TRUE(seq_gt(syn.h.seq, c.rcv_nxt)) << "the new ISN lies above the old sequence space";
    EXPECT_EQ(h.stats()[Counter::tcp_time_wait_reused], 1u);
    EXPECT_EQ(h.stack.tcp().time_wait().size(), 0u);
}

}  // namespace
}  // namespace quasi::test
