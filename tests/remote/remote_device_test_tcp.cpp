// Remote TCP send handles (jit/remote/device/) against the in-test server of
// device_world.hpp: the code (a trampoline into tcp_send_frozen, the path the
// server compiles) installed and run from the code buffer, verify mode for TCP
// (the code's segments held back, the sender state rewound, the generic path's
// segments sent instead: each message leaves once), and the guards: a changed
// option, MSS or route sends generic at once and asks again. Every test checks
// the byte stream at the kernel-less peer: every message, in order, once.
#include "stack/tcp.hpp"
#include "stack/wire/icmp_frag_needed.hpp"
#include "tests/remote/device_world.hpp"

#include <gtest/gtest.h>

namespace quasi::remote {
namespace {

using test::DeviceWorld;

constexpr size_t kMessage = 1000;  // one segment at the mem link's MSS

// An ICMP "fragmentation needed" (RFC 1191) from the server, as a router on the
// path would send it, quoting a segment of the device's connection at SND.UNA (in
// flight as far as RFC 5927 is concerned): the device lowers its MSS.
void icmp_frag_needed(DeviceWorld& w, const TcpSocket& s, uint16_t mtu) {
    PacketPtr frame = w.pool.alloc();
    TcpFragNeeded{.dst_mac = w.link.a().mac(), .src_mac = w.link.b().mac(), .router = DeviceWorld::kServer,
                  .src = DeviceWorld::kDevice, .dst = DeviceWorld::kServer, .src_port = s.local_port.get(),
                  .dst_port = s.remote_port.get(), .seq = s.snd_una, .mtu = mtu}
        .emit(frame->append(TcpFragNeeded::kFrameLen));
    w.dev.ethernet_input(*w.dev.interface(0), std::move(frame));
}

struct TcpDevice {
    explicit TcpDevice(ExecRegion& region, uint32_t verify_sends = 4) : w(region, true, verify_sends) {
        fd = w.open_tcp();
        int one = 1;  // a short message goes at once (no Nagle): the straight path's case
        if (fd >= 0) setsockopt(w.dev, fd, kIpProtoTcp, kTcpNodelay, &one, sizeof one);
    }
    int handle(std::function<void(FrozenTcpContext&)> edit = {}) {
        w.respond = [this, edit](const SpecRequest& r, int) { return w.honest_tcp_reply(r, edit); };
        int h = w.client->specialize_send(fd, {.message_size = kMessage});
        w.pump();
        return h;
    }
    // TCP segments the server received (only the device's data flows to it once the
    // spec connection is idle) and the device sent.
    uint64_t segments_rx() const { return w.srv.stats()[Counter::tcp_segments_rx]; }
    uint64_t segments_tx() const { return w.dev.stats()[Counter::tcp_segments_tx]; }
    DeviceWorld w;
    int fd = -1;
};

TEST(RemoteTcp, HonestCodeRunsVerifiedThenSpecializedEachMessageOnce) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    ASSERT_GE(d.fd, 0);
    int h = d.handle();
    ASSERT_GE(h, 0);
    RemoteHandleInfo info = d.w.client->info(h);
    ASSERT_TRUE(info.specialized);
    EXPECT_EQ(info.installs, 1u);
    ASSERT_EQ(d.w.requests.size(), 1u);
    SpecRequest r;
    ASSERT_EQ(decode(d.w.requests[0], test::kKey, r), ProtoError::ok);
    EXPECT_EQ(r.path, SendPath::tcp);
    EXPECT_EQ(r.layout_tag, tcp_context_layout_tag());
    EXPECT_EQ(r.context.size(), sizeof(FrozenTcpContext));
    EXPECT_EQ(r.symbol_count, tcp_host_symbols().size());
    bool door = false;
    for (size_t i = 0; i < r.symbol_count; ++i) door |= r.symbols[i].name == "quasi_tcp_ts_now";
    EXPECT_TRUE(door);
    FrozenTcpContext c;
    std::memcpy(&c, r.context.data(), sizeof c);
    EXPECT_EQ(c.message_size, kMessage);
    EXPECT_EQ(c.dst_port, DeviceWorld::kSinkPort);

    const uint64_t rx0 = d.segments_rx(), tx0 = d.segments_tx();
    EXPECT_EQ(d.w.send_tcp_messages(h, 30, kMessage), 30);
    d.w.run_for(300 * kMillisecond);
    EXPECT_TRUE(d.w.tcp_stream_is(30, kMessage));
    info = d.w.client->info(h);
    EXPECT_EQ(info.verified_sends, 4u);
    EXPECT_EQ(info.specialized_sends, 30u);  // the window never filled: every message went straight
    EXPECT_EQ(info.generic_sends, 0u);
    EXPECT_EQ(d.w.count(Counter::remote_verified_sends), 4u);
    EXPECT_EQ(d.w.drops(Drop::remote_verify_mismatch), 0u);
    // One segment per message on the wire and in the counters, verified ones included.
    EXPECT_EQ(d.segments_rx() - rx0, 30u);
    EXPECT_EQ(d.segments_tx() - tx0, 30u);
}

// A server whose code builds other segments (TTL 17): the first verified send
// catches it, the generic segments leave instead, the code is dropped for good.
TEST(RemoteTcp, VerifyModeCatchesCodeThatBuildsOtherSegments) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    int h = d.handle([](FrozenTcpContext& c) { c.ttl = 17; });
    ASSERT_TRUE(d.w.client->info(h).specialized);
    const uint64_t rx0 = d.segments_rx();
    EXPECT_EQ(d.w.send_tcp_messages(h, 10, kMessage), 10);
    d.w.run_for(300 * kMillisecond);
    EXPECT_TRUE(d.w.tcp_stream_is(10, kMessage));
    EXPECT_EQ(d.segments_rx() - rx0, 10u);  // the caught message left once
    RemoteHandleInfo info = d.w.client->info(h);
    EXPECT_TRUE(info.verify_failed);
    EXPECT_FALSE(info.specialized);
    EXPECT_EQ(info.specialized_sends, 0u);
    EXPECT_EQ(info.generic_sends, 10u);
    EXPECT_EQ(d.w.drops(Drop::remote_verify_mismatch), 1u);
}

// Code that cuts a message otherwise than the generic path (a payload MSS of 600: two
// segments where the generic path sends one): other frames, other SND.NXT steps: caught.
TEST(RemoteTcp, VerifyModeCatchesCodeThatCutsMessagesOtherwise) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    int h = d.handle([](FrozenTcpContext& c) { c.payload_mss = 600; });
    ASSERT_TRUE(d.w.client->info(h).specialized);
    EXPECT_EQ(d.w.send_tcp_messages(h, 5, kMessage), 5);
    d.w.run_for(300 * kMillisecond);
    EXPECT_TRUE(d.w.tcp_stream_is(5, kMessage));
    EXPECT_TRUE(d.w.client->info(h).verify_failed);
    EXPECT_EQ(d.w.drops(Drop::remote_verify_mismatch), 1u);
}

// Time passes while the code runs (a slow board): verify mode holds the stack's
// clock still for both paths (Stack::TimePin), so the generic segments carry the same
// timestamps and the state the same times, and honest code is not taken for wrong.
TEST(RemoteTcp, VerifyModeComparesAtOneInstantOnASlowDevice) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    ASSERT_TRUE(d.w.dev.descriptors().tcp(d.fd)->ts_ok);  // TSval in every segment
    test::slow_send_clock = &d.w.clock;
    d.w.respond = [&](const SpecRequest& r, int) { return d.w.honest_tcp_reply(r, {}, /*slow=*/true); };
    int h = d.w.client->specialize_send(d.fd, {.message_size = kMessage});
    d.w.pump();
    ASSERT_TRUE(d.w.client->info(h).specialized);
    EXPECT_EQ(d.w.send_tcp_messages(h, 10, kMessage), 10);
    test::slow_send_clock = nullptr;
    d.w.run_for(300 * kMillisecond);
    EXPECT_TRUE(d.w.tcp_stream_is(10, kMessage));
    EXPECT_EQ(d.w.drops(Drop::remote_verify_mismatch), 0u);
    EXPECT_EQ(d.w.client->info(h).verified_sends, 4u);
    EXPECT_EQ(d.w.client->info(h).specialized_sends, 10u);
}

// The same wrong code without verify mode runs (so the two tests above depend on it).
TEST(RemoteTcp, WithoutVerifyModeWrongCodeRuns) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region, 0);
    int h = d.handle([](FrozenTcpContext& c) { c.ttl = 17; });
    EXPECT_EQ(d.w.send_tcp_messages(h, 3, kMessage), 3);
    EXPECT_EQ(d.w.client->info(h).specialized_sends, 3u);
    EXPECT_EQ(d.w.drops(Drop::remote_verify_mismatch), 0u);
}

// The peer stops reading: the window fills, the code declines (the general
// machinery queues), the stream stays whole, and the code runs again once the
// window reopens.
TEST(RemoteTcp, FullWindowGoesGenericStreamStaysWhole) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    int h = d.handle();
    EXPECT_EQ(d.w.send_tcp_messages(h, 10, kMessage), 10);
    d.w.tcp_reading = false;  // 256 KB of window: 300 messages overrun it
    int sent = 10 + d.w.send_tcp_messages(h, 300, kMessage, 10);
    d.w.tcp_reading = true;
    d.w.run_for(2 * kSecond, 50 * kMillisecond);
    RemoteHandleInfo info = d.w.client->info(h);
    EXPECT_GT(info.generic_sends, 0u);
    const uint64_t specialized_before = info.specialized_sends;
    sent += d.w.send_tcp_messages(h, 20, kMessage, sent);
    d.w.run_for(500 * kMillisecond, 50 * kMillisecond);
    EXPECT_TRUE(d.w.tcp_stream_is(sent, kMessage)) << d.w.tcp_received.size() << " bytes for " << sent;
    info = d.w.client->info(h);
    EXPECT_GT(info.specialized_sends, specialized_before);
    EXPECT_EQ(info.specialized_sends + info.generic_sends, static_cast<uint64_t>(sent));
    EXPECT_EQ(d.w.drops(Drop::remote_verify_mismatch), 0u);
}

// Each change a TCP handle froze, mid-stream: generic at once, a new request with
// the new state, the new code verified and running; nothing lost or duplicated.
struct Change {
    const char* name;
    std::function<void(TcpDevice&)> apply;
    std::function<void(const FrozenTcpContext&)> check;  // the second request's context
};

class RemoteTcpChange : public ::testing::TestWithParam<int> {};

const std::vector<Change>& changes() {
    static const std::vector<Change> list = {
        {"IP_TTL",
         [](TcpDevice& d) {
             int ttl = 99;
             ASSERT_EQ(setsockopt(d.w.dev, d.fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
         },
         [](const FrozenTcpContext& c) { EXPECT_EQ(c.ttl, 99); }},
        {"path MTU 800 (ICMP frag-needed): the MSS falls, a message takes two segments",
         [](TcpDevice& d) {
             const uint64_t lowered = d.w.count(Counter::tcp_mss_lowered);
             icmp_frag_needed(d.w, *d.w.dev.descriptors().tcp(d.fd), 800);
             ASSERT_EQ(d.w.count(Counter::tcp_mss_lowered), lowered + 1);
         },
         [](const FrozenTcpContext& c) { EXPECT_EQ(c.snd_mss, 760); }},
        {"route table",
         [](TcpDevice& d) { ASSERT_GE(d.w.dev.add_route(Ipv4Addr::from_octets(198, 19, 0, 0), 16, DeviceWorld::kServer), 0); },
         [](const FrozenTcpContext& c) { EXPECT_EQ(c.dst, DeviceWorld::kServer); }},
    };
    return list;
}

TEST_P(RemoteTcpChange, GenericAtOnceThenNewCodeNothingLost) {
    const Change& change = changes()[GetParam()];
    SCOPED_TRACE(change.name);
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    int h = d.handle();
    ASSERT_TRUE(d.w.client->info(h).specialized);
    EXPECT_EQ(d.w.send_tcp_messages(h, 8, kMessage), 8);
    change.apply(d);
    EXPECT_FALSE(d.w.client->info(h).specialized);
    d.w.respond = nullptr;  // slow server: the old code must not run meanwhile
    EXPECT_EQ(d.w.send_tcp_messages(h, 3, kMessage, 8), 3);
    RemoteHandleInfo info = d.w.client->info(h);
    EXPECT_EQ(info.generic_sends, 3u);
    EXPECT_EQ(info.specialized_sends, 8u);
    ASSERT_EQ(d.w.requests.size(), 2u);
    SpecRequest again;
    ASSERT_EQ(decode(d.w.requests[1], test::kKey, again), ProtoError::ok);
    FrozenTcpContext c;
    std::memcpy(&c, again.context.data(), sizeof c);
    change.check(c);
    d.w.tx = d.w.honest_tcp_reply(again);
    d.w.pump();
    ASSERT_TRUE(d.w.client->info(h).specialized);
    EXPECT_EQ(d.w.send_tcp_messages(h, 8, kMessage, 11), 8);
    d.w.run_for(300 * kMillisecond);
    EXPECT_TRUE(d.w.tcp_stream_is(19, kMessage));
    info = d.w.client->info(h);
    EXPECT_EQ(info.installs, 2u);
    EXPECT_EQ(info.verified_sends, 8u);  // 4 per installed code
    EXPECT_EQ(info.specialized_sends, 16u);
    EXPECT_EQ(d.w.drops(Drop::remote_verify_mismatch), 0u);
}

INSTANTIATE_TEST_SUITE_P(Changes, RemoteTcpChange, ::testing::Range(0, 3));

TEST(RemoteTcp, ConnectionNotEstablishedIsRefusedClearly) {
    test::WatchedRegion region;
    DeviceWorld w(region);
    int t = socket(w.dev, kAfInet, kSockStream);
    EXPECT_EQ(w.client->specialize_send(t, {}), -ENOTCONN);
    int fd = w.open_tcp();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(w.client->specialize_send(fd, {.message_size = 0}), -EMSGSIZE);
}

// Released handles give their code-buffer room back, installed or still asked for:
// the buffer (64 KiB here) never fills, and a later handle gets its code.
TEST(RemoteTcp, ReleasedHandlesGiveTheirCodeRoomBack) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    for (int round = 0; round < 40; ++round) {
        int h = d.handle();
        ASSERT_GE(h, 0);
        ASSERT_TRUE(d.w.client->info(h).specialized) << "round " << round;
        d.w.respond = nullptr;
        int ttl = 60 + round;  // a violation: the next request stays unanswered
        ASSERT_EQ(setsockopt(d.w.dev, d.fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
        std::vector<uint8_t> data(kMessage, 1);
        ASSERT_EQ(d.w.client->send(h, data.data(), data.size()), static_cast<ssize_t>(kMessage));
        d.w.pump();
        d.w.client->release(h);
        EXPECT_EQ(d.w.client->code_buffer().used_bytes(), 0u) << "round " << round;
    }
}

// The socket closed under the handle: -EBADF, the code never runs again.
TEST(RemoteTcp, ClosedConnectionGivesEbadf) {
    MmapExecRegion region(1 << 16);
    TcpDevice d(region);
    int h = d.handle();
    EXPECT_EQ(d.w.send_tcp_messages(h, 5, kMessage), 5);
    close(d.w.dev, d.fd);
    std::vector<uint8_t> data(kMessage, 1);
    EXPECT_EQ(d.w.client->send(h, data.data(), data.size()), -EBADF);
}

}  // namespace
// A handle asked for during the handshake (connect() said EINPROGRESS): nothing is
// asked before ESTABLISHED (the context is the SYN-ACK's: MSS, window scale,
// timestamps, SACK), then the request leaves from the poll that sees ESTABLISHED and
// the code runs; no second request, every message once at the peer.
TEST(RemoteTcp, AHandleAskedDuringTheHandshakeAsksAtEstablished) {
    MmapExecRegion region(1 << 16);
    DeviceWorld w(region, true, 4);
    const int fd = w.connect_tcp();
    ASSERT_GE(fd, 0);
    int one = 1;
    setsockopt(w.dev, fd, kIpProtoTcp, kTcpNodelay, &one, sizeof one);
    w.respond = [&w](const SpecRequest& r, int) { return w.honest_tcp_reply(r); };
    const int h = w.client->specialize_send(fd, {.message_size = kMessage});
    ASSERT_GE(h, 0);
    EXPECT_TRUE(w.client->info(h).waiting);
    w.client->poll();  // before the SYN-ACK: the server's connection opens, nothing is asked
    EXPECT_EQ(w.client->info(h).requests, 0u);
    EXPECT_FALSE(w.client->info(h).specialized);

    w.pump();  // both handshakes, the request, the reply
    const TcpSocket& s = *w.dev.descriptors().tcp(fd);
    ASSERT_EQ(s.state, TcpState::established);
    ASSERT_EQ(w.requests.size(), 1u);
    SpecRequest r;
    ASSERT_EQ(decode(w.requests[0], test::kKey, r), ProtoError::ok);
    FrozenTcpContext c;
    std::memcpy(&c, r.context.data(), sizeof c);
    EXPECT_EQ(c.message_size, kMessage);
    EXPECT_EQ(c.src_port, s.local_port.get());
    EXPECT_EQ(c.timestamps, s.ts_ok);  // negotiated in the handshake
    RemoteHandleInfo info = w.client->info(h);
    ASSERT_TRUE(info.specialized);
    EXPECT_EQ(info.requests, 1u);

    EXPECT_EQ(w.send_tcp_messages(h, 20, kMessage), 20);
    w.run_for(300 * kMillisecond);
    EXPECT_TRUE(w.tcp_stream_is(20, kMessage));
    info = w.client->info(h);
    EXPECT_EQ(info.specialized_sends, 20u);
    EXPECT_EQ(info.requests, 1u);
}

}  // namespace quasi::remote
