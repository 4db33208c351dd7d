// The device side of remote specialization (jit/remote/device/) against an in-test
// server over the stack's own TCP on an in-memory link: code installed and run from
// the code buffer, verify mode, guards, and every refusal: each refused reply is
// counted, nothing of it reaches the code buffer, and the handle keeps sending
// through the generic path.
#include "tests/remote/device_world.hpp"

#include <gtest/gtest.h>

namespace quasi::remote {
namespace {

using test::DeviceWorld;

TEST(RemoteDevice, HonestServerCodeRunsVerifiedThenSpecialized) {
    MmapExecRegion region(1 << 16);
    ASSERT_TRUE(region.valid());
    DeviceWorld w(region);
    w.respond = [&](const SpecRequest& r, int) { return w.honest_reply(r); };
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    ASSERT_GE(h, 0);
    w.pump();
    RemoteHandleInfo info = w.client->info(h);
    EXPECT_TRUE(info.specialized);
    EXPECT_EQ(info.requests, 1u);
    EXPECT_EQ(info.installs, 1u);
    EXPECT_EQ(region.writes(), 1u);
    EXPECT_EQ(w.requests.size(), 1u);
    EXPECT_EQ(w.count(Counter::remote_code_installed), 1u);

    int wrong = 0;
    EXPECT_EQ(w.send_through(h, 20), 20);
    EXPECT_EQ(w.drain_sink(&wrong), 20);
    EXPECT_EQ(wrong, 0);
    info = w.client->info(h);
    EXPECT_EQ(info.verified_sends, 4u);     // the first four compared with the generic path
    EXPECT_EQ(info.specialized_sends, 20u);
    EXPECT_EQ(info.generic_sends, 0u);
    EXPECT_EQ(w.count(Counter::remote_verified_sends), 4u);
    EXPECT_EQ(w.drops(Drop::remote_verify_mismatch), 0u);
    // The verified sends did not count twice.
    EXPECT_EQ(w.count(Counter::udp_tx), 21u);  // + the datagram that resolved ARP
}

TEST(RemoteDevice, RequestCarriesTheDevicesContextSymbolsAndCodeAddress) {
    MmapExecRegion region(1 << 16);
    DeviceWorld w(region);
    w.respond = [&](const SpecRequest& r, int) { return w.honest_reply(r); };
    int h = w.client->specialize_send(w.udp, {});
    w.pump();
    ASSERT_EQ(w.requests.size(), 1u);
    SpecRequest r;
    ASSERT_EQ(decode(w.requests[0], test::kKey, r), ProtoError::ok);
    EXPECT_EQ(r.device_id, 7u);
    EXPECT_EQ(r.target, "x86_64-linux-gnu");
    EXPECT_EQ(r.pointer_bytes, 8);
    EXPECT_EQ(r.layout_tag, udp_context_layout_tag());
    EXPECT_EQ(r.context.size(), sizeof(FrozenUdpContext));
    EXPECT_EQ(r.symbol_count, 6);
    EXPECT_EQ(r.symbols[0].name, "quasi_interface_transmit");
    uint64_t base = reinterpret_cast<uintptr_t>(region.bytes().data());
    EXPECT_GE(r.code_address, base);
    EXPECT_LT(r.code_address, base + region.bytes().size());
    EXPECT_EQ(w.client->info(h).code_address, r.code_address);
    FrozenUdpContext c;
    std::memcpy(&c, r.context.data(), sizeof c);
    EXPECT_EQ(c.dst, DeviceWorld::kServer);
    EXPECT_EQ(c.dst_port, DeviceWorld::kSinkPort);
}

// A server whose code builds another frame (TTL 17 instead of 64): the first
// verified send catches it, the generic frame leaves instead, the code is dropped.
TEST(RemoteDevice, VerifyModeCatchesCodeThatBuildsAnotherFrame) {
    MmapExecRegion region(1 << 16);
    DeviceWorld w(region);
    w.respond = [&](const SpecRequest& r, int) { return w.honest_reply(r, [](FrozenUdpContext& c) { c.ttl = 17; }); };
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    w.pump();
    ASSERT_TRUE(w.client->info(h).specialized);
    EXPECT_EQ(w.send_through(h, 10), 10);
    EXPECT_EQ(w.drain_sink(), 10);  // nothing lost
    RemoteHandleInfo info = w.client->info(h);
    EXPECT_TRUE(info.verify_failed);
    EXPECT_FALSE(info.specialized);
    EXPECT_EQ(info.specialized_sends, 0u);
    EXPECT_EQ(info.generic_sends, 10u);
    EXPECT_EQ(w.drops(Drop::remote_verify_mismatch), 1u);
    EXPECT_EQ(w.count(Counter::udp_tx), 11u);
    w.run_for(3 * kSecond);
    EXPECT_EQ(w.requests.size(), 1u);  // a handle caught once does not ask again
}

// With verify mode off the same wrong code would run: proves the test above
// depends on verify mode (the TTL reaches the wire; the sink does not see it, the
// count of specialized sends does).
TEST(RemoteDevice, WithoutVerifyModeWrongCodeRuns) {
    MmapExecRegion region(1 << 16);
    DeviceWorld w(region, true, 0);
    w.respond = [&](const SpecRequest& r, int) { return w.honest_reply(r, [](FrozenUdpContext& c) { c.ttl = 17; }); };
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    w.pump();
    EXPECT_EQ(w.send_through(h, 3), 3);
    EXPECT_EQ(w.client->info(h).specialized_sends, 3u);
    EXPECT_EQ(w.drops(Drop::remote_verify_mismatch), 0u);
}

// A frozen invariant changes (IP_TTL): the handle sends generic at once, asks again,
// and runs the new code (for TTL 99) once it arrives and verifies.
TEST(RemoteDevice, ViolatedGuardFallsBackAndAsksAgain) {
    MmapExecRegion region(1 << 16);
    DeviceWorld w(region);
    w.respond = [&](const SpecRequest& r, int) { return w.honest_reply(r); };
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    w.pump();
    ASSERT_TRUE(w.client->info(h).specialized);
    EXPECT_EQ(w.send_through(h, 5), 5);
    int ttl = 99;
    ASSERT_EQ(setsockopt(w.dev, w.udp, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    EXPECT_FALSE(w.client->info(h).specialized);
    w.respond = nullptr;  // the server is slow this time: the handle must not run old code meanwhile
    std::vector<uint8_t> data(64, 1);
    EXPECT_EQ(w.client->send(h, data.data(), data.size()), 64);
    w.pump();
    RemoteHandleInfo info = w.client->info(h);
    EXPECT_EQ(info.generic_sends, 1u);
    EXPECT_EQ(info.specialized_sends, 5u);
    ASSERT_EQ(w.requests.size(), 2u);
    SpecRequest again;
    ASSERT_EQ(decode(w.requests[1], test::kKey, again), ProtoError::ok);
    FrozenUdpContext c;
    std::memcpy(&c, again.context.data(), sizeof c);
    EXPECT_EQ(c.ttl, 99);
    // The server answers late: still for the current state, so it installs and verifies.
    w.tx = w.honest_reply(again);
    w.pump();
    EXPECT_TRUE(w.client->info(h).specialized);
    EXPECT_EQ(w.send_through(h, 5), 5);
    info = w.client->info(h);
    EXPECT_EQ(info.installs, 2u);
    EXPECT_EQ(info.specialized_sends, 10u);
    EXPECT_EQ(w.drops(Drop::remote_verify_mismatch), 0u);
    EXPECT_EQ(w.drain_sink(), 11);
}

// The socket changes while the request is on the wire: the reply that then arrives
// is for the old state and is not installed; the device asks again at once.
TEST(RemoteDevice, CodeForAStateThatChangedMeanwhileIsNotInstalled) {
    MmapExecRegion region(1 << 16);
    DeviceWorld w(region);
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    w.pump();
    ASSERT_EQ(w.requests.size(), 1u);
    SpecRequest first;
    ASSERT_EQ(decode(w.requests[0], test::kKey, first), ProtoError::ok);
    int ttl = 5;
    ASSERT_EQ(setsockopt(w.dev, w.udp, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    w.tx = w.honest_reply(first);  // late, for TTL 64
    w.pump();
    RemoteHandleInfo info = w.client->info(h);
    EXPECT_EQ(info.installs, 0u);
    EXPECT_FALSE(info.specialized);
    ASSERT_EQ(w.requests.size(), 2u);  // asked again at once
    SpecRequest second;
    ASSERT_EQ(decode(w.requests[1], test::kKey, second), ProtoError::ok);
    FrozenUdpContext c;
    std::memcpy(&c, second.context.data(), sizeof c);
    EXPECT_EQ(c.ttl, 5);
    w.tx = w.honest_reply(second);
    w.pump();
    EXPECT_TRUE(w.client->info(h).specialized);
    EXPECT_EQ(w.send_through(h, 5), 5);
    EXPECT_EQ(w.client->info(h).verified_sends, 4u);
    EXPECT_EQ(w.drain_sink(), 5);
}

// ---- refusals: nothing of a refused reply reaches the code buffer ----

struct Refusal {
    const char* name;
    Drop counted;
    std::function<std::vector<uint8_t>(DeviceWorld&, const SpecRequest&)> reply;
};

std::vector<uint8_t> resealed(std::vector<uint8_t> m, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) m.at(at + i) = static_cast<uint8_t>(v >> (24 - 8 * i));
    test::reseal(m);
    return m;
}

class RemoteRefusal : public ::testing::TestWithParam<int> {};

const std::vector<Refusal>& refusals() {
    static const std::vector<Refusal> list = {
        {"bad MAC (another device's key)", Drop::remote_reply_bad_mac,
         [](DeviceWorld& w, const SpecRequest& r) {
             auto m = w.honest_reply(r);
             test::reseal(m, test::kOtherKey);
             return m;
         }},
        {"wrong nonce", Drop::remote_reply_stale_nonce,
         [](DeviceWorld& w, const SpecRequest& r) {
             SpecRequest other = r;
             other.nonce ^= 1;
             return w.honest_reply(other);
         }},
        {"truncated, then the server closes", Drop::remote_reply_malformed,
         [](DeviceWorld& w, const SpecRequest& r) {
             auto m = w.honest_reply(r);
             m.resize(m.size() / 2);
             w.close_after_reply = true;
             return m;
         }},
        {"oversized length prefix", Drop::remote_reply_malformed,
         [](DeviceWorld& w, const SpecRequest& r) {
             auto m = w.honest_reply(r);
             for (int i = 0; i < 4; ++i) m[i] = static_cast<uint8_t>((kMaxMessageBytes + 1) >> (24 - 8 * i));
             return m;
         }},
        {"unknown target", Drop::remote_request_refused,
         [](DeviceWorld& w, const SpecRequest& r) { return w.error_reply(r, Status::unknown_target); }},
        {"entry offset outside the code", Drop::remote_reply_malformed,
         [](DeviceWorld& w, const SpecRequest& r) {
             auto m = w.honest_reply(r);
             // The reply's entry_offset: after status, message (u16 0), target, path, address.
             size_t at = kHeaderBytes + 1 + 2 + 1 + r.target.size() + 1 + 8;
             return resealed(m, at, 1000);
         }},
        {"code larger than the reservation", Drop::remote_reply_mismatch,
         [](DeviceWorld& w, const SpecRequest& r) {
             return w.honest_reply(r, {}, [&](SpecReply& rep) {
                 static std::vector<uint8_t> big;
                 big.assign(r.code_capacity + 16, 0xCC);
                 rep.code = big;
             });
         }},
        {"another symbol table", Drop::remote_reply_mismatch,
         [](DeviceWorld& w, const SpecRequest& r) {
             return w.honest_reply(r, {}, [](SpecReply& rep) { rep.symbol_hash ^= 1; });
         }},
        {"linked for another address", Drop::remote_reply_mismatch,
         [](DeviceWorld& w, const SpecRequest& r) {
             return w.honest_reply(r, {}, [](SpecReply& rep) { rep.code_address += 64; });
         }},
        {"another target", Drop::remote_reply_mismatch,
         [](DeviceWorld& w, const SpecRequest& r) {
             return w.honest_reply(r, {}, [](SpecReply& rep) { rep.target = "aarch64-linux-gnu"; });
         }},
    };
    return list;
}

TEST_P(RemoteRefusal, RefusedCountedNothingCopiedGenericKeepsSending) {
    const Refusal& f = refusals()[GetParam()];
    SCOPED_TRACE(f.name);
    test::WatchedRegion region;
    DeviceWorld w(region);
    w.respond = [&](const SpecRequest& r, int) { return f.reply(w, r); };
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    ASSERT_GE(h, 0);
    w.run_for(200 * kMillisecond);  // replies of several segments wait for a delayed ACK
    // Checked before any send: installed code here would be run (and is not executable).
    ASSERT_TRUE(region.untouched());
    ASSERT_FALSE(w.client->info(h).specialized);
    EXPECT_EQ(w.send_through(h, 10), 10);
    EXPECT_EQ(w.drain_sink(), 10);
    EXPECT_GE(w.requests.size(), 1u);
    EXPECT_GE(w.drops(f.counted), 1u) << [&] { std::string s; for (size_t i = 0; i < kDropReasonCount; ++i) if (w.dev.stats().drops[i]) s += std::string(name(Drop(i))) + " "; return s; }() << " bad requests " << w.bad_requests;
    RemoteHandleInfo info = w.client->info(h);
    EXPECT_FALSE(info.specialized);
    EXPECT_EQ(info.installs, 0u);
    EXPECT_EQ(info.generic_sends, 10u);
    EXPECT_EQ(w.count(Counter::remote_code_installed), 0u);
    EXPECT_TRUE(region.untouched());
    EXPECT_EQ(w.client->code_buffer().installs(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Replies, RemoteRefusal, ::testing::Range(0, 10));

// A reply captured for an earlier request, played again for a later one: refused.
TEST(RemoteDevice, ReplayedReplyIsRefused) {
    test::WatchedRegion region;
    DeviceWorld w(region);
    std::vector<uint8_t> first_reply;
    w.respond = [&](const SpecRequest& r, int index) {
        if (index == 0) {
            first_reply = w.honest_reply(r);  // recorded, not sent: the device times out
            return std::vector<uint8_t>{};
        }
        return first_reply;  // the replay
    };
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    w.pump();
    w.run_for(4 * kSecond, 50 * kMillisecond);  // timeout, retry after 1 s, the replay
    EXPECT_GE(w.requests.size(), 2u);
    EXPECT_GE(w.drops(Drop::remote_timeout), 1u);
    EXPECT_GE(w.drops(Drop::remote_reply_stale_nonce), 1u);
    ASSERT_FALSE(w.client->info(h).specialized);
    ASSERT_TRUE(region.untouched());  // before sending: code here would be run
    EXPECT_EQ(w.send_through(h, 3), 3);
    EXPECT_EQ(w.drain_sink(), 3);
}

TEST(RemoteDevice, ServerDownKeepsSendingGenericAndRetries) {
    test::WatchedRegion region;
    DeviceWorld w(region, /*listening=*/false);
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    w.pump();
    EXPECT_EQ(w.drops(Drop::remote_connect_failed), 1u);  // refused with a RST
    EXPECT_EQ(w.send_through(h, 5), 5);
    w.run_for(2500 * kMillisecond, 100 * kMillisecond);
    EXPECT_GE(w.drops(Drop::remote_connect_failed), 2u);  // tried again after retry_after
    EXPECT_EQ(w.send_through(h, 5), 5);
    EXPECT_EQ(w.drain_sink(), 10);
    EXPECT_EQ(w.client->info(h).generic_sends, 10u);
    EXPECT_TRUE(region.untouched());
}

// A silent server: the request times out, the handle sends generic; when the
// server answers a later request, the code arrives and runs.
TEST(RemoteDevice, SlowServerTimesOutThenRecovers) {
    MmapExecRegion region(1 << 16);
    DeviceWorld w(region);
    bool answer = false;
    w.respond = [&](const SpecRequest& r, int) { return answer ? w.honest_reply(r) : std::vector<uint8_t>{}; };
    int h = w.client->specialize_send(w.udp, {.message_size = 64});
    w.pump();
    EXPECT_EQ(w.send_through(h, 3), 3);
    w.run_for(2500 * kMillisecond, 100 * kMillisecond);
    EXPECT_EQ(w.drops(Drop::remote_timeout), 1u);
    EXPECT_FALSE(w.client->info(h).specialized);
    answer = true;
    w.run_for(1500 * kMillisecond, 100 * kMillisecond);
    EXPECT_TRUE(w.client->info(h).specialized);
    EXPECT_EQ(w.send_through(h, 6), 6);
    RemoteHandleInfo info = w.client->info(h);
    EXPECT_EQ(info.generic_sends, 3u);
    EXPECT_EQ(info.specialized_sends, 6u);
    EXPECT_EQ(w.drain_sink(), 9);
}

TEST(RemoteDevice, BadDescriptorsAreRefusedClearly) {
    test::WatchedRegion region;
    DeviceWorld w(region);
    EXPECT_EQ(w.client->specialize_send(12345, {}), -EBADF);
    int unconnected = socket(w.dev, kAfInet, kSockDgram);
    EXPECT_EQ(w.client->specialize_send(unconnected, {}), -ENOTCONN);
    EXPECT_EQ(w.client->send(99, "x", 1), -EBADF);
}

// ---- the code buffer alone ----

struct Evictions : CodeBuffer::EvictListener {
    std::vector<uint32_t> owners;
    void code_evicted(uint32_t owner, int) override { owners.push_back(owner); }
};

TEST(RemoteCodeBuffer, LeastRecentlyUsedIsEvictedPinnedNever) {
    test::WatchedRegion region;  // 8 KiB
    Evictions ev;
    CodeBuffer buf(region, &ev);
    std::vector<uint8_t> code(3000, 0x90);
    int a = buf.reserve(3000, 1), b = buf.reserve(3000, 2);
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    ASSERT_TRUE(buf.install(a, code));
    ASSERT_TRUE(buf.install(b, code));
    buf.touch(a);  // b is now the least recently used
    int c = buf.reserve(3000, 3);
    ASSERT_GE(c, 0);
    ASSERT_EQ(ev.owners.size(), 1u);
    EXPECT_EQ(ev.owners[0], 2u);
    // c is pinned (reserved, not installed): with a and c in the way, a new
    // reservation may only evict a.
    int d = buf.reserve(3000, 4);
    ASSERT_GE(d, 0);
    ASSERT_EQ(ev.owners.size(), 2u);
    EXPECT_EQ(ev.owners[1], 1u);
    EXPECT_EQ(buf.reserve(3000, 5), CodeBuffer::kNone);  // both pinned: no room
    EXPECT_FALSE(buf.install(c, std::vector<uint8_t>(3100, 0)));  // more than reserved
    EXPECT_EQ(buf.evictions(), 2u);
    // Installed code shrinks its entry to the code's size.
    ASSERT_TRUE(buf.install(c, std::vector<uint8_t>(100, 0x90)));
    EXPECT_EQ(buf.capacity(c), 112u);
}

}  // namespace
}  // namespace quasi::remote
