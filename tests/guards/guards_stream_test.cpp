// Streams through a specialized handle while the network changes under it (label
// `guards`): under ViolationPolicy::reinforce the stale code keeps sending, its
// frames corrected at egress (guards/reinforce.hpp), until new code is replugged;
// under fallback_and_respecialize the generic path carries the traffic meanwhile.
// Either way every byte (TCP) and every datagram (UDP) arrives once and in order.
#include "guards/modes.hpp"
#include "jit/specialize.hpp"
#include "tests/guards/two_links.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

namespace quasi::test {
namespace {

enum class Change { route_to_second_link, gateway, arp_flush, icmp_frag_needed, interface_mtu };
const char* name(Change c) {
    switch (c) {
    case Change::route_to_second_link: return "route_to_second_link";
    case Change::gateway: return "gateway";
    case Change::arp_flush: return "arp_flush";
    case Change::icmp_frag_needed: return "icmp_frag_needed";
    case Change::interface_mtu: return "interface_mtu";
    }
    return "?";
}

// The stream's bytes: offset o carries kPattern[o % kPatternLen], a prime length so
// no send lines up with the pattern.
constexpr size_t kPatternLen = 65521;
std::vector<uint8_t> pattern() {
    std::vector<uint8_t> p(2 * kPatternLen);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < kPatternLen; ++i) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = p[i + kPatternLen] = uint8_t(x);
    }
    return p;
}

size_t stream_bytes() {
    const char* mib = std::getenv("QUASI_GUARDS_MIB");
    return (mib ? std::strtoul(mib, nullptr, 10) : 64) << 20;
}

struct Outcome {
    bool intact = true;             // every byte once, in order
    uint64_t delivered = 0;
    uint64_t specialized_in_window = 0;  // specialized sends between the change and the replug
    uint64_t generic_after_change = 0;
    double longest_gap_us = 0;      // wall clock between deliveries (reported, not asserted)
    bool ready_after = false;       // new code specialized for the changed state, plugged
    GuardStats guards;
};

void apply(TwoLinks& w, Change c, const uint8_t quoted[8], uint8_t protocol) {
    switch (c) {
    case Change::route_to_second_link:
        ASSERT_EQ(w.a.add_route(TwoLinks::kB0, 32, Ipv4Addr{}, 1), 0);
        break;
    case Change::gateway: {  // a second next hop on link 0 whose MAC is B's
        Ipv4Addr gateway = Ipv4Addr::from_octets(198, 18, 0, 254);
        ASSERT_TRUE(w.a.interface(0)->arp().add_static(gateway, w.link0.b().mac()));
        ASSERT_EQ(w.a.add_route(TwoLinks::kB0, 32, gateway, 0), 0);
        break;
    }
    case Change::arp_flush:
        w.a.interface(0)->arp().flush();
        break;
    case Change::icmp_frag_needed:
        w.icmp_frag_needed(TwoLinks::kA0, TwoLinks::kB0, protocol, quoted, 1000);
        break;
    case Change::interface_mtu:
        w.a.interface(0)->mtu.guarded_write(1000);
        break;
    }
}

// After the stream: the new code, once compiled, is plugged at the next send and the
// rule retired; the handle's counters.
Outcome finish(Outcome& out, SendHandle& h, uint64_t generic_at_change) {
    h.wait_ready();
    out.ready_after = h.ready();
    SendHandleInfo info = h.info();
    out.generic_after_change = info.generic_sends - generic_at_change;
    out.guards = info.guards;
    return out;
}

// Sends `total` bytes in 1448-byte writes through a handle with `policy`, the change
// half way; B reads as it goes.
// Each stream starts with no unused code cached: contexts name objects by address, so
// a world allocated where an earlier test's stood can find the code for its changed
// state cached already, plug it at once and leave no stale window to observe.
void drop_unused_code() {
    specializer_wait_idle();
    configure_specializer({.cache_max_entries = 0, .cache_max_bytes = 0});
    configure_specializer({});
}

Outcome tcp_stream(Change change, ViolationPolicy policy, size_t total, std::optional<uint32_t> adu = std::nullopt) {
    drop_unused_code();
    Outcome out;
    TwoLinks w;
    auto [fa, fb] = w.tcp_connection();
    EXPECT_GE(fb, 0);
    auto h = specialize_send(w.a, fa, {.message_size = adu, .on_violation = policy});
    EXPECT_TRUE(h) << h.error().message;
    if (!h) return out;
    const std::vector<uint8_t> bytes = pattern();
    std::vector<uint8_t> buf(1 << 16);
    size_t sent = 0;
    bool changed = false;
    uint64_t replugs_at_change = 0, specialized_at_change = 0, generic_at_change = 0;
    auto last_delivery = std::chrono::steady_clock::now();
    auto read_all = [&] {
        ssize_t n;
        while ((n = recv(w.b, fb, buf.data(), buf.size())) > 0) {
            if (std::memcmp(buf.data(), &bytes[out.delivered % kPatternLen], size_t(n)) != 0) out.intact = false;
            out.delivered += uint64_t(n);
            auto now = std::chrono::steady_clock::now();
            out.longest_gap_us = std::max(out.longest_gap_us,
                                          std::chrono::duration<double, std::micro>(now - last_delivery).count());
            last_delivery = now;
        }
    };
    for (int rounds = 0; out.delivered < total && rounds < 50'000'000; ++rounds) {
        if (!changed && sent >= total / 2) {
            TcpSocket& s = *w.a.descriptors().tcp(fa);
            uint8_t quoted[8];
            store_be16(quoted, s.local_port);
            store_be16(quoted + 2, s.remote_port);
            store_be32(quoted + 4, s.snd_una == s.snd_nxt ? s.snd_una - 1 : s.snd_una);
            SendHandleInfo info = h->info();
            replugs_at_change = info.guards.replugs;
            specialized_at_change = info.specialized_sends;
            generic_at_change = info.generic_sends;
            apply(w, change, quoted, uint8_t(IpProtocol::tcp));
            changed = true;
        }
        if (sent < total) {
            size_t n = std::min<size_t>(1448, total - sent);
            ssize_t rc = h->send(&bytes[sent % kPatternLen], n);
            if (rc > 0) sent += size_t(rc);
            if (changed) {
                SendHandleInfo info = h->info();
                if (info.guards.replugs == replugs_at_change) out.specialized_in_window = info.specialized_sends - specialized_at_change;
            }
        }
        w.poll_once();
        read_all();
    }
    return finish(out, *h, generic_at_change);
}

// Datagrams of `size` bytes, each numbered, through a handle on a UDP socket bound
// to the wildcard address; B's unconnected socket reads them and their source.
Outcome udp_stream(Change change, ViolationPolicy policy, size_t total, size_t size, Ipv4Addr* last_source) {
    drop_unused_code();
    Outcome out;
    TwoLinks w;
    int fb = socket(w.b, kAfInet, kSockDgram);
    bind(w.b, fb, SockAddr{{}, 6001});
    int fa = socket(w.a, kAfInet, kSockDgram);
    bind(w.a, fa, SockAddr{{}, 6000});
    connect(w.a, fa, SockAddr{TwoLinks::kB0, 6001});
    uint8_t probe = 0;
    send(w.a, fa, &probe, 1);
    w.pump();
    std::vector<uint8_t> buf(65536);
    while (recv(w.b, fb, buf.data(), buf.size()) > 0) {
    }
    auto h = specialize_send(w.a, fa, {.message_size = std::nullopt, .on_violation = policy});
    EXPECT_TRUE(h) << h.error().message;
    if (!h) return out;
    const std::vector<uint8_t> bytes = pattern();
    std::vector<uint8_t> datagram(size);
    uint64_t count = total / size, next_expected = 0;
    uint64_t replugs_at_change = 0, specialized_at_change = 0, generic_at_change = 0;
    auto last_delivery = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < count; ++i) {
        if (i == count / 2) {
            uint8_t quoted[8] = {};
            store_be16(quoted, 6000);
            store_be16(quoted + 2, 6001);
            SendHandleInfo info = h->info();
            replugs_at_change = info.guards.replugs;
            specialized_at_change = info.specialized_sends;
            generic_at_change = info.generic_sends;
            apply(w, change, quoted, uint8_t(IpProtocol::udp));
        }
        std::memcpy(datagram.data(), &bytes[(i * size) % kPatternLen], size);
        store_be32(datagram.data(), uint32_t(i));
        EXPECT_EQ(h->send(datagram.data(), size), ssize_t(size));
        if (i >= count / 2) {
            SendHandleInfo info = h->info();
            if (info.guards.replugs == replugs_at_change) out.specialized_in_window = info.specialized_sends - specialized_at_change;
        }
        w.pump();
        SockAddr from;
        ssize_t n;
        while ((n = recvfrom(w.b, fb, buf.data(), buf.size(), 0, &from)) > 0) {
            uint32_t seq = load_be32(buf.data());
            // Before the ARP entry is resolved again datagrams wait in its queue; none is lost here.
            if (seq != next_expected || size_t(n) != size ||
                std::memcmp(buf.data() + 4, &bytes[(seq * size) % kPatternLen + 4], size - 4) != 0)
                out.intact = false;
            ++next_expected;
            out.delivered += uint64_t(n);
            *last_source = from.addr;
            auto now = std::chrono::steady_clock::now();
            out.longest_gap_us = std::max(out.longest_gap_us,
                                          std::chrono::duration<double, std::micro>(now - last_delivery).count());
            last_delivery = now;
        }
    }
    if (next_expected != count) out.intact = false;
    return finish(out, *h, generic_at_change);
}

// What both protocols' streams must show. `window_expected`: the change alters the
// context (else the re-specialization is a cache hit, plugged at once: no window).
// `code_takes_all`: the code takes every send (a declared TCP message declines when
// the windows cannot take it whole: TcpLayer::send queues it, under either policy).
void expect_policies(const Outcome& reinforced, const Outcome& fallback, uint64_t delivered, bool window_expected,
                     bool code_takes_all = true) {
    for (const Outcome* o : {&reinforced, &fallback}) {
        EXPECT_TRUE(o->intact);
        EXPECT_EQ(o->delivered, delivered);
        EXPECT_GE(o->guards.total_violations(), 1u);
        EXPECT_TRUE(o->ready_after);
    }
    // Under deopt stress (guards/modes.hpp) forced violations fall back at random:
    // only the stream's integrity is asserted then.
    if (guard_modes().stress_every != 0) return;
    // Under reinforce the stale code carried the sends between the change and the
    // replug, its frames rewritten; under fallback the generic path did.
    if (window_expected) {
        EXPECT_GT(reinforced.specialized_in_window, 0u);
        EXPECT_GT(reinforced.guards.reinforced_frames, 0u);
        EXPECT_EQ(fallback.specialized_in_window, 0u);
        EXPECT_GT(fallback.generic_after_change, 0u);
    }
    if (code_takes_all) {
        EXPECT_EQ(reinforced.generic_after_change, 0u);
    }
    EXPECT_EQ(fallback.guards.reinforced_frames, 0u);
}

class GuardsTcpStream : public testing::TestWithParam<Change> {};

TEST_P(GuardsTcpStream, ReinforceKeepsTheSpecializedCodeSending) {
    const size_t total = stream_bytes();
    Outcome reinforced = tcp_stream(GetParam(), ViolationPolicy::reinforce, total);
    Outcome fallback = tcp_stream(GetParam(), ViolationPolicy::fallback_and_respecialize, total);
    // An interface MTU change lowers the MSS only at the next output
    // (TcpLayer::clamp_mss_to_route): its window is not asserted here (it is over tap,
    // interop_guards_tap).
    expect_policies(reinforced, fallback, total, GetParam() != Change::interface_mtu);
    std::printf("[guards] tcp %-22s reinforce: gap %.0f us, stale sends %llu, generic %llu, frames rewritten %llu, "
                "re-cut %llu | fallback: gap %.0f us, generic %llu\n",
                name(GetParam()), reinforced.longest_gap_us, (unsigned long long)reinforced.specialized_in_window,
                (unsigned long long)reinforced.generic_after_change,
                (unsigned long long)reinforced.guards.reinforced_frames,
                (unsigned long long)reinforced.guards.recut_segments, fallback.longest_gap_us,
                (unsigned long long)fallback.generic_after_change);
}

INSTANTIATE_TEST_SUITE_P(Changes, GuardsTcpStream,
                         testing::Values(Change::route_to_second_link, Change::gateway, Change::arp_flush,
                                         Change::icmp_frag_needed, Change::interface_mtu),
                         [](const testing::TestParamInfo<Change>& p) { return std::string(name(p.param)); });

// A declared message is cut into segments of the MSS the code was compiled for: after
// the MSS drops, the stale code's segments are re-cut at egress (RFC 9293 3.7.1).
TEST(GuardsTcpStreamAdu, ReinforceReCutsTheStaleCodesSegmentsAfterAnMssDrop) {
    const size_t total = stream_bytes() / 4;
    Outcome reinforced = tcp_stream(Change::icmp_frag_needed, ViolationPolicy::reinforce, total, 1448);
    Outcome fallback = tcp_stream(Change::icmp_frag_needed, ViolationPolicy::fallback_and_respecialize, total, 1448);
    expect_policies(reinforced, fallback, total, true, false);
    if (guard_modes().stress_every == 0) {
        EXPECT_GT(reinforced.guards.recut_segments, 0u);
    }
    std::printf("[guards] tcp adu icmp_frag_needed   reinforce: gap %.0f us, stale sends %llu, frames rewritten %llu, "
                "re-cut %llu | fallback: gap %.0f us, generic %llu\n",
                reinforced.longest_gap_us, (unsigned long long)reinforced.specialized_in_window,
                (unsigned long long)reinforced.guards.reinforced_frames,
                (unsigned long long)reinforced.guards.recut_segments, fallback.longest_gap_us,
                (unsigned long long)fallback.generic_after_change);
}

class GuardsUdpStream : public testing::TestWithParam<Change> {};

TEST_P(GuardsUdpStream, ReinforceKeepsTheSpecializedCodeSending) {
    const size_t total = stream_bytes() / 8;
    const size_t size = 1400;
    Ipv4Addr source_reinforced, source_fallback;
    Outcome reinforced = udp_stream(GetParam(), ViolationPolicy::reinforce, total, size, &source_reinforced);
    Outcome fallback = udp_stream(GetParam(), ViolationPolicy::fallback_and_respecialize, total, size, &source_fallback);
    // The gateway on link 0 has B's MAC: the context re-extracted is the old one.
    expect_policies(reinforced, fallback, total / size * size, GetParam() != Change::gateway);
    if (guard_modes().stress_every == 0) {
        if (GetParam() == Change::route_to_second_link) {
            // The generic path sends from the second link's address now; so does the stale code, translated.
            EXPECT_EQ(source_reinforced, TwoLinks::kA1);
            EXPECT_EQ(source_fallback, TwoLinks::kA1);
            EXPECT_GT(reinforced.guards.translations, 0u);
        }
        if (GetParam() == Change::icmp_frag_needed || GetParam() == Change::interface_mtu) {
            EXPECT_GT(reinforced.guards.fragments, 0u);
        }
    }
    std::printf("[guards] udp %-22s reinforce: gap %.0f us, stale sends %llu, frames rewritten %llu, fragments %llu, "
                "translated %llu | fallback: gap %.0f us, generic %llu\n",
                name(GetParam()), reinforced.longest_gap_us, (unsigned long long)reinforced.specialized_in_window,
                (unsigned long long)reinforced.guards.reinforced_frames,
                (unsigned long long)reinforced.guards.fragments, (unsigned long long)reinforced.guards.translations,
                fallback.longest_gap_us, (unsigned long long)fallback.generic_after_change);
}

INSTANTIATE_TEST_SUITE_P(Changes, GuardsUdpStream,
                         testing::Values(Change::route_to_second_link, Change::gateway, Change::arp_flush,
                                         Change::icmp_frag_needed, Change::interface_mtu),
                         [](const testing::TestParamInfo<Change>& p) { return std::string(name(p.param)); });

}  // namespace
}  // namespace quasi::test
