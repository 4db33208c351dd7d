// Recycled TCP sockets (TcpLayer::recycle_socket): a closed socket kept constructed for
// the next connection must carry nothing from its previous life. Its every field is
// compared with a socket built fresh by a stack that never had a connection.
#include "stack_pair.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace quasi::test {
namespace {

// Everything a TcpSocket holds, through its public view: the plain state as a whole
// (TcpConnectionState's member-wise ==), then each member with a life of its own.
void expect_same_as_fresh(const TcpSocket& s, const TcpSocket& fresh, const TcpLayer* owner) {
    EXPECT_TRUE(static_cast<const TcpConnectionState&>(s) == static_cast<const TcpConnectionState&>(fresh))
        << "a plain field kept its value from the last connection";
    EXPECT_EQ(s.local_addr.get(), fresh.local_addr.get());
    EXPECT_EQ(s.local_port.get(), fresh.local_port.get());
    EXPECT_EQ(s.remote_addr.get(), fresh.remote_addr.get());
    EXPECT_EQ(s.remote_port.get(), fresh.remote_port.get());
    EXPECT_EQ(s.snd_mss.get(), fresh.snd_mss.get());
    EXPECT_EQ(s.ttl.get(), fresh.ttl.get());
    EXPECT_EQ(s.tos.get(), fresh.tos.get());
    EXPECT_EQ(s.nodelay.get(), fresh.nodelay.get());
    for (const InvariantBase* v : {static_cast<const InvariantBase*>(&s.local_addr), static_cast<const InvariantBase*>(&s.local_port),
                                   static_cast<const InvariantBase*>(&s.remote_addr), static_cast<const InvariantBase*>(&s.remote_port),
                                   static_cast<const InvariantBase*>(&s.snd_mss), static_cast<const InvariantBase*>(&s.ttl),
                                   static_cast<const InvariantBase*>(&s.tos), static_cast<const InvariantBase*>(&s.nodelay)})
        EXPECT_FALSE(v->watched());
    EXPECT_EQ(s.owner, owner);
    for (auto ring : {&TcpSocket::send_buffer, &TcpSocket::receive_buffer}) {
        EXPECT_EQ((s.*ring).capacity(), (fresh.*ring).capacity());
        EXPECT_EQ((s.*ring).allocated(), (fresh.*ring).allocated());
        EXPECT_EQ((s.*ring).size(), (fresh.*ring).size());
    }
    EXPECT_EQ(s.out_of_order.count(), fresh.out_of_order.count());
    EXPECT_EQ(s.out_of_order.max_ranges(), fresh.out_of_order.max_ranges());
    EXPECT_EQ(s.scoreboard.ranges(), fresh.scoreboard.ranges());
    EXPECT_EQ(s.scoreboard.dup_thresh(), fresh.scoreboard.dup_thresh());
    EXPECT_EQ(s.scoreboard.invalid_blocks(), fresh.scoreboard.invalid_blocks());
    EXPECT_EQ(s.scoreboard.full_blocks(), fresh.scoreboard.full_blocks());
    EXPECT_EQ(s.retransmit_log.size(), fresh.retransmit_log.size());
    EXPECT_EQ(s.send_times.capacity(), fresh.send_times.capacity());
    EXPECT_EQ(s.send_times.size(), fresh.send_times.size());
    const Timer TcpSocket::*timers[] = {&TcpSocket::retransmit_timer, &TcpSocket::delayed_ack_timer,
                                        &TcpSocket::keepalive_timer, &TcpSocket::time_wait_timer,
                                        &TcpSocket::linger_timer};
    for (auto timer : timers) {
        EXPECT_FALSE((s.*timer).armed());
        EXPECT_EQ((s.*timer).callback, (fresh.*timer).callback);
        // A timer's context is its own socket (or nothing, as the linger timer's until close).
        EXPECT_EQ((s.*timer).context == &s, (fresh.*timer).context == &fresh);
    }
    EXPECT_FALSE(s.listen_hook.is_linked());
    EXPECT_FALSE(s.is_linked());
}

// A connection with data both ways, options set and unread data left, closed
// abortively (SO_LINGER 0: straight to CLOSED, the socket freed at once).
TcpSocket* used_and_closed(StackPair& p) {
    int l = socket(p.b, kAfInet, kSockStream);
    EXPECT_EQ(bind(p.b, l, SockAddr{Ipv4Addr{}, 80}), 0);
    EXPECT_EQ(listen(p.b, l, 8), 0);
    int c = socket(p.a, kAfInet, kSockStream);
    int one = 1, ttl = 9, tos = 0x10;
    EXPECT_EQ(setsockopt(p.a, c, kIpProtoTcp, kTcpNodelay, &one, sizeof one), 0);
    EXPECT_EQ(setsockopt(p.a, c, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    EXPECT_EQ(setsockopt(p.a, c, kIpProtoIp, kIpTos, &tos, sizeof tos), 0);
    EXPECT_EQ(setsockopt(p.a, c, kSolSocket, kSoKeepalive, &one, sizeof one), 0);
    EXPECT_EQ(connect(p.a, c, SockAddr{StackPair::addr_b, 80}), -EINPROGRESS);
    p.pump();
    int served = accept(p.b, l, nullptr);
    EXPECT_GE(served, 0);
    uint8_t data[3000] = {};
    EXPECT_EQ(send(p.a, c, data, sizeof data), ssize_t(sizeof data));
    EXPECT_EQ(send(p.b, served, data, 100), 100);
    p.pump();
    uint8_t out[10];
    EXPECT_EQ(recv(p.b, served, out, sizeof out), ssize_t(sizeof out));  // the rest left unread

    SockAddr local{};
    EXPECT_EQ(getsockname(p.a, c, &local), 0);
    TcpSocket* s = p.a.tcp().find(TcpTuple{StackPair::addr_a, local.port, StackPair::addr_b, 80});
    EXPECT_NE(s, nullptr);
    if (!s) return nullptr;
    EXPECT_EQ(s->state, TcpState::established);
    Linger abort{.onoff = 1, .seconds = 0};
    EXPECT_EQ(setsockopt(p.a, c, kSolSocket, kSoLinger, &abort, sizeof abort), 0);
    EXPECT_EQ(close(p.a, c), 0);
    // Freed, not yet reaped: give every member a state no fresh socket has.
    TcpConnectionState garbage;
    std::memset(static_cast<void*>(&garbage), 0xA5, sizeof garbage);
    for (bool* b : {&garbage.in_use, &garbage.wscale_ok, &garbage.sack_ok, &garbage.ts_ok, &garbage.fin_queued,
                    &garbage.fin_sent, &garbage.fin_received, &garbage.fin_out_of_order, &garbage.read_shutdown,
                    &garbage.in_recovery, &garbage.rto_recovery, &garbage.undo_armed, &garbage.rtt_timing,
                    &garbage.persist_mode, &garbage.ack_now, &garbage.keepalive, &garbage.linger,
                    &garbage.in_accept_queue, &garbage.was_connected, &garbage.route_cache.broadcast,
                    &garbage.route_cache.resolved})
        *b = true;
    garbage.state = TcpState::fin_wait_2;
    garbage.timer_use = TcpTimerUse::reorder;
    static_cast<TcpConnectionState&>(*s) = garbage;
    s->snd_mss.guarded_write(1000);
    s->out_of_order.insert(5000, 6000);
    s->out_of_order.insert(7000, 8000);
    SackBlock block{s->snd_una + 10, s->snd_una + 20};
    s->scoreboard.update(&block, 1, s->snd_una, s->snd_una + 100);
    s->scoreboard.set_dup_thresh(9);
    s->retransmit_log.add(1, 2, 3, 4);
    EXPECT_TRUE(s->send_buffer.init(4096));
    EXPECT_EQ(s->send_buffer.append(data, 100), 100u);
    s->linger_timer.callback = [](Timer&, TimeNs) {};
    s->linger_timer.context = s;
    return s;
}

TEST(TcpRecycle, RecycledSocketEqualsAFreshOne) {
    StackPair p;
    TcpSocket* used = used_and_closed(p);
    ASSERT_NE(used, nullptr);
    p.a.poll();  // reaps it into the recycled list
    ASSERT_EQ(p.a.tcp().recycled_sockets(), 1u);

    StackPair never_used(1500, 7);
    TcpSocket* fresh = never_used.a.tcp().open();
    ASSERT_NE(fresh, nullptr);
    EXPECT_EQ(never_used.a.tcp().recycled_sockets(), 0u);
    TcpSocket* again = p.a.tcp().open();
    ASSERT_EQ(again, used) << "the socket was not recycled";
    EXPECT_EQ(p.a.tcp().recycled_sockets(), 0u);
    expect_same_as_fresh(*again, *fresh, &p.a.tcp());
    p.a.tcp().close(*again);
    never_used.a.tcp().close(*fresh);
}

// The recycled socket serves the next connection, and once churn stops housekeeping
// gives the unused ones back to the slab.
TEST(TcpRecycle, NextConnectionWorksAndIdleCacheIsTrimmed) {
    StackPair p;
    ASSERT_NE(used_and_closed(p), nullptr);
    p.a.poll();
    ASSERT_EQ(p.a.tcp().recycled_sockets(), 1u);
    int c = socket(p.a, kAfInet, kSockStream);
    EXPECT_EQ(p.a.tcp().recycled_sockets(), 0u);
    ASSERT_EQ(connect(p.a, c, SockAddr{StackPair::addr_b, 80}), -EINPROGRESS);
    p.pump();
    EXPECT_EQ(send(p.a, c, "ping", 4), 4);
    p.pump();
    int l = 0;  // the listener of used_and_closed is the first descriptor of b
    int served = accept(p.b, l, nullptr);
    ASSERT_GE(served, 0);
    char in[8] = {};
    EXPECT_EQ(recv(p.b, served, in, sizeof in), 4);
    EXPECT_EQ(std::memcmp(in, "ping", 4), 0);
    EXPECT_EQ(close(p.a, c), 0);
    EXPECT_EQ(close(p.b, served), 0);
    p.pump();
    EXPECT_GT(p.a.tcp().recycled_sockets() + p.b.tcp().recycled_sockets(), 0u);
    p.run_for(500 * kMillisecond, 50 * kMillisecond);  // several housekeeping passes
    EXPECT_EQ(p.a.tcp().recycled_sockets(), 0u);
    EXPECT_EQ(p.b.tcp().recycled_sockets(), 0u);
}

}  // namespace
}  // namespace quasi::test
