// Every TCP line of shared/notes/bad-inputs.md, and the RFC 5961 matrix: RST, SYN and
// ACK at the left edge, the right edge and outside the window in each synchronized
// state. Each test asserts the exact drop reasons and segments seen, and that the
// stack still works afterwards. The stack is endpoint b of a MemLink; the test is the
// peer (tcp_segment_harness.hpp).
#include "tcp_segment_harness.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

namespace quasi::test {
namespace {

void stack_send(TcpHarness& h, const Conn& c, const Bytes& data) {
    ASSERT_EQ(quasi::send(h.stack, c.fd, data.data(), data.size()), ssize_t(data.size()));
}

void set_int(TcpHarness& h, int fd, int level, int name, int v) {
    ASSERT_EQ(setsockopt(h.stack, fd, level, name, &v, sizeof v), 0);
}

// In-order data is taken and ACKed, and the application reads it.
void expect_takes_data(TcpHarness& h, Conn& c) {
    SCOPED_TRACE("expect_takes_data");
    Bytes d = pattern(40, 77);
    h.send_data(c, d);
    h.expect_ack(c);
    EXPECT_EQ(h.read_all(c.fd), d);
    h.expect_nothing();
}

// ================================================================ RFC 5961 matrix

enum class Synced { established, fin_wait_1, fin_wait_2, close_wait, closing, last_ack };

const char* synced_name(Synced s) {
    switch (s) {
    case Synced::established: return "Established";
    case Synced::fin_wait_1: return "FinWait1";
    case Synced::fin_wait_2: return "FinWait2";
    case Synced::close_wait: return "CloseWait";
    case Synced::closing: return "Closing";
    case Synced::last_ack: return "LastAck";
    }
    return "?";
}

// A connection driven into a synchronized state, with what the stack's sequence
// variables must be there (derived from the segments, not read from the stack).
struct Reached {
    Conn c;
    TcpState state = TcpState::closed;
    uint32_t snd_una = 0;  // the stack's SND.UNA
    uint32_t snd_max = 0;  // the stack's SND.NXT (its FIN counted once sent)
    uint32_t rcv_nxt = 0;  // the stack's RCV.NXT (the peer's FIN counted once taken)
    uint32_t wnd = 4096;   // its receive window (SO_RCVBUF 4096, no scaling)
    uint32_t max_snd_wnd = 65535;
};

Reached reach(TcpHarness& h, Synced st) {
    Reached r;
    r.c = h.establish_passive(PeerOptions{}, ListenOptions{.rcvbuf = 4096});
    Conn& c = r.c;
    const uint32_t s = c.rcv_nxt;  // the stack's next sequence number
    const uint32_t p = c.snd_nxt;  // the peer's
    auto stack_fin = [&](uint32_t ack) {
        EXPECT_EQ(quasi::shutdown(h.stack, c.fd, kShutWr), 0);
        h.expect_segment(c, kFin | kAck, s, ack);
    };
    auto peer_fin = [&](uint32_t expect_seq) {
        h.send(h.seg(c, kFin | kAck));
        c.snd_nxt = p + 1;
        h.expect_segment(c, kAck, expect_seq, p + 1);
    };
    switch (st) {
    case Synced::established:
        r = Reached{c, TcpState::established, s, s, p};
        break;
    case Synced::fin_wait_1:
        stack_fin(p);
        r = Reached{c, TcpState::fin_wait_1, s, s + 1, p};
        break;
    case Synced::fin_wait_2:
        stack_fin(p);
        h.ack(c, 1);
        h.expect_nothing();
        r = Reached{c, TcpState::fin_wait_2, s + 1, s + 1, p};
        break;
    case Synced::close_wait:
        peer_fin(s);
        r = Reached{c, TcpState::close_wait, s, s, p + 1};
        break;
    case Synced::closing:
        stack_fin(p);
        peer_fin(s + 1);  // their FIN does not ACK ours
        r = Reached{c, TcpState::closing, s, s + 1, p + 1};
        break;
    case Synced::last_ack:
        peer_fin(s);
        stack_fin(p + 1);
        r = Reached{c, TcpState::last_ack, s, s + 1, p + 1};
        break;
    }
    EXPECT_EQ(h.state(r.c), r.state);
    TcpSocket* sock = h.socket_of(r.c);
    EXPECT_NE(sock, nullptr);
    if (sock) {
        EXPECT_EQ(sock->receive_window(), r.wnd);  // what the SYN-ACK announced
        EXPECT_EQ(sock->max_snd_wnd, r.max_snd_wnd);
    }
    h.expect_nothing();
    return r;
}

class Rfc5961 : public ::testing::TestWithParam<Synced> {
protected:
    void SetUp() override { r = reach(h, GetParam()); }

    // A segment at the stack's RCV.NXT (seq) that ACKs what the peer has ACKed so far.
    Seg at(uint32_t seq, uint8_t flags) {
        Seg s = h.seg(r.c, flags);
        s.seq = seq;
        return s;
    }
    void expect_challenge_ack() { h.expect_segment(kAck, r.snd_max, r.rcv_nxt); }

    // Same state, and a keepalive-style probe below the window still gets its ACK.
    void expect_alive() {
        SCOPED_TRACE("expect_alive");
        EXPECT_EQ(h.state(r.c), r.state);
        h.send(at(r.rcv_nxt - 1, kAck));
        h.expect_segment(kAck, r.snd_max, r.rcv_nxt);
        h.expect_nothing();
    }

    TcpHarness h;
    Reached r;
};

// RFC 5961 3.2: a RST exactly at RCV.NXT resets the connection.
TEST_P(Rfc5961, RstAtRcvNxtResets) {
    Stats before = h.stats();
    h.send(at(r.rcv_nxt, kRst | kAck));
    h.expect_nothing();
    h.expect_drops(before, {});
    EXPECT_EQ(h.state(r.c), TcpState::closed);
    EXPECT_EQ(h.delta(before, Counter::tcp_resets_rx), 1u);
    // RFC 9293 3.10.7.4 second: the user hears "connection reset" unless it has
    // already closed its side and waits only for the peer (CLOSING, LAST-ACK).
    bool reported = r.state != TcpState::closing && r.state != TcpState::last_ack;
    EXPECT_EQ(h.so_error(r.c.fd), reported ? ECONNRESET : 0);
}

// RFC 5961 3.2: a RST in the window but not at RCV.NXT gets a challenge ACK; the
// connection survives. Left edge + 1 and right edge - 1.
TEST_P(Rfc5961, RstInsideTheWindowGetsChallengeAck) {
    for (uint32_t seq : {r.rcv_nxt + 1, r.rcv_nxt + r.wnd - 1}) {
        SCOPED_TRACE(seq - r.rcv_nxt);
        Stats before = h.stats();
        h.send(at(seq, kRst | kAck));
        expect_challenge_ack();
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_challenged, 1}});
        EXPECT_EQ(h.delta(before, Counter::tcp_challenge_acks), 1u);
        EXPECT_EQ(h.delta(before, Counter::tcp_resets_rx), 0u);
        EXPECT_EQ(h.state(r.c), r.state);
    }
    expect_alive();
}

// A RST without the ACK bit is judged the same way.
TEST_P(Rfc5961, BareRstInsideTheWindowGetsChallengeAck) {
    Stats before = h.stats();
    h.send(at(r.rcv_nxt + 100, kRst));
    expect_challenge_ack();
    h.expect_drops(before, {{Drop::tcp_challenged, 1}});
    expect_alive();
}

// RFC 5961 3.2 / RFC 9293 3.10.7.4 first: a RST outside the window is dropped
// silently (never an ACK for a RST). At the right edge, below the left edge, far away.
TEST_P(Rfc5961, RstOutsideTheWindowDroppedSilently) {
    for (uint32_t seq : {r.rcv_nxt + r.wnd, r.rcv_nxt - 1, r.rcv_nxt + 1'000'000}) {
        SCOPED_TRACE(seq - r.rcv_nxt);
        Stats before = h.stats();
        h.send(at(seq, kRst | kAck));
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_out_of_window, 1}});
        EXPECT_EQ(h.state(r.c), r.state);
    }
    expect_alive();
}

// RFC 5961 4.2: a SYN in a synchronized state gets a challenge ACK, whatever its
// sequence number; the connection survives. Left edge and right edge - 1.
TEST_P(Rfc5961, SynInsideTheWindowGetsChallengeAck) {
    for (uint32_t seq : {r.rcv_nxt, r.rcv_nxt + r.wnd - 1}) {
        SCOPED_TRACE(seq - r.rcv_nxt);
        Stats before = h.stats();
        Seg s = at(seq, kSyn);
        h.send(s);
        expect_challenge_ack();
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_challenged, 1}});
        EXPECT_EQ(h.delta(before, Counter::tcp_challenge_acks), 1u);
        EXPECT_EQ(h.state(r.c), r.state);
    }
    expect_alive();
}

// Outside the window the SYN fails the sequence test first (RFC 9293 3.10.7.4 first):
// dropped with an ACK, which is what RFC 5961 4.2 asks for anyway.
TEST_P(Rfc5961, SynOutsideTheWindowGetsAck) {
    for (uint32_t seq : {r.rcv_nxt + r.wnd, r.rcv_nxt - 10}) {
        SCOPED_TRACE(seq - r.rcv_nxt);
        Stats before = h.stats();
        h.send(at(seq, kSyn));
        h.expect_segment(kAck, r.snd_max, r.rcv_nxt);
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_out_of_window, 1}});
        EXPECT_EQ(h.state(r.c), r.state);
    }
    expect_alive();
}

// RFC 5961 5.2 / RFC 9293 3.10.7.4 fifth: an ACK for data never sent (beyond SND.NXT,
// the right edge) is dropped and answered with an ACK.
TEST_P(Rfc5961, AckBeyondSndNxtDroppedAndAcked) {
    for (uint32_t ack : {r.snd_max + 1, r.snd_max + 100000}) {
        Stats before = h.stats();
        Seg s = at(r.rcv_nxt, kAck);
        s.ack = ack;
        h.send(s);
        h.expect_segment(kAck, r.snd_max, r.rcv_nxt);
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_ack_unsent, 1}});
        EXPECT_EQ(h.state(r.c), r.state);
    }
    expect_alive();
}

// RFC 5961 5.2: an ACK below SND.UNA - MAX.SND.WND (the left edge) is dropped with a
// challenge ACK.
TEST_P(Rfc5961, AckBelowTheLeftEdgeGetsChallengeAck) {
    Stats before = h.stats();
    Seg s = at(r.rcv_nxt, kAck);
    s.ack = r.snd_una - r.max_snd_wnd - 1;
    h.send(s);
    expect_challenge_ack();
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_challenged, 1}});
    EXPECT_EQ(h.delta(before, Counter::tcp_challenge_acks), 1u);
    expect_alive();
}

// Exactly at the left edge the ACK is acceptable: an old duplicate, ignored quietly.
TEST_P(Rfc5961, AckAtTheLeftEdgeAccepted) {
    Stats before = h.stats();
    Seg s = at(r.rcv_nxt, kAck);
    s.ack = r.snd_una - r.max_snd_wnd;
    h.send(s);
    h.expect_nothing();
    h.expect_drops(before, {});
    expect_alive();
}

INSTANTIATE_TEST_SUITE_P(AllSynchronizedStates, Rfc5961,
                         ::testing::Values(Synced::established, Synced::fin_wait_1, Synced::fin_wait_2,
                                           Synced::close_wait, Synced::closing, Synced::last_ack),
                         [](const ::testing::TestParamInfo<Synced>& i) { return synced_name(i.param); });

// RFC 5961 7: challenge ACKs are rate-limited per connection (10 a second here), and
// not by a counter shared between connections (CVE-2016-5696).
TEST(Rfc5961RateLimit, ChallengeAcksAreLimitedPerConnection) {
    TcpHarness h;
    Conn a = h.establish_passive(PeerOptions{}, ListenOptions{.rcvbuf = 4096});
    Conn b = h.establish_passive(PeerOptions{.port = 40001}, {}, a.listener);
    Stats before = h.stats();
    size_t acks = 0;
    for (uint32_t i = 0; i < 100; ++i) {
        Seg rst = h.seg(a, kRst);
        rst.seq = a.snd_nxt + 1 + i;
        h.send(rst);
        while (std::optional<Rx> r = h.next()) {
            EXPECT_EQ(flag_names(r->h.flags), flag_names(kAck));
            EXPECT_EQ(r->h.dst_port, a.opts.port);
            ++acks;
        }
        h.advance(5 * kMillisecond);  // 100 RSTs within half a virtual second
    }
    EXPECT_EQ(acks, 10u);
    h.expect_drops(before, {{Drop::tcp_challenged, 100}});
    EXPECT_EQ(h.delta(before, Counter::tcp_challenge_acks), 10u);
    EXPECT_EQ(h.state(a), TcpState::established);
    // The other connection's challenges are its own.
    Seg rst_b = h.seg(b, kRst);
    rst_b.seq = b.snd_nxt + 5;
    h.send(rst_b);
    h.expect_ack(b);
    // A new second, a new allowance.
    h.advance(kSecond);
    Seg rst = h.seg(a, kRst);
    rst.seq = a.snd_nxt + 7;
    h.send(rst);
    h.expect_ack(a);
    expect_takes_data(h, a);
}

// ================================================================ malformed headers

// A segment shorter than a TCP header, or whose data offset is below 5 or beyond the
// segment: dropped, nothing answered, the connection unchanged.
TEST(TcpBadHeader, DataOffsetBelowFiveOrBeyondTheSegment) {
    TcpHarness h;
    Conn c = h.establish_passive();
    struct Case {
        uint8_t offset;
        size_t payload;
    } cases[] = {{0, 0}, {4, 10}, {4, 0}, {6, 0}, {15, 10}, {15, 39}};
    for (Case k : cases) {
        SCOPED_TRACE(int(k.offset));
        Stats before = h.stats();
        Seg s = h.seg(c, kAck | kPsh, pattern(k.payload));
        s.data_offset = k.offset;
        h.send(s);
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_bad_data_offset, 1}});
        EXPECT_EQ(h.stats()[Counter::tcp_segments_rx], before[Counter::tcp_segments_rx]);
    }
    // Ten bytes of "TCP": shorter than any header.
    Stats before = h.stats();
    Frame f;
    f.protocol = uint8_t(IpProtocol::tcp);
    f.l4 = pattern(10);
    h.inject(f.build());
    h.settle();
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_too_short, 1}});
    EXPECT_EQ(h.state(c), TcpState::established);
    expect_takes_data(h, c);
}

// RFC 9293 3.1 / MUST-7: an option with length 0 or 1, or running past the header, ends
// the parse (no loop) and drops the segment: at a connection and at a listener.
TEST(TcpBadHeader, OptionLengthZeroOneOrPastTheHeader) {
    TcpHarness h;
    Conn c = h.establish_passive();
    const Bytes bad_options[] = {
        {2, 0, 0, 0},        // MSS, length 0
        {8, 1, 0, 0},        // timestamps, length 1
        {0xFE, 0, 0, 0},     // unknown kind, length 0
        {0xFE, 1, 1, 1},     // unknown kind, length 1
        {8, 10, 0, 0},       // timestamps running past the header
        {1, 1, 1, 2},        // a kind in the last byte, its length missing
        {5, 0x22, 0, 0, 0, 0, 0, 0},  // SACK claiming four blocks in eight bytes
        {2, 3, 5, 0},        // MSS with the wrong length
    };
    for (const Bytes& o : bad_options) {
        SCOPED_TRACE(testing::PrintToString(o));
        Stats before = h.stats();
        Seg s = h.seg(c, kAck | kPsh, pattern(20));
        s.raw_options = o;
        h.send(s);
        h.expect_nothing();
        Seg syn = h.syn(PeerOptions{.port = 41000});
        syn.raw_options = o;
        h.send(syn);
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_bad_option, 2}});
    }
    EXPECT_EQ(h.stack.tcp().open_sockets(), 2u);  // listener and connection: no child
    EXPECT_EQ(h.state(c), TcpState::established);
    // An unknown option with a sound length is skipped (RFC 9293 3.2).
    Seg s = h.seg(c, kAck | kPsh, pattern(20, 3));
    s.raw_options = Bytes{0xFE, 4, 9, 9};
    h.send(s);
    c.snd_nxt += 20;
    h.expect_ack(c);
    EXPECT_EQ(h.read_all(c.fd), pattern(20, 3));
    expect_takes_data(h, c);
}

// No flags, SYN+FIN, SYN+RST, Xmas (FIN+PSH+URG) and everything at once: scans and
// attacks, dropped without an answer wherever they go.
TEST(TcpBadHeader, NonsenseFlagCombinationsDropped) {
    TcpHarness h;
    Conn c = h.establish_passive();
    const uint8_t combos[] = {0, kSyn | kFin, kSyn | kRst, kFin | kPsh | kUrg, kFin | kPsh | kUrg | kAck,
                              kSyn | kFin | kRst | kPsh | kAck | kUrg, kSyn | kFin | kAck, kPsh, kUrg | kPsh};
    for (uint8_t f : combos) {
        SCOPED_TRACE(flag_names(f));
        Stats before = h.stats();
        h.send(h.seg(c, f));  // to the connection
        Seg to_listener = h.syn(PeerOptions{.port = 41000});
        to_listener.flags = f;
        h.send(to_listener);
        Seg to_closed = to_listener;
        to_closed.dport = kClosedPort;
        h.send(to_closed);  // not even a RST from a closed port
        h.expect_nothing();
        h.expect_drops(before, {{Drop::tcp_bad_flags, 3}});
    }
    EXPECT_EQ(h.state(c), TcpState::established);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 2u);
    expect_takes_data(h, c);
}

// LAND: a SYN from our own address and port to itself.
TEST(TcpBadHeader, LandDropped) {
    TcpHarness h;
    int l = h.listen_on();
    Stats before = h.stats();
    Seg s = h.syn(PeerOptions{.port = kServerPort});
    s.src = kUs;
    h.send(s);
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_land, 1}});
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
    Conn c = h.establish_passive(PeerOptions{}, {}, l);
    expect_takes_data(h, c);
}

// A SYN to the subnet's broadcast address opens nothing.
TEST(TcpBadHeader, SynToBroadcastDropped) {
    TcpHarness h;
    h.listen_on();
    Stats before = h.stats();
    Seg s = h.syn(PeerOptions{});
    s.dst = kDirected;
    h.send(s);
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_to_broadcast, 1}});
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
}

// A bad TCP checksum: silently dropped, in any state; the good copy then goes through.
TEST(TcpBadHeader, BadChecksumSilentlyDropped) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Stats before = h.stats();
    Seg s = h.seg(c, kAck | kPsh, pattern(30, 5));
    s.bad_checksum = true;
    h.send(s);
    Seg syn = h.syn(PeerOptions{.port = 41000});
    syn.bad_checksum = true;
    h.send(syn);
    Seg rst = h.seg(c, kRst);
    rst.bad_checksum = true;
    h.send(rst);
    Seg closed = h.syn(PeerOptions{}, kClosedPort);
    closed.bad_checksum = true;
    h.send(closed);
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_bad_checksum, 4}});
    EXPECT_EQ(h.stack.tcp().open_sockets(), 2u);
    EXPECT_EQ(h.state(c), TcpState::established);
    s.bad_checksum = false;
    h.send(s);
    c.snd_nxt += 30;
    h.expect_ack(c);
    EXPECT_EQ(h.read_all(c.fd), pattern(30, 5));
}

// ================================================================ options: MSS and window scale

// SACK Panic (CVE-2019-11477/11479): an MSS of 0 or a few bytes is raised to the floor
// (88), so a peer cannot make us cut the stream into tiny segments.
class TcpMssClamp : public ::testing::TestWithParam<uint16_t> {};

TEST_P(TcpMssClamp, TinyMssIsRaisedToTheFloor) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.mss = GetParam()});
    int mss = 0;
    size_t len = sizeof mss;
    ASSERT_EQ(getsockopt(h.stack, c.fd, kIpProtoTcp, kTcpMaxseg, &mss, &len), 0);
    EXPECT_EQ(mss, 88);
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    Bytes d = pattern(880, 1);
    stack_send(h, c, d);
    Bytes got;
    while (std::optional<Rx> r = h.next()) {
        EXPECT_EQ(r->payload.size(), 88u);
        got.insert(got.end(), r->payload.begin(), r->payload.end());
    }
    EXPECT_EQ(got, d);
    h.ack(c, 880);
    h.expect_nothing();
    expect_takes_data(h, c);
}

INSTANTIATE_TEST_SUITE_P(Tiny, TcpMssClamp, ::testing::Values(0, 1, 20, 40, 87));

TEST(TcpMss, ModestMssAboveTheFloorIsHonoured) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.mss = 200});
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    stack_send(h, c, pattern(500));
    Rx r = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    EXPECT_EQ(r.payload.size(), 200u);
}

// RFC 7323 2.3: a shift above 14 is used as 14.
TEST(TcpWindowScale, ShiftAbove14UsedAs14) {
    for (uint8_t shift : {15, 200}) {
        TcpHarness h;
        Conn c = h.establish_passive(PeerOptions{.wscale = shift});
        TcpSocket* s = h.socket_of(c);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(s->snd_wscale, 14);
        c.window = 2;
        h.send(h.seg(c));
        EXPECT_EQ(s->snd_wnd, 2u << 14);
        expect_takes_data(h, c);
    }
}

// ================================================================ SACK from the peer (RFC 2018, RFC 6675)

Conn sack_conn_with_data_in_flight(TcpHarness& h, uint32_t segments, Bytes& data) {
    Conn c = h.establish_passive(PeerOptions{.sack = true});
    data = pattern(segments * 1460, 9);
    stack_send(h, c, data);
    uint32_t got = 0;
    while (std::optional<Rx> r = h.next()) got += static_cast<uint32_t>(r->payload.size());
    EXPECT_EQ(got, data.size());
    return c;
}

// Blocks below SND.UNA, beyond SND.NXT, reversed or empty are ignored: no scoreboard
// entry, no retransmission.
TEST(TcpSackInput, BlocksOutsideTheWindowOrReversedAreIgnored) {
    TcpHarness h;
    Bytes d;
    Conn c = sack_conn_with_data_in_flight(h, 3, d);
    const uint32_t una = c.rcv_nxt;
    const uint32_t nxt = una + 3 * 1460;
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    Stats before = h.stats();
    const SackBlock bad[][2] = {
        {{una - 1000, una}, {nxt, nxt + 1000}},               // below SND.UNA, beyond SND.NXT
        {{una + 2000, una + 1500}, {una + 100, una + 100}},   // reversed, empty
        {{una - 10, una + 10}, {nxt - 10, nxt + 10}},         // straddling either edge
        {{una + 0x80000000u, una + 0x80000010u}, {0, 0}},    // half the sequence space away
    };
    uint16_t window = 60000;
    for (const auto& blocks : bad) {
        Seg a = h.seg(c);
        a.window = window++;  // a window update each time: not duplicate ACKs (RFC 5681 2)
        a.options.sack_count = 2;
        a.options.sacks[0] = blocks[0];
        a.options.sacks[1] = blocks[1];
        h.send(a);
    }
    EXPECT_EQ(s->scoreboard.ranges(), 0u);
    EXPECT_EQ(s->scoreboard.invalid_blocks(), 8u);
    h.expect_nothing();
    EXPECT_EQ(h.delta(before, Counter::tcp_retransmits), 0u);
    EXPECT_EQ(h.delta(before, Counter::tcp_fast_retransmits), 0u);
    h.expect_drops(before, {});
    h.ack(c, 3 * 1460);
    h.expect_nothing();
    expect_takes_data(h, c);
}

// CVE-2019-11478: a peer reporting many tiny disjoint SACK blocks cannot grow the
// scoreboard beyond its cap; the connection still completes.
TEST(TcpSackInput, ManyTinyBlocksAreBounded) {
    TcpHarness h;
    Bytes d;
    Conn c = sack_conn_with_data_in_flight(h, 10, d);
    const uint32_t una = c.rcv_nxt;
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    for (uint32_t k = 0; k < 70; k += 4) {
        Seg a = h.seg(c);
        a.options.sack_count = 4;
        for (uint32_t j = 0; j < 4; ++j) {
            uint32_t left = una + 100 + (k + j) * 200;
            a.options.sacks[j] = SackBlock{left, left + 10};
        }
        h.send(a);
        EXPECT_LE(s->scoreboard.ranges(), SeqRangeSet::kMaxRanges);
    }
    EXPECT_EQ(s->scoreboard.ranges(), SeqRangeSet::kMaxRanges);
    EXPECT_GT(s->scoreboard.full_blocks(), 0u);
    h.rx.clear();  // SACK recovery may retransmit; what matters is that it ends
    h.ack(c, 10 * 1460);
    h.rx.clear();
    h.advance(5 * kSecond, 10 * kMillisecond);
    h.expect_nothing();
    EXPECT_EQ(s->scoreboard.ranges(), 0u);
    EXPECT_EQ(h.state(c), TcpState::established);
    expect_takes_data(h, c);
}

// ================================================================ receive side floods and trimming

// SegmentSmack (CVE-2018-5390): a flood of 1-byte out-of-order segments is held in a
// bounded range table (16 ranges); the rest are dropped and counted; nothing leaks, and
// once the holes are filled the connection completes with every byte right.
TEST(TcpReceive, OutOfOrderFloodIsBounded) {
    TcpHarness h;
    Conn c = h.establish_passive();
    const size_t pool_before = h.pool.available();
    const uint32_t p = c.snd_nxt;
    Bytes d = pattern(201, 4);
    Stats before = h.stats();
    for (uint32_t k = 1; k <= 100; ++k) {
        Seg s = h.seg(c, kAck, Bytes{d[2 * k]});
        s.seq = p + 2 * k;
        h.send(s);
        h.expect_ack(c);  // out-of-order data is ACKed at once (a duplicate ACK)
    }
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->out_of_order.count(), 16u);
    EXPECT_EQ(h.delta(before, Counter::tcp_out_of_order), 16u);
    h.expect_drops(before, {{Drop::tcp_ooo_full, 84}});
    EXPECT_EQ(h.pool.available(), pool_before);  // nothing held per segment
    // The peer retransmits everything in one segment: all of it arrives in order.
    h.send_data(c, d);
    h.expect_ack(c);
    EXPECT_EQ(s->out_of_order.count(), 0u);
    EXPECT_EQ(h.read_all(c.fd), d);
    expect_takes_data(h, c);
}

// Data beyond the right edge of the window is trimmed, not stored.
TEST(TcpReceive, DataBeyondTheRightEdgeIsTrimmed) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{}, ListenOptions{.rcvbuf = 2048});
    Bytes first = pattern(1000, 1), second = pattern(1400, 2);
    h.send_data(c, first, 0);
    h.expect_nothing();  // delayed
    Stats before = h.stats();
    h.send(h.seg(c, kAck | kPsh, second));
    c.snd_nxt += 1048;  // only what fits in 2048
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.window, 0);
    h.expect_drops(before, {});
    Bytes expect = first;
    expect.insert(expect.end(), second.begin(), second.begin() + 1048);
    EXPECT_EQ(h.read_all(c.fd), expect);
    h.expect_ack(c);  // the window update
    // The trimmed tail, sent again, is taken.
    h.send_data(c, Bytes(second.begin() + 1048, second.end()));
    h.expect_ack(c);
    EXPECT_EQ(h.read_all(c.fd), Bytes(second.begin() + 1048, second.end()));
}

// A FIN beyond the window is not taken with the trimmed data: the connection stays
// ESTABLISHED until the FIN really fits.
TEST(TcpReceive, FinBeyondTheRightEdgeIsNotTaken) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{}, ListenOptions{.rcvbuf = 2048});
    Bytes first = pattern(1460, 1), second = pattern(1000, 2);
    h.send_data(c, first, 0);
    h.send(h.seg(c, kAck | kFin | kPsh, second));
    c.snd_nxt += 588;
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.window, 0);
    EXPECT_EQ(h.state(c), TcpState::established);
    Bytes expect = first;
    expect.insert(expect.end(), second.begin(), second.begin() + 588);
    EXPECT_EQ(h.read_all(c.fd), expect);
    h.expect_ack(c);  // window update
    h.send(h.seg(c, kAck | kFin | kPsh, Bytes(second.begin() + 588, second.end())));
    c.snd_nxt += 412 + 1;
    h.expect_ack(c);
    EXPECT_EQ(h.state(c), TcpState::close_wait);
    EXPECT_EQ(h.read_all(c.fd), Bytes(second.begin() + 588, second.end()));
    uint8_t b;
    EXPECT_EQ(quasi::recv(h.stack, c.fd, &b, 1), 0);
}

// ================================================================ the peer's window

// The peer as a receiver: takes the stack's bytes in order (retransmissions and
// overlaps included) and ACKs them, until `want` bytes arrived or `limit` passed.
Bytes receive_stream(TcpHarness& h, Conn& c, size_t want, TimeNs limit) {
    Bytes got;
    for (TimeNs t = 0; got.size() < want && t < limit;) {
        bool progress = false;
        while (std::optional<Rx> r = h.next()) {
            uint32_t end = r->h.seq + static_cast<uint32_t>(r->payload.size());
            if (seq_le(r->h.seq, c.rcv_nxt) && seq_gt(end, c.rcv_nxt)) {
                got.insert(got.end(), r->payload.begin() + (c.rcv_nxt - r->h.seq), r->payload.end());
                c.rcv_nxt = end;
                progress = true;
            }
        }
        if (progress) {
            h.send(h.seg(c));
        } else {
            h.advance(10 * kMillisecond);
            t += 10 * kMillisecond;
        }
    }
    return got;
}

// A peer that shrinks its window below what is in flight (RFC 9293 3.8.6.2.2 says it
// should not, but it may; RFC 1122 4.2.2.16: the sender must be robust): nothing goes
// beyond the new edge, and when the window opens again every byte gets through.
TEST(TcpPeerWindow, ShrinkingWindowIsTolerated) {
    TcpHarness h;
    Conn c = h.establish_passive();
    Bytes d = pattern(6 * 1460, 3);
    stack_send(h, c, Bytes(d.begin(), d.begin() + 3 * 1460));
    for (int i = 0; i < 3; ++i) h.expect_segment(c, i == 2 ? kAck | kPsh : kAck, c.rcv_nxt + i * 1460, c.snd_nxt);
    c.window = 100;  // right edge: SND.UNA + 100, below SND.NXT
    h.ack(c, 1460);
    stack_send(h, c, Bytes(d.begin() + 3 * 1460, d.end()));
    h.expect_nothing();
    h.advance(3 * kSecond, 10 * kMillisecond);
    for (const Rx& r : h.rx)
        EXPECT_TRUE(seq_le(r.h.seq + static_cast<uint32_t>(r.payload.size()), c.rcv_nxt + 100)) << describe(r);
    EXPECT_EQ(h.state(c), TcpState::established);
    c.window = 65535;
    h.send(h.seg(c));
    EXPECT_EQ(receive_stream(h, c, 5 * 1460, 60 * kSecond), Bytes(d.begin() + 1460, d.end()));
    EXPECT_EQ(h.state(c), TcpState::established);
}

// The window shrinks to zero under data in flight and stays shut while the peer answers:
// the stack probes it (RFC 1122 4.2.2.16-17: probe in the standard way, stay open while
// the receiver answers) rather than retransmitting into nothing until it gives up; once
// the window opens the data goes again.
TEST(TcpPeerWindow, ShrunkToZeroUnderDataInFlightIsProbedNotTimedOut) {
    Stack::Config cfg = tcp_stack_config();
    cfg.tcp.max_retransmits = 4;
    TcpHarness h(cfg);
    Conn c = h.establish_passive();
    Bytes d = pattern(2 * 1460, 3);
    stack_send(h, c, d);
    h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 1460, c.snd_nxt);
    c.window = 0;
    h.send(h.seg(c));  // nothing new ACKed, window shut
    for (int i = 0; i < 8; ++i) {
        std::optional<Rx> r = h.wait_segment(200 * kSecond, 10 * kMillisecond);
        ASSERT_TRUE(r.has_value()) << "silence after " << i << " probes";
        ASSERT_FALSE(r->has(kRst)) << "gave up on a peer that answers, after " << i << " probes";
        // A probe below SND.UNA, or old data at SND.UNA (RFC 1122 4.2.2.16 allows it; the
        // probes' answers are duplicate ACKs by RFC 5681's definition).
        EXPECT_TRUE((r->h.seq == c.rcv_nxt - 1 && r->payload.empty()) || r->h.seq == c.rcv_nxt) << describe(*r);
        h.send(h.seg(c));  // answers, still shut
    }
    EXPECT_EQ(h.state(c), TcpState::established);
    c.window = 65535;
    h.send(h.seg(c));
    EXPECT_EQ(receive_stream(h, c, d.size(), 60 * kSecond), d);
}

// A dead peer behind a zero window: unanswered probes end the connection after as many
// tries as retransmissions would (as Linux's tcp_retries2 does for probes).
TEST(TcpPeerWindow, DeadPeerBehindAZeroWindowIsGivenUp) {
    for (bool in_flight : {false, true}) {
        SCOPED_TRACE(in_flight ? "window shrunk under data in flight" : "data queued behind the window");
        Stack::Config cfg = tcp_stack_config();
        cfg.tcp.max_retransmits = 4;
        TcpHarness h(cfg);
        Conn c = h.establish_passive();
        if (in_flight) {
            stack_send(h, c, pattern(100));
            h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
        }
        c.window = 0;
        h.send(h.seg(c));
        if (!in_flight) stack_send(h, c, pattern(100));
        size_t probes = 0;
        std::optional<Rx> r;
        while (probes < 50 && (r = h.wait_segment(200 * kSecond, 10 * kMillisecond)) && !r->has(kRst)) ++probes;
        ASSERT_TRUE(r.has_value());
        EXPECT_TRUE(r->has(kRst)) << "still probing a silent peer after " << probes << " probes";
        EXPECT_EQ(probes, 4u);
        EXPECT_EQ(h.state(c), TcpState::closed);
        EXPECT_EQ(h.so_error(c.fd), ETIMEDOUT);
    }
}

// Data in flight, then the peer shuts its window without taking it (the data was
// lost): its RCV.NXT is our SND.UNA and with a zero window it accepts a zero-length
// segment only there. Our ACKs of its data must carry that sequence number, not
// SND.MAX, or both directions stall (seen against Linux under 0.1% corruption).
TEST(TcpPeerWindow, AcksIntoAShutWindowCarryItsRightEdge) {
    TcpHarness h;
    Conn c = h.establish_passive();
    stack_send(h, c, pattern(1000));
    Rx data = h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    ASSERT_EQ(data.payload.size(), 1000u);
    c.window = 0;  // acknowledges nothing of it
    h.send(h.seg(c, kAck | kPsh, pattern(200, 3)));
    c.snd_nxt += 200;
    Rx ack = h.expect_ack(c);
    EXPECT_EQ(ack.h.seq, c.rcv_nxt) << "SND.MAX is " << c.rcv_nxt + 1000;
    EXPECT_EQ(h.read_all(c.fd), pattern(200, 3));
}

// Sockstress: a peer holds the window at zero for ever, answering every probe. With
// TCP_USER_TIMEOUT (here 5 minutes, beyond the largest probe interval) the connection
// ends that long after the window closed, as Linux does since 2020 (9d9b1ee0b2d1).
TEST(TcpPeerWindow, ZeroWindowHoldEndsAtTheUserTimeout) {
    TcpHarness h;
    Conn c = h.establish_passive();
    set_int(h, c.fd, kIpProtoTcp, kTcpUserTimeout, 300'000);
    c.window = 0;
    h.send(h.seg(c));
    const TimeNs start = h.clock.now();
    stack_send(h, c, pattern(100));
    bool reset = false;
    while (!reset && h.clock.now() - start < 1000 * kSecond) {
        std::optional<Rx> r = h.wait_segment(200 * kSecond, 100 * kMillisecond);
        if (!r) break;
        reset = r->has(kRst);
        if (!reset) h.send(h.seg(c));  // the probe is answered, the window still zero
    }
    EXPECT_TRUE(reset) << "the zero window held the connection for " << (h.clock.now() - start) / kSecond
                       << " s against a 300 s user timeout";
    EXPECT_LE(h.clock.now() - start, (300 + 120) * kSecond);
    EXPECT_EQ(h.state(c), TcpState::closed);
}

// ================================================================ timestamps (RFC 7323)

// PAWS (5.3): a segment whose TSval is older than TS.Recent is an old duplicate:
// dropped (its data not taken) and answered with an ACK.
TEST(TcpPaws, OldTsvalDroppedAndAcked) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.ts = true});
    h.advance(100 * kMillisecond);
    h.send_data(c, pattern(20, 1));
    Rx a = h.expect_ack(c);
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    const uint32_t recent = s->ts_recent;
    EXPECT_EQ(a.h.options.ts_ecr, recent);
    EXPECT_EQ(h.read_all(c.fd), pattern(20, 1));
    Stats before = h.stats();
    Seg old = h.seg(c, kAck | kPsh, pattern(20, 2));
    old.options.ts_val = recent - 1;
    h.send(old);
    Rx b = h.expect_ack(c);
    EXPECT_EQ(b.h.options.ts_ecr, recent);
    h.expect_drops(before, {{Drop::tcp_paws, 1}});
    EXPECT_EQ(h.read_all(c.fd), Bytes{});
    EXPECT_EQ(s->ts_recent, recent);
    // A RST is not subject to PAWS (RFC 7323 5.3 R1): an in-window one is challenged.
    Seg rst = h.seg(c, kRst);
    rst.options.ts_val = recent - 100;
    rst.seq = c.snd_nxt + 1;
    h.send(rst);
    h.expect_ack(c);
    expect_takes_data(h, c);
}

// TS.Recent is only taken from segments inside the window (RFC 7323 4.3): a forged
// out-of-window segment with a huge TSval must not poison it, or every real segment
// would then fail PAWS.
TEST(TcpPaws, TsRecentUpdatedOnlyFromInWindowSegments) {
    TcpHarness h;
    Conn c = h.establish_passive(PeerOptions{.ts = true});
    TcpSocket* s = h.socket_of(c);
    ASSERT_NE(s, nullptr);
    const uint32_t recent = s->ts_recent;
    Stats before = h.stats();
    Seg forged = h.seg(c, kAck | kPsh, pattern(20));
    forged.seq = c.snd_nxt + 1'000'000;
    forged.options.ts_val = recent + 1'000'000;
    h.send(forged);
    Rx a = h.expect_ack(c);
    EXPECT_EQ(a.h.options.ts_ecr, recent);
    h.expect_drops(before, {{Drop::tcp_out_of_window, 1}});
    EXPECT_EQ(s->ts_recent, recent);
    h.advance(10 * kMillisecond);
    h.send_data(c, pattern(30, 6));
    Rx b = h.expect_ack(c);
    EXPECT_EQ(b.h.options.ts_ecr, h.peer_tsval(c));
    EXPECT_EQ(h.read_all(c.fd), pattern(30, 6));
}

// ================================================================ TIME-WAIT

// RFC 1337: a RST in TIME-WAIT is ignored (TIME-WAIT assassination).
TEST(TcpTimeWaitInput, RstIgnored) {
    TcpHarness h;
    Conn c = h.establish_passive();
    h.close_into_time_wait(c);
    Stats before = h.stats();
    h.send(h.seg(c, kRst));
    h.send(h.seg(c, kRst | kAck));
    h.expect_nothing();
    h.expect_drops(before, {{Drop::tcp_rst_in_time_wait, 2}});
    EXPECT_EQ(h.state(c), TcpState::time_wait);
    EXPECT_EQ(h.delta(before, Counter::tcp_resets_rx), 0u);
}

// ================================================================ listeners: SYN floods and cookies (RFC 4987)

// A SYN flood on a small backlog: the SYN queue stays at its bound (2 * backlog) and the
// rest are answered with cookies, no state kept; the half-open children time out and
// the listener still serves.
TEST(TcpSynFlood, SmallBacklogStaysBounded) {
    TcpHarness h;
    int l = h.listen_on(ListenOptions{.backlog = 4});
    Stats before = h.stats();
    for (uint16_t i = 0; i < 500; ++i) {
        Seg s = h.syn(PeerOptions{.iss = 1000u * i, .port = static_cast<uint16_t>(20000 + i)});
        h.send(s);
        h.expect_segment(kSyn | kAck, std::nullopt, 1000u * i + 1);
    }
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u + 8u);
    EXPECT_EQ(h.delta(before, Counter::tcp_passive_opens), 8u);
    EXPECT_EQ(h.delta(before, Counter::tcp_syn_cookies_sent), 492u);
    h.expect_drops(before, {});
    h.advance(200 * kSecond, 100 * kMillisecond);
    h.rx.clear();  // SYN-ACK retransmissions
    EXPECT_EQ(h.stack.tcp().open_sockets(), 1u);
    Conn c = h.establish_passive(PeerOptions{}, {}, l);
    expect_takes_data(h, c);
}

TEST(TcpSynFlood, WithoutCookiesExtraSynsAreDropped) {
    Stack::Config cfg = tcp_stack_config();
    cfg.tcp.syn_cookies = false;
    TcpHarness h(cfg);
    h.listen_on(ListenOptions{.backlog = 4});
    Stats before = h.stats();
    for (uint16_t i = 0; i < 50; ++i) h.send(h.syn(PeerOptions{.port = static_cast<uint16_t>(20000 + i)}));
    size_t answers = 0;
    while (h.next()) ++answers;
    EXPECT_EQ(answers, 8u);
    h.expect_drops(before, {{Drop::tcp_syn_queue_full, 42}});
    EXPECT_EQ(h.stack.tcp().open_sockets(), 9u);
}

// An ACK to a listener that no cookie of ours explains (a forged cookie, or a stray
// ACK) gets a RST (RFC 9293 3.10.7.2), and opens nothing.
TEST(TcpSynFlood, ForgedCookieAckGetsRst) {
    TcpHarness h;
    h.listen_on(ListenOptions{.backlog = 1});
    for (uint16_t port : {50001, 50002}) {
        h.send(h.syn(PeerOptions{.port = port}));
        h.expect_segment(kSyn | kAck, std::nullopt, kPeerIss + 1);
    }
    PeerOptions o{.port = 50003};
    h.send(h.syn(o));
    Rx sa = h.expect_segment(kSyn | kAck, std::nullopt, o.iss + 1);  // a cookie
    Stats before = h.stats();
    for (uint32_t forged : {sa.h.seq + 1, sa.h.seq ^ 0x00010000u, 0x12345678u}) {
        Seg a;
        a.sport = o.port;
        a.seq = o.iss + 1;
        a.ack = forged + 1;
        h.send(a);
        h.expect_segment(kRst, forged + 1, 0);
    }
    // The right cookie but from another port (the MAC binds the 4-tuple).
    Seg other;
    other.sport = 50004;
    other.seq = o.iss + 1;
    other.ack = sa.h.seq + 1;
    h.send(other);
    h.expect_segment(kRst, sa.h.seq + 1, 0);
    h.expect_drops(before, {{Drop::tcp_ack_to_listener, 4}});
    EXPECT_EQ(h.delta(before, Counter::tcp_syn_cookies_accepted), 0u);
    EXPECT_EQ(h.stack.tcp().open_sockets(), 3u);
}

// ================================================================ ICMP errors about our segments

Bytes quoted_tcp(const Conn& c, uint32_t seq) {
    Seg q;
    q.src = kUs;
    q.dst = kPeer;
    q.sport = c.stack_port;
    q.dport = c.opts.port;
    q.seq = seq;
    q.ack = c.snd_nxt;
    Bytes f = q.frame();
    return Bytes(f.begin() + kEthernetHeaderLen, f.begin() + kEthernetHeaderLen + 28);
}

Bytes frag_needed(const Conn& c, uint32_t seq, uint16_t mtu) {
    Frame f = icmp(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::frag_needed), mtu, quoted_tcp(c, seq));
    return f.build();
}

// RFC 5927 4.1: an error quoting a sequence number not in flight is not believed.
TEST(TcpIcmp, FragNeededForSequenceNotInFlightIgnored) {
    TcpHarness h;
    Conn c = h.establish_passive();
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    stack_send(h, c, pattern(1000));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    Stats before = h.stats();
    for (uint32_t seq : {c.rcv_nxt - 1, c.rcv_nxt + 1001, c.rcv_nxt + 0x40000000u}) {
        h.inject(frag_needed(c, seq, 576));
        h.settle();
    }
    h.expect_nothing();
    h.expect_drops(before, {{Drop::icmp_bad_embedded, 3}});
    EXPECT_EQ(h.socket_of(c)->snd_mss, 1460);
    EXPECT_EQ(h.delta(before, Counter::tcp_mss_lowered), 0u);
    // Nor does it lower the path MTU other traffic to the peer uses.
    EXPECT_EQ(h.stack.path_mtu().get(kPeer, 1500, h.clock.now()), 1500);
    EXPECT_EQ(h.delta(before, Counter::pmtu_updates), 0u);
}

// RFC 1122 4.2.2.6: an interface MTU lowered after the handshake lowers the send MSS
// before the next segment is cut: no frame larger than the new MTU leaves.
TEST(TcpIcmp, InterfaceMtuLoweredLowersTheMss) {
    TcpHarness h;
    Conn c = h.establish_passive();
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    EXPECT_EQ(h.socket_of(c)->snd_mss, 1460);
    Stats before = h.stats();
    h.stack.interface(0)->mtu.guarded_write(576);
    Bytes d = pattern(1000, 8);
    stack_send(h, c, d);
    Rx r1 = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    Rx r2 = h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 536, c.snd_nxt);
    EXPECT_EQ(h.socket_of(c)->snd_mss, 536);
    EXPECT_EQ(h.delta(before, Counter::tcp_mss_lowered), 1u);
    EXPECT_EQ(r1.payload, Bytes(d.begin(), d.begin() + 536));
    EXPECT_EQ(r2.payload, Bytes(d.begin() + 536, d.end()));
    EXPECT_LE(r1.ip_len, 576u);
    h.expect_drops(before, {});
}

// RFC 1191: an error about data in flight lowers the MSS and what was lost is sent
// again, cut to the new size.
TEST(TcpIcmp, FragNeededInFlightLowersTheMss) {
    TcpHarness h;
    Conn c = h.establish_passive();
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    Bytes d = pattern(1000, 8);
    stack_send(h, c, d);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    Stats before = h.stats();
    h.inject(frag_needed(c, c.rcv_nxt, 576));
    h.settle();
    EXPECT_EQ(h.socket_of(c)->snd_mss, 536);
    EXPECT_EQ(h.delta(before, Counter::tcp_mss_lowered), 1u);
    Rx r1 = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    Rx r2 = h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 536, c.snd_nxt);
    EXPECT_EQ(r1.payload, Bytes(d.begin(), d.begin() + 536));
    EXPECT_EQ(r2.payload, Bytes(d.begin() + 536, d.end()));
    EXPECT_LE(r1.ip_len, 576u);
    h.expect_drops(before, {});
    h.ack(c, 1000);
    // A later report of a larger MTU does not raise it (RFC 1191 6.3).
    stack_send(h, c, pattern(10));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    h.inject(frag_needed(c, c.rcv_nxt, 1400));
    h.settle();
    EXPECT_EQ(h.socket_of(c)->snd_mss, 536);
}

// RFC 1191 6.3: the path MTU is never raised by ICMP. Lowered to 1000 by an error
// about data in flight, a later report of 1400 about data in flight changes neither
// the path MTU (nor its version, which specialized handles watch) nor the MSS.
TEST(TcpIcmp, LaterLargerReportDoesNotRaiseThePathMtu) {
    TcpHarness h;
    Conn c = h.establish_passive();
    set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
    stack_send(h, c, pattern(1200, 5));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    Stats before = h.stats();
    h.inject(frag_needed(c, c.rcv_nxt, 1000));
    h.settle();
    ASSERT_EQ(h.stack.path_mtu().get(kPeer, 1500, h.clock.now()), 1000);
    ASSERT_EQ(h.socket_of(c)->snd_mss, 960);
    const uint64_t version = h.stack.path_mtu().version;
    Rx r1 = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt + 960, c.snd_nxt);
    EXPECT_LE(r1.ip_len, 1000u);
    h.inject(frag_needed(c, c.rcv_nxt, 1400));
    h.settle();
    EXPECT_EQ(h.stack.path_mtu().get(kPeer, 1500, h.clock.now()), 1000);
    EXPECT_EQ(uint64_t(h.stack.path_mtu().version), version);
    EXPECT_EQ(h.delta(before, Counter::pmtu_updates), 1u);
    EXPECT_EQ(h.socket_of(c)->snd_mss, 960);
    h.expect_nothing();
    h.expect_drops(before, {});
}

// An absurd MTU is clamped: the MSS never drops below the floor (88).
TEST(TcpIcmp, AbsurdMtuIsClamped) {
    for (uint16_t mtu : {0, 1, 20, 68, 100}) {
        SCOPED_TRACE(mtu);
        TcpHarness h;
        Conn c = h.establish_passive();
        set_int(h, c.fd, kIpProtoTcp, kTcpNodelay, 1);
        stack_send(h, c, pattern(300));
        h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
        h.inject(frag_needed(c, c.rcv_nxt, mtu));
        h.settle();
        EXPECT_EQ(h.socket_of(c)->snd_mss, 88);
        Rx r = h.expect_segment(c, kAck, c.rcv_nxt, c.snd_nxt);
        EXPECT_EQ(r.payload.size(), 88u);
        h.rx.clear();
        h.ack(c, 300);
        h.rx.clear();
        expect_takes_data(h, c);
    }
}

// RFC 1122 4.2.3.9: soft errors (net/host unreachable, and any error on an established
// connection) do not abort.
TEST(TcpIcmp, SoftErrorsDoNotAbort) {
    TcpHarness h;
    Conn c = h.establish_passive();
    stack_send(h, c, pattern(100));
    h.expect_segment(c, kAck | kPsh, c.rcv_nxt, c.snd_nxt);
    for (uint8_t code : {uint8_t(IcmpUnreachCode::net), uint8_t(IcmpUnreachCode::host),
                         uint8_t(IcmpUnreachCode::port), uint8_t(IcmpUnreachCode::protocol)}) {
        Frame f = icmp(uint8_t(IcmpType::dest_unreachable), code, 0, quoted_tcp(c, c.rcv_nxt));
        h.inject(f.build());
        h.settle();
        EXPECT_EQ(h.state(c), TcpState::established) << int(code);
    }
    h.expect_nothing();
    h.ack(c, 100);
    expect_takes_data(h, c);
}

// ================================================================ predictability (RFC 6528, RFC 6056, RFC 7739)

// ISNs are keyed per 4-tuple (RFC 6528): SYN-ACKs to neighbouring ports do not step by
// a constant, and spread over the sequence space.
TEST(TcpPredictability, IsnsAreNotSequential) {
    TcpHarness h;
    h.listen_on(ListenOptions{.backlog = 64});
    std::vector<uint32_t> isns;
    for (uint16_t i = 0; i < 16; ++i) {
        h.send(h.syn(PeerOptions{.port = static_cast<uint16_t>(30000 + i)}));
        isns.push_back(h.expect_segment(kSyn | kAck, std::nullopt, kPeerIss + 1).h.seq);
    }
    std::set<uint32_t> steps;
    uint32_t lo = isns[0], hi = isns[0];
    for (size_t i = 1; i < isns.size(); ++i) {
        steps.insert(isns[i] - isns[i - 1]);
        lo = std::min(lo, isns[i]);
        hi = std::max(hi, isns[i]);
    }
    EXPECT_GT(steps.size(), 10u);
    EXPECT_GT(hi - lo, 1u << 28);
}

// Ephemeral ports are not handed out in sequence (RFC 6056), and IP IDs come from
// per-destination counters, not one global counter (RFC 7739).
TEST(TcpPredictability, EphemeralPortsAndIpIdsDoNotLeakASequence) {
    TcpHarness h;
    std::vector<uint16_t> ports;
    for (int i = 0; i < 8; ++i) {
        int fd = quasi::socket(h.stack, kAfInet, kSockStream);
        ASSERT_EQ(quasi::connect(h.stack, fd, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
        ports.push_back(h.expect_segment(kSyn, std::nullopt, 0).h.src_port);
    }
    int sequential = 0;
    for (size_t i = 1; i < ports.size(); ++i) sequential += ports[i] == ports[i - 1] + 1;
    EXPECT_LT(sequential, 3);
    // SYNs to two destinations, interleaved.
    constexpr Ipv4Addr kOther = Ipv4Addr::from_octets(198, 18, 0, 3);
    std::vector<uint16_t> to_peer, to_other;
    for (int i = 0; i < 4; ++i) {
        int a = quasi::socket(h.stack, kAfInet, kSockStream);
        ASSERT_EQ(quasi::connect(h.stack, a, SockAddr{kPeer, kPeerPort}), -EINPROGRESS);
        to_peer.push_back(h.expect_segment(kSyn, std::nullopt, 0).ip_ident);
        int b = quasi::socket(h.stack, kAfInet, kSockStream);
        ASSERT_EQ(quasi::connect(h.stack, b, SockAddr{kOther, kPeerPort}), -EINPROGRESS);
        std::optional<Rx> r = h.next();
        ASSERT_TRUE(r.has_value());
        to_other.push_back(r->ip_ident);
    }
    int shared = 0;
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(to_peer[i], uint16_t(to_peer[0] + i));  // per destination, a counter
        shared += to_other[i] == uint16_t(to_peer[i] + 1);
    }
    EXPECT_LT(shared, 4) << "one counter for both destinations";
}

}  // namespace
}  // namespace quasi::test
