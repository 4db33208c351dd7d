// A seeded network simulation: two stacks across an impaired in-memory link
// (loss, duplication, reordering, delay, corruption in both directions), moving
// data both ways over TCP. Every byte must arrive intact and in order, within a
// bounded number of simulated seconds (smoltcp's tests/netsim.rs in spirit), and
// each profile's fault must have happened and been handled (expect_fault_handled):
// the decorator's counters of it, and the stacks' retransmissions, out-of-order
// queueing, discarded duplicates or caught damage.
#include "ports/x86/impaired.hpp"
#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ostream>
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
void PrintTo(const Profile& p, std::ostream* os) { *os << p.name; }

// What happened on the wire and how the two stacks answered it: the assertions
// below check that each profile's fault fired and was handled, so that no profile
// passes as if the link were clean.
struct Outcome {
    bool intact = false;
    double seconds = 0;
    uint64_t retransmits = 0;
    ImpairedNetif::Counters to_a, from_a;  // the decorator on a's side: rx and tx
    uint64_t retransmits_a = 0, retransmits_b = 0;
    uint64_t fast_retransmits = 0, rto_expiries = 0;  // both stacks
    uint64_t out_of_order_a = 0, out_of_order_b = 0;
    uint64_t out_of_window = 0;  // both stacks: duplicates (and late copies) discarded
    uint64_t damaged = 0;        // both stacks: frames dropped by checksum or header checks
    uint64_t drops = 0;          // both stacks, any reason (ARP included)
};

// Drops that catch a damaged frame (as tests/interop/tcp_faults.sh's caught_damage).
uint64_t damaged_drops(const Stats& st) {
    uint64_t n = 0;
    for (size_t i = 0; i < kDropReasonCount; ++i) {
        const std::string r = name(Drop(i));
        for (const char* prefix : {"eth_", "ipv4_bad_", "ipv4_too_short", "tcp_bad_", "tcp_too_short", "arp_bad_",
                                   "arp_too_short"})
            if (r.rfind(prefix, 0) == 0) n += st.drops[i];
    }
    return n;
}

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
    o.retransmits_a = a.stats()[Counter::tcp_retransmits];
    o.retransmits_b = b.stats()[Counter::tcp_retransmits];
    o.retransmits = o.retransmits_a + o.retransmits_b;
    o.to_a = wire_a.rx_counters();
    o.from_a = wire_a.tx_counters();
    for (Stack* st : {&a, &b}) {
        o.fast_retransmits += st->stats()[Counter::tcp_fast_retransmits];
        o.rto_expiries += st->stats()[Counter::tcp_rto_expiries];
        o.out_of_window += st->stats()[Drop::tcp_out_of_window];
        o.damaged += damaged_drops(st->stats());
        o.drops += st->stats().total_drops();
    }
    o.out_of_order_a = a.stats()[Counter::tcp_out_of_order];
    o.out_of_order_b = b.stats()[Counter::tcp_out_of_order];
    return o;
}

class TcpNetsim : public ::testing::TestWithParam<Profile> {};

// The profile's fault happened in both directions, and the stacks reacted to it.
void expect_fault_handled(const Profile& p, const Outcome& o) {
    const ImpairedNetif::Impairments& i = p.impair;
    if (i.loss > 0) {
        EXPECT_GT(o.to_a.lost, 0u);
        EXPECT_GT(o.from_a.lost, 0u);
        // Both stacks lost data segments: each retransmitted, and not only by timeout.
        EXPECT_GT(o.retransmits_a, 0u);
        EXPECT_GT(o.retransmits_b, 0u);
        EXPECT_GT(o.fast_retransmits, 0u);
    }
    if (i.reorder > 0) {
        EXPECT_GT(o.to_a.reordered, 0u);
        EXPECT_GT(o.from_a.reordered, 0u);
        EXPECT_GT(o.to_a.delayed, 0u);
        // Each stack received data out of order and queued it.
        EXPECT_GT(o.out_of_order_a, 0u);
        EXPECT_GT(o.out_of_order_b, 0u);
    }
    if (i.duplicate > 0) {
        EXPECT_GT(o.to_a.duplicated, 0u);
        EXPECT_GT(o.from_a.duplicated, 0u);
        EXPECT_GT(o.out_of_window, 0u);  // the copies of data segments were discarded
    }
    if (i.loss == 0 && i.reorder == 0 && i.duplicate == 0 && i.corrupt == 0 && i.delay_ns == 0) {
        // A clean link: nothing impaired, nothing resent, no segment dropped (the
        // only drops are each stack seeing the other's gratuitous ARP).
        EXPECT_EQ(o.to_a.lost + o.from_a.lost + o.to_a.duplicated + o.from_a.duplicated + o.to_a.corrupted +
                      o.from_a.corrupted,
                  0u);
        EXPECT_EQ(o.retransmits, 0u);
        EXPECT_EQ(o.damaged + o.out_of_window, 0u);
        EXPECT_LE(o.drops, 2u);
    }
}

TEST_P(TcpNetsim, EveryByteArrivesInOrderBothWays) {
    const Profile& p = GetParam();
    uint64_t corrupted = 0, damaged = 0;
    for (uint64_t seed : {1u, 2u, 3u}) {
        Outcome o = run(p, 2 << 20, seed);
        EXPECT_TRUE(o.intact) << p.name << " seed " << seed << " after " << o.seconds << " s";
        {
            SCOPED_TRACE(std::string(p.name) + " seed " + std::to_string(seed));
            expect_fault_handled(p, o);
        }
        corrupted += o.to_a.corrupted + o.from_a.corrupted;
        damaged += o.damaged;
        std::printf("  %-22s seed %llu: 2 MiB each way in %.3f simulated s, %llu retransmissions (%llu fast, %llu rto);"
                    " to/from a: lost %llu/%llu dup %llu/%llu corrupted %llu/%llu reordered %llu/%llu; caught %llu\n",
                    p.name, (unsigned long long)seed, o.seconds, (unsigned long long)o.retransmits,
                    (unsigned long long)o.fast_retransmits, (unsigned long long)o.rto_expiries,
                    (unsigned long long)o.to_a.lost, (unsigned long long)o.from_a.lost,
                    (unsigned long long)o.to_a.duplicated, (unsigned long long)o.from_a.duplicated,
                    (unsigned long long)o.to_a.corrupted, (unsigned long long)o.from_a.corrupted,
                    (unsigned long long)o.to_a.reordered, (unsigned long long)o.from_a.reordered,
                    (unsigned long long)o.damaged);
        RecordProperty(std::string(p.name) + "_retransmits_seed" + std::to_string(seed), std::to_string(o.retransmits));
    }
    if (p.impair.corrupt > 0) {
        // Over the three runs (0.1% of a few thousand frames each): frames were
        // damaged, and every one the stacks dropped was one of those (none of the
        // others was mistaken for damage); the data arrived intact (above).
        EXPECT_GT(corrupted, 0u) << p.name;
        EXPECT_GT(damaged, 0u) << p.name;
        EXPECT_LE(damaged, corrupted) << p.name;
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
