// The guards' checking modes (guards/modes.hpp, label `guards`): verify mode catches
// an invariant written behind the guards' back; deopt stress mode fires guards at
// random and the stream stays exact.
#include "guards/modes.hpp"
#include "jit/specialize.hpp"
#include "tests/guards/two_links.hpp"
#include "tests/jit/jit_world.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace quasi::test {
namespace {

struct ModesScope {
    explicit ModesScope(const GuardModes& m) : saved(guard_modes()) { set_guard_modes(m); }
    ~ModesScope() { set_guard_modes(saved); }
    GuardModes saved;
};

// A write that bypasses guarded_write: what a bug (or a field that should have been
// a QuasiInvariant) does. The watchers hear nothing, the code's guard holds.
void write_behind_the_guards_back(QuasiInvariant<uint8_t>& field, uint8_t value) {
    std::memcpy(const_cast<uint8_t*>(&field.get()), &value, sizeof value);
}

// A connected UDP socket on A with a handle for 64-byte datagrams, verify mode on.
struct VerifiedUdp {
    ModesScope modes{{.verify_every = 1, .stress_every = 0, .seed = 1}};
    World w{WorldConfig{}};
    int fd = w.connected_socket(7000, w.config.addr_b, 7001);
    Expected<SendHandle> h = specialize_send(w.a, fd, {.message_size = 64});
    std::vector<uint8_t> payload = std::vector<uint8_t>(64, 1);
};

TEST(GuardsVerifyMode, PassesWhileTheFrozenStateHolds) {
    VerifiedUdp u;
    ASSERT_TRUE(u.h) << u.h.error().message;
    for (int i = 0; i < 10; ++i) ASSERT_EQ(u.h->send(u.payload.data(), 64), 64);
    EXPECT_EQ(u.h->info().guards.verified, 10u);
    // A guarded write is no bug: the guard fires, verify mode stands aside.
    u.w.a.descriptors().udp(u.fd)->ttl.guarded_write(9);
    EXPECT_EQ(u.h->send(u.payload.data(), 64), 64);
}

TEST(GuardsVerifyModeDeathTest, CatchesAnInvariantWrittenBehindTheGuardsBack) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");  // the specializer runs a thread
    VerifiedUdp u;
    ASSERT_TRUE(u.h) << u.h.error().message;
    ASSERT_EQ(u.h->send(u.payload.data(), 64), 64);
    write_behind_the_guards_back(u.w.a.descriptors().udp(u.fd)->ttl, 9);
    EXPECT_DEATH(u.h->send(u.payload.data(), 64), "field 'ttl' changed while no guard fired");
}

TEST(GuardsStressMode, GuardsFireAtRandomAndEveryByteArrivesOnceInOrder) {
    ModesScope modes({.verify_every = 3, .stress_every = 5, .seed = 7});
    TwoLinks w;
    auto [fa, fb] = w.tcp_connection();
    ASSERT_GE(fb, 0);
    auto h = specialize_send(w.a, fa, {.message_size = std::nullopt, .on_violation = ViolationPolicy::reinforce});
    ASSERT_TRUE(h) << h.error().message;
    std::vector<uint8_t> data(4 << 20), got;
    for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 131 + (i >> 11));
    size_t sent = 0;
    std::vector<uint8_t> buf(1 << 16);
    for (int rounds = 0; got.size() < data.size() && rounds < 10'000'000; ++rounds) {
        if (sent < data.size()) {
            ssize_t rc = h->send(&data[sent], std::min<size_t>(1448, data.size() - sent));
            if (rc > 0) sent += size_t(rc);
        }
        w.poll_once();
        ssize_t n;
        while ((n = recv(w.b, fb, buf.data(), buf.size())) > 0) got.insert(got.end(), buf.data(), buf.data() + n);
    }
    EXPECT_EQ(got, data);
    SendHandleInfo info = h->info();
    EXPECT_GT(info.guards[ViolationKind::forced], 100u);
    EXPECT_GT(info.guards.replugs, 100u);  // forced violations re-specialize: cache hits, replugged at once
    EXPECT_GT(info.guards.verified, 0u);
    EXPECT_GT(info.specialized_sends, 0u);
}

}  // namespace
}  // namespace quasi::test
