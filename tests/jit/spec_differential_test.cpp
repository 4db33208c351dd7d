// Differential tests: for randomized contexts (addresses, prefix, on-link or via a
// gateway, MTU, ports, TTL, TOS, checksum on/off, DF, declared message size, both
// pipelines) and payloads (0 .. max payload, plus larger ones that fragment), three
// identical worlds send the same datagrams: through the generic path (send()),
// through the frozen context run natively (udp_send<const FrozenUdpContext> compiled
// by the host compiler), and through a specialized handle. Frames, return values,
// counters and buffer pools must agree exactly.
//
// QUASI_DIFF_SEED and QUASI_DIFF_SCENARIOS change the seed and the size of the run.
#include "context/udp_context.hpp"
#include "jit/specialize.hpp"
#include "tests/jit/jit_world.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>
#include <string>

namespace quasi::test {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtoull(v, nullptr, 0) : fallback;
}

struct Scenario {
    WorldConfig world;
    Ipv4Addr dst;      // the peer: B itself, or an off-link address reached via B
    bool via_gateway;
};

Scenario random_scenario(std::mt19937_64& rng, uint64_t seed) {
    Scenario s;
    s.world.seed = seed;
    s.world.mtu = static_cast<uint16_t>(std::uniform_int_distribution<int>(576, 1500)(rng));
    uint8_t prefix = static_cast<uint8_t>(std::uniform_int_distribution<int>(17, 29)(rng));
    s.world.prefix_len = prefix;
    uint32_t base = Ipv4Addr::from_octets(198, 18, 0, 0).value;  // 198.18.0.0/15
    uint32_t host_bits = 32 - prefix;
    uint32_t subnets = 1u << (prefix - 15);
    uint32_t subnet = std::uniform_int_distribution<uint32_t>(0, subnets - 1)(rng);
    uint32_t net = base | (subnet << host_bits);
    uint32_t hosts = (1u << host_bits) - 2;  // no network or broadcast address
    uint32_t ha = std::uniform_int_distribution<uint32_t>(1, hosts)(rng);
    uint32_t hb;
    do hb = std::uniform_int_distribution<uint32_t>(1, hosts)(rng);
    while (hb == ha);
    s.world.addr_a = Ipv4Addr{net | ha};
    s.world.addr_b = Ipv4Addr{net | hb};
    s.via_gateway = std::uniform_int_distribution<int>(0, 3)(rng) == 0;
    if (s.via_gateway) {
        uint32_t other = (subnet + 1 + std::uniform_int_distribution<uint32_t>(0, subnets - 2)(rng)) % subnets;
        s.dst = Ipv4Addr{base | (other << host_bits) | std::uniform_int_distribution<uint32_t>(1, hosts)(rng)};
    } else {
        s.dst = s.world.addr_b;
    }
    return s;
}

struct SocketSetup {
    uint16_t local_port;
    uint16_t dst_port;
    int ttl, tos, no_check, pmtu;
    std::optional<uint32_t> message_size;
    JitPipeline pipeline;
};

void apply(Stack& stack, int fd, const SocketSetup& s) {
    ASSERT_EQ(setsockopt(stack, fd, kIpProtoIp, kIpTtl, &s.ttl, sizeof s.ttl), 0);
    ASSERT_EQ(setsockopt(stack, fd, kIpProtoIp, kIpTos, &s.tos, sizeof s.tos), 0);
    ASSERT_EQ(setsockopt(stack, fd, kSolSocket, kSoNoCheck, &s.no_check, sizeof s.no_check), 0);
    ASSERT_EQ(setsockopt(stack, fd, kIpProtoIp, kIpMtuDiscover, &s.pmtu, sizeof s.pmtu), 0);
}

std::string describe(const Scenario& sc, const SocketSetup& s) {
    char a[16], b[16], d[16];
    return std::string("a=") + format(sc.world.addr_a, a, 16) + "/" + std::to_string(sc.world.prefix_len) +
           " b=" + format(sc.world.addr_b, b, 16) + " dst=" + format(sc.dst, d, 16) +
           (sc.via_gateway ? " (via b)" : "") + " mtu=" + std::to_string(sc.world.mtu) +
           " ports=" + std::to_string(s.local_port) + "->" + std::to_string(s.dst_port) +
           " ttl=" + std::to_string(s.ttl) + " tos=" + std::to_string(s.tos) + " nocheck=" +
           std::to_string(s.no_check) + " df=" + std::to_string(s.pmtu == kPmtuDiscDo) +
           " adu=" + (s.message_size ? std::to_string(*s.message_size) : "-") +
           (s.pipeline == JitPipeline::default_o2 ? " O2" : " fast");
}

TEST(SpecDifferential, RandomContextsAndPayloads) {
    const uint64_t seed = env_or("QUASI_DIFF_SEED", 20240601);
    const uint64_t scenarios = env_or("QUASI_DIFF_SCENARIOS", 48);
    constexpr int kSocketsPerScenario = 8;
    constexpr int kSendsPerSocket = 10;
    std::mt19937_64 rng(seed);
    uint64_t specialized_sends = 0, generic_sends = 0, compared = 0;

    for (uint64_t n = 0; n < scenarios; ++n) {
        Scenario sc = random_scenario(rng, seed + n);
        World generic(sc.world), frozen(sc.world), special(sc.world);
        World* worlds[] = {&generic, &frozen, &special};
        if (sc.via_gateway) {
            for (World* w : worlds) ASSERT_EQ(w->a.add_route(Ipv4Addr{}, 0, w->config.addr_b), 0);
        }
        std::set<uint16_t> ports;
        for (int k = 0; k < kSocketsPerScenario; ++k) {
            SocketSetup s;
            do s.local_port = static_cast<uint16_t>(std::uniform_int_distribution<int>(1024, 49151)(rng));
            while (!ports.insert(s.local_port).second);
            s.dst_port = static_cast<uint16_t>(std::uniform_int_distribution<int>(1, 65535)(rng));
            s.ttl = std::uniform_int_distribution<int>(1, 255)(rng);
            s.tos = std::uniform_int_distribution<int>(0, 255)(rng);
            s.no_check = std::uniform_int_distribution<int>(0, 3)(rng) == 0;
            s.pmtu = std::uniform_int_distribution<int>(0, 1)(rng) ? kPmtuDiscDo : kPmtuDiscDont;
            uint32_t max_payload = sc.world.mtu - 28u;
            if (std::uniform_int_distribution<int>(0, 2)(rng) == 0)
                s.message_size = std::uniform_int_distribution<uint32_t>(0, max_payload)(rng);
            s.pipeline = std::uniform_int_distribution<int>(0, 4)(rng) == 0 ? JitPipeline::default_o2 : JitPipeline::fast;
            SCOPED_TRACE(describe(sc, s));

            int fd[3];
            for (int w = 0; w < 3; ++w) {
                fd[w] = worlds[w]->connected_socket(s.local_port, sc.dst, s.dst_port);
                ASSERT_GE(fd[w], 0);
                apply(worlds[w]->a, fd[w], s);
            }
            auto snap = freeze_udp_send(frozen.a, fd[1], s.message_size);
            ASSERT_TRUE(snap) << snap.error().message;
            auto h = specialize_send(special.a, fd[2], {.message_size = s.message_size, .pipeline = s.pipeline});
            ASSERT_TRUE(h) << h.error().message;

            for (int i = 0; i < kSendsPerSocket; ++i) {
                size_t len;
                int pick = std::uniform_int_distribution<int>(0, 9)(rng);
                if (s.message_size && pick < 5) len = *s.message_size;
                else if (pick == 9) len = std::uniform_int_distribution<size_t>(max_payload + 1, 4000)(rng);
                else if (pick == 8) len = std::uniform_int_distribution<int>(0, 1)(rng) ? 0 : max_payload;
                else len = std::uniform_int_distribution<size_t>(0, max_payload)(rng);
                std::vector<uint8_t> data(len);
                for (uint8_t& b : data) b = static_cast<uint8_t>(rng());

                ssize_t r0 = send(generic.a, fd[0], data.data(), len);
                ssize_t r1 = udp_send<const FrozenUdpContext>(snap->context, data.data(), len);
                if (r1 == kSlowPath) r1 = frozen.a.udp().send_to(*snap->socket, data.data(), len, nullptr);
                frozen.a.flush_all();
                ssize_t r2 = h->send(data.data(), len);
                ASSERT_EQ(r0, r1) << "len " << len;
                ASSERT_EQ(r0, r2) << "len " << len;
                auto f0 = generic.take_frames();
                ASSERT_EQ(f0, frozen.take_frames()) << "len " << len;
                ASSERT_EQ(f0, special.take_frames()) << "len " << len;
                ++compared;
            }
            SendHandleInfo info = h->info();
            specialized_sends += info.specialized_sends;
            generic_sends += info.generic_sends;
            h->release();
            for (World* w : {&frozen, &special}) {
                ASSERT_EQ("", counters_differ(generic.a.stats(), w->a.stats()));
                ASSERT_EQ(0, std::memcmp(generic.a.stats().drops, w->a.stats().drops, sizeof generic.a.stats().drops));
                ASSERT_EQ(generic.pool.available(), w->pool.available());
            }
        }
    }
    std::printf("compared %llu sends in %llu scenarios: %llu specialized, %llu generic (fragmenting or declined)\n",
                (unsigned long long)compared, (unsigned long long)scenarios, (unsigned long long)specialized_sends,
                (unsigned long long)generic_sends);
    EXPECT_GT(specialized_sends, compared * 3 / 4);
}

}  // namespace
}  // namespace quasi::test
