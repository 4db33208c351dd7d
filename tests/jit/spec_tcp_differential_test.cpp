// Differential tests of the TCP send path: for randomized connections (MTU and so
// MSS, timestamps, SACK, window scaling, buffer sizes, congestion control,
// TCP_NODELAY, declared ADU sizes, a lossy link or not, a reader that keeps up or
// stalls) and payloads (the ADU, other lengths, multi-segment sends), identical
// worlds send the same data through the generic path (send()), through the frozen
// path run natively (tcp_send_frozen<const FrozenTcpContext> compiled by the host
// compiler), and, for every few scenarios, through a specialized handle (JIT code).
// After every send the frames A put on the link, the return values and the
// sender's state (SND.UNA/NXT/MAX, windows, cwnd, send buffer, timers) must agree
// exactly; at the end the counters and the buffer pools too.
//
// Every scenario runs the frozen path natively; each JIT compile costs tens of
// milliseconds, so one scenario in QUASI_TCP_DIFF_JIT_EVERY also runs the JIT code.
// QUASI_TCP_DIFF_SEED / QUASI_TCP_DIFF_SCENARIOS / QUASI_TCP_DIFF_JIT_EVERY change
// the seed and the size of the run.
#include "context/tcp_frozen_send.hpp"
#include "jit/specialize.hpp"
#include "tests/jit/tcp_twins.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>

namespace quasi::test {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtoull(v, nullptr, 0) : fallback;
}

struct Scenario {
    WorldConfig world;
    int nodelay = 0;
    int adu_kind = 0;  // 0 none, 1 one full segment, 2 whole segments, 3 any size, 4 small
    uint32_t loss_per_mille = 0;
    uint32_t read_percent = 100;  // how often B reads after a send
    JitPipeline pipeline = JitPipeline::fast;
    bool jit = false;
};

Scenario random_scenario(std::mt19937_64& rng, uint64_t seed, bool jit) {
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    Scenario s;
    s.world.seed = seed;
    s.world.mtu = static_cast<uint16_t>(pick(0, 2) ? 1500 : pick(576, 1500));
    TcpLayer::Config& tcp = s.world.tcp;
    tcp.timestamps = pick(0, 3) != 0;
    tcp.sack = pick(0, 3) != 0;
    tcp.window_scaling = pick(0, 3) != 0;
    tcp.send_buffer = size_t(1) << pick(13, 18);     // 8 KB .. 256 KB
    tcp.receive_buffer = size_t(1) << pick(12, 18);  // 4 KB .. 256 KB: small ones limit the window
    tcp.congestion = pick(0, 1) ? CongestionAlgorithm::cubic : CongestionAlgorithm::new_reno;
    s.nodelay = pick(0, 2) == 0;
    s.adu_kind = pick(0, 4);
    s.loss_per_mille = pick(0, 3) == 0 ? uint32_t(pick(5, 60)) : 0;
    s.read_percent = pick(0, 3) == 0 ? uint32_t(pick(0, 60)) : 100;
    s.pipeline = pick(0, 4) == 0 ? JitPipeline::default_o2 : JitPipeline::fast;
    s.jit = jit;
    return s;
}

std::optional<uint32_t> pick_adu(const Scenario& s, uint32_t payload_mss, size_t send_buffer, std::mt19937_64& rng) {
    auto pick = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
    uint32_t cap = static_cast<uint32_t>(std::min<size_t>(send_buffer, 64u * payload_mss));
    uint32_t adu;
    switch (s.adu_kind) {
        case 0: return std::nullopt;
        case 1: adu = payload_mss; break;
        case 2: adu = payload_mss * pick(2, 6); break;
        case 3: adu = pick(1, 6 * payload_mss); break;
        default: adu = pick(1, 600); break;
    }
    return std::min(adu, cap);
}

std::string describe(const Scenario& s, uint32_t payload_mss, std::optional<uint32_t> adu) {
    const TcpLayer::Config& t = s.world.tcp;
    return "seed=" + std::to_string(s.world.seed) + " mtu=" + std::to_string(s.world.mtu) +
           " payload_mss=" + std::to_string(payload_mss) + " ts=" + std::to_string(t.timestamps) +
           " sack=" + std::to_string(t.sack) + " wscale=" + std::to_string(t.window_scaling) +
           " sndbuf=" + std::to_string(t.send_buffer) + " rcvbuf=" + std::to_string(t.receive_buffer) +
           " cubic=" + std::to_string(t.congestion == CongestionAlgorithm::cubic) +
           " nodelay=" + std::to_string(s.nodelay) + " adu=" + (adu ? std::to_string(*adu) : "-") +
           " loss=" + std::to_string(s.loss_per_mille) + " read%=" + std::to_string(s.read_percent) +
           (s.jit ? (s.pipeline == JitPipeline::default_o2 ? " jit O2" : " jit fast") : "");
}

struct Totals {
    uint64_t scenarios = 0, jit_scenarios = 0, sends = 0, frames = 0;
    uint64_t straight = 0, queued = 0, declined = 0;  // frozen path: how each send went
    uint64_t jit_specialized = 0, jit_generic = 0;
};

void run_scenario(const Scenario& sc, std::mt19937_64& rng, Totals& totals) {
    constexpr int kSends = 24;
    const int n_worlds = sc.jit ? 3 : 2;
    std::unique_ptr<World> worlds[3];
    int fds[3], peers[3];
    for (int w = 0; w < n_worlds; ++w) {
        worlds[w] = std::make_unique<World>(sc.world);
        auto [fa, fb] = worlds[w]->tcp_connection(kTcpPortA, kTcpPortB);
        ASSERT_GE(fa, 0);
        ASSERT_GE(fb, 0) << "no connection";
        fds[w] = fa;
        peers[w] = fb;
        ASSERT_EQ(setsockopt(worlds[w]->a, fa, kIpProtoTcp, kTcpNodelay, &sc.nodelay, sizeof sc.nodelay), 0);
    }
    World& generic = *worlds[0];
    World& frozen = *worlds[1];
    TcpSocket& frozen_socket = *frozen.a.descriptors().tcp(fds[1]);
    ASSERT_EQ(frozen_socket.state, TcpState::established);
    uint32_t payload_mss = frozen.a.tcp().data_mss(frozen_socket);
    std::optional<uint32_t> adu = pick_adu(sc, payload_mss, frozen_socket.send_buffer.capacity(), rng);
    SCOPED_TRACE(describe(sc, payload_mss, adu));

    auto snap = freeze_tcp_send(frozen.a, fds[1], adu);
    ASSERT_TRUE(snap) << snap.error().message;
    const FrozenTcpContext& ctx = snap->context;
    SendHandle handle;
    if (sc.jit) {
        auto h = specialize_send(worlds[2]->a, fds[2], {.message_size = adu, .pipeline = sc.pipeline});
        ASSERT_TRUE(h) << h.error().message;
        handle = std::move(*h);
    }
    // The link's losses: one generator per world, consumed once per frame, so
    // identical frame sequences see identical losses.
    uint64_t loss_seed = rng();
    std::mt19937_64 loss_rng[3] = {std::mt19937_64(loss_seed), std::mt19937_64(loss_seed), std::mt19937_64(loss_seed)};
    std::vector<uint8_t> data(70000), sink(1 << 18);

    for (int i = 0; i < kSends; ++i) {
        SCOPED_TRACE("send " + std::to_string(i));
        size_t len;
        int kind = std::uniform_int_distribution<int>(0, 9)(rng);
        if (adu && kind < 7)
            len = *adu;
        else if (kind == 9)
            len = std::uniform_int_distribution<size_t>(0, 70000)(rng);
        else
            len = std::uniform_int_distribution<size_t>(0, 3 * payload_mss)(rng);
        for (size_t k = 0; k < len; ++k) data[k] = static_cast<uint8_t>(rng());
        bool read = std::uniform_int_distribution<uint32_t>(0, 99)(rng) < sc.read_percent;
        TimeNs step = std::uniform_int_distribution<TimeNs>(0, 30)(rng) * kMillisecond;
        int rounds = std::uniform_int_distribution<int>(1, 4)(rng);

        // How the frozen path takes this send (for the totals).
        if (adu && len == *adu && frozen_socket.state == TcpState::established && !frozen_socket.fin_queued) {
            uint32_t segments = (*adu + payload_mss - 1) / payload_mss;
            if (tcp_frozen_detail::message_goes_straight(ctx, frozen_socket, segments,
                                                         *adu - (segments - 1) * payload_mss))
                ++totals.straight;
            else
                ++totals.queued;
        }

        ssize_t r0 = send(generic.a, fds[0], data.data(), len);
        ssize_t r1 = tcp_send_frozen<const FrozenTcpContext>(ctx, data.data(), len);
        if (r1 == kSlowPath) {
            ++totals.declined;
            r1 = frozen.a.tcp().send(frozen_socket, data.data(), len);
        }
        frozen.a.flush_all();
        ASSERT_EQ(r0, r1) << "len " << len;
        if (sc.jit) {
            ssize_t r2 = handle.send(data.data(), len);
            ASSERT_EQ(r0, r2) << "len " << len;
        }
        ++totals.sends;

        for (int round = 0; round < rounds; ++round) {
            std::vector<Frame> reference;
            for (int w = 0; w < n_worlds; ++w) {
                World& world = *worlds[w];
                std::mt19937_64& lr = loss_rng[w];
                uint32_t loss = sc.loss_per_mille;
                auto lose = [&lr, loss] { return std::uniform_int_distribution<uint32_t>(0, 999)(lr) < loss; };
                std::vector<Frame> frames = world.settle(lose, 20);
                if (w == 0) {
                    reference = std::move(frames);
                    totals.frames += reference.size();
                } else {
                    ASSERT_EQ(reference, frames) << "world " << w << " round " << round << " len " << len;
                }
                if (read) {
                    while (recv(world.b, peers[w], sink.data(), sink.size()) > 0) {
                    }
                }
                world.clock.advance(step);
            }
            std::string expect = sender_state(*generic.a.descriptors().tcp(fds[0]));
            for (int w = 1; w < n_worlds; ++w)
                ASSERT_EQ(expect, sender_state(*worlds[w]->a.descriptors().tcp(fds[w]))) << "world " << w;
        }
    }
    if (sc.jit) {
        SendHandleInfo info = handle.info();
        totals.jit_specialized += info.specialized_sends;
        totals.jit_generic += info.generic_sends;
        handle.release();
    }
    for (int w = 1; w < n_worlds; ++w) {
        World& world = *worlds[w];
        ASSERT_EQ("", counters_differ(generic.a.stats(), world.a.stats()));
        ASSERT_EQ(0, std::memcmp(generic.a.stats().drops, world.a.stats().drops, sizeof generic.a.stats().drops));
        ASSERT_EQ(generic.pool.available(), world.pool.available());
    }
    ++totals.scenarios;
    if (sc.jit) ++totals.jit_scenarios;
}

TEST(SpecTcpDifferential, RandomConnectionsAndPayloads) {
    const uint64_t seed = env_or("QUASI_TCP_DIFF_SEED", 20240917);
    const uint64_t scenarios = env_or("QUASI_TCP_DIFF_SCENARIOS", 1000);
    const uint64_t jit_every = env_or("QUASI_TCP_DIFF_JIT_EVERY", 20);
    std::mt19937_64 rng(seed);
    Totals totals;
    for (uint64_t n = 0; n < scenarios; ++n) {
        Scenario sc = random_scenario(rng, seed + n, jit_every && n % jit_every == 0);
        run_scenario(sc, rng, totals);
        if (HasFatalFailure()) return;
    }
    std::printf(
        "%llu scenarios (%llu with JIT code), %llu sends, %llu frames compared\n"
        "frozen path: %llu declared messages straight, %llu queued behind the windows, %llu declined\n"
        "JIT handles: %llu specialized sends, %llu generic\n",
        (unsigned long long)totals.scenarios, (unsigned long long)totals.jit_scenarios,
        (unsigned long long)totals.sends, (unsigned long long)totals.frames, (unsigned long long)totals.straight,
        (unsigned long long)totals.queued, (unsigned long long)totals.declined,
        (unsigned long long)totals.jit_specialized, (unsigned long long)totals.jit_generic);
    EXPECT_GT(totals.straight, totals.sends / 5);
    EXPECT_GT(totals.queued, totals.sends / 50);
    EXPECT_GT(totals.jit_specialized, totals.jit_generic);
}

}  // namespace
}  // namespace quasi::test
