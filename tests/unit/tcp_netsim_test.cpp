// A seeded network simulation: two stacks across an impaired in-memory link
// (loss, duplication, reordering, delay, corruption in both directions), moving
// data both ways over TCP. Every byte must arrive intact and in order, within a
// bounded number of simulated seconds (smoltcp's tests/netsim.rs in spirit).
#include "ports/x86/impaired.hpp"
#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace quasi::test {
namespace {

constexpr Ipv4Addr kA = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kB = Ipv4Addr::from_octets(198, 18, 0, 2);

struct Profile {
    const char* name;
    ImpairedNetif::Impairments impair;
    CongestionAlgorithm algorithm;
    bool sack;
};

struct Outcome {
    bool intact = false;
    double seconds = 0;
    uint64_t retransmits = 0;
};

Outcome run(const Profile& profile, size_t bytes, uint64_t seed) {
    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 8192}};
    MemLink link;
    ImpairedNetif::Config ic;
    ic.rx = profile.impair;
    ic.tx = profile.impair;
    ic.seed = seed;
    ImpairedNetif wire_a(link.a(), pool, clock, ic);
    Stack::Config config;
    config.seed = seed;
    config.tcp.congestion = profile.algorithm;
    config.tcp.sack = profile.sack;
    Stack a(config, clock, &pool);
    config.seed = seed + 1;
    Stack b(config, clock, &pool);
    a.add_interface(wire_a, kA, 24);
    b.add_interface(link.b(), kB, 24);

    int l = socket(b, kAfInet, kSockStream);
    bind(b, l, SockAddr{Ipv4Addr{}, 5001});
    listen(b, l, 4);
    int c = socket(a, kAfInet, kSockStream);
    connect(a, c, SockAddr{kB, 5001});
    std::vector<uint8_t> data(bytes);
    Random r(seed);
    for (auto& byte : data) byte = static_cast<uint8_t>(r.next());
    std::vector<uint8_t> got, echoed, buf(65536);
    got.reserve(bytes);
    int s = -1;
    size_t sent = 0, echo_sent = 0;
    TimeNs start = clock.now();
    const TimeNs limit = 600 * kSecond;
    while (clock.now() - start < limit && echoed.size() < bytes) {
        if (s < 0) s = accept(b, l, nullptr);
        if (sent < bytes) {
            ssize_t n = send(a, c, data.data() + sent, bytes - sent);
            if (n > 0) sent += size_t(n);
        }
        a.poll();
        b.poll();
        wire_a.flush_due();
        ssize_t n;
        if (s >= 0) {
            while ((n = recv(b, s, buf.data(), buf.size())) > 0) got.insert(got.end(), buf.begin(), buf.begin() + n);
            // B echoes everything back, so both directions carry data.
            while (echo_sent < got.size()) {
                n = send(b, s, got.data() + echo_sent, got.size() - echo_sent);
                if (n <= 0) break;
                echo_sent += size_t(n);
            }
        }
        while ((n = recv(a, c, buf.data(), buf.size())) > 0) echoed.insert(echoed.end(), buf.begin(), buf.begin() + n);
        clock.advance(100 * kMicrosecond);
    }
    if (getenv("NETSIM_DEBUG")) {
        TcpSocket* ta = a.descriptors().tcp(c);
        TcpSocket* tb = s >= 0 ? b.descriptors().tcp(s) : nullptr;
        fprintf(stderr, "sent=%zu got=%zu echo_sent=%zu echoed=%zu\n", sent, got.size(), echo_sent, echoed.size());
        for (TcpSocket* t : {ta, tb}) {
            if (!t) continue;
            fprintf(stderr, " state=%s una=%u nxt=%u max=%u wnd=%u cwnd=%u ssthresh=%u sndbuf=%zu rcv_nxt=%u rcvbuf=%zu ooo=%zu rto=%llu retx=%u inrec=%d dup=%u armed=%d persist=%d mss=%u\n",
                name(t->state), t->snd_una - t->iss, t->snd_nxt - t->iss, t->snd_max - t->iss, t->snd_wnd, t->cc.cwnd(), t->cc.ssthresh(),
                t->send_buffer.size(), t->rcv_nxt - t->irs, t->receive_buffer.size(), t->out_of_order.count(),
                (unsigned long long)(t->rtt.rto() / kMillisecond), t->retransmits, t->in_recovery, t->dup_acks, t->retransmit_timer.armed(), t->persist_mode, t->snd_mss.get());
        }
        fprintf(stderr, " arp a->b state=%d pending=%zu, b->a state=%d pending=%zu; wire rx lost=%llu passed=%llu tx lost=%llu passed=%llu\n",
                int(a.interface(0)->arp().state_of(kB)), a.interface(0)->arp().pending_frames(),
                int(b.interface(0)->arp().state_of(kA)), b.interface(0)->arp().pending_frames(),
                (unsigned long long)wire_a.rx_counters().lost, (unsigned long long)wire_a.rx_counters().passed,
                (unsigned long long)wire_a.tx_counters().lost, (unsigned long long)wire_a.tx_counters().passed);
        fprintf(stderr, " pool available=%zu; link a inbox=%zu b inbox=%zu\n", pool.available(), link.a().rx_pending(), link.b().rx_pending());
        for (Stack* st : {&a, &b})
            for (size_t i = 0; i < kCounterCount; ++i)
                if (st->stats().counters[i]) fprintf(stderr, "  %s=%llu\n", name(Counter(i)), (unsigned long long)st->stats().counters[i]);
        for (Stack* st : {&a, &b})
            for (size_t i = 0; i < kDropReasonCount; ++i)
                if (st->stats().drops[i]) fprintf(stderr, "  drop %s=%llu\n", name(Drop(i)), (unsigned long long)st->stats().drops[i]);
    }
    Outcome o;
    o.intact = got == data && echoed == data;
    o.seconds = double(clock.now() - start) / kSecond;
    o.retransmits = a.stats()[Counter::tcp_retransmits] + b.stats()[Counter::tcp_retransmits];
    return o;
}

class TcpNetsim : public ::testing::TestWithParam<Profile> {};

TEST_P(TcpNetsim, EveryByteArrivesInOrderBothWays) {
    const Profile& p = GetParam();
    for (uint64_t seed : {1u, 2u, 3u}) {
        Outcome o = run(p, 2 << 20, seed);
        EXPECT_TRUE(o.intact) << p.name << " seed " << seed << " after " << o.seconds << " s";
        std::printf("  %-22s seed %llu: 2 MiB each way in %.3f simulated s, %llu retransmissions\n", p.name,
                    (unsigned long long)seed, o.seconds, (unsigned long long)o.retransmits);
        RecordProperty(std::string(p.name) + "_retransmits_seed" + std::to_string(seed), std::to_string(o.retransmits));
    }
}

ImpairedNetif::Impairments loss(double p) {
    ImpairedNetif::Impairments i;
    i.loss = p;
    return i;
}

ImpairedNetif::Impairments delayed_reorder() {
    ImpairedNetif::Impairments i;
    i.delay_ns = 20 * kMillisecond;
    i.reorder = 0.10;
    return i;
}

ImpairedNetif::Impairments duplicate() {
    ImpairedNetif::Impairments i;
    i.duplicate = 0.01;
    return i;
}

ImpairedNetif::Impairments corrupt() {
    ImpairedNetif::Impairments i;
    i.corrupt = 0.001;
    return i;
}

INSTANTIATE_TEST_SUITE_P(
    Profiles, TcpNetsim,
    ::testing::Values(Profile{"clean", {}, CongestionAlgorithm::cubic, true},
                      Profile{"loss1_cubic_sack", loss(0.01), CongestionAlgorithm::cubic, true},
                      Profile{"loss5_cubic_sack", loss(0.05), CongestionAlgorithm::cubic, true},
                      Profile{"loss5_newreno_nosack", loss(0.05), CongestionAlgorithm::new_reno, false},
                      Profile{"delay20_reorder10", delayed_reorder(), CongestionAlgorithm::cubic, true},
                      Profile{"dup1", duplicate(), CongestionAlgorithm::new_reno, true},
                      Profile{"corrupt01", corrupt(), CongestionAlgorithm::cubic, true}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace quasi::test
