// TCP congestion control (NewReno, CUBIC), the RFC 6298 RTO estimator, RFC 6528 ISNs and
// SYN cookies, each against the RFC's arithmetic. The test may use floating point as a
// reference; the code under test does not.
#include "stack/tcp_congestion.hpp"
#include "stack/tcp_isn.hpp"
#include "stack/tcp_rto.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

namespace quasi {
namespace {

constexpr uint32_t S = 1460;  // SMSS used unless a test says otherwise
constexpr TimeNs kMs = kMillisecond;

// ---------------------------------------------------------------- RFC 6298 estimator

TEST(RttEstimator, FollowsRfc6298Arithmetic) {
    RttEstimator est;
    EXPECT_FALSE(est.has_sample());
    EXPECT_EQ(est.rto(), 1 * kSecond);  // 2.1: initial RTO

    // 2.2, R = 100 ms: SRTT = 100, RTTVAR = 50, RTO = 100 + max(1, 4 * 50) = 300 ms.
    est.sample(100 * kMs);
    EXPECT_EQ(est.srtt(), 100 * kMs);
    EXPECT_EQ(est.rttvar(), 50 * kMs);
    EXPECT_EQ(est.rto(), 300 * kMs);

    // 2.3, R' = 200 ms: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5;
    // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5; RTO = 112.5 + 4 * 62.5 = 362.5 ms.
    est.sample(200 * kMs);
    EXPECT_EQ(est.rttvar(), 62'500'000u);
    EXPECT_EQ(est.srtt(), 112'500'000u);
    EXPECT_EQ(est.rto(), 362'500'000u);

    // R' = 100 ms: RTTVAR = 3/4 * 62.5 + 1/4 * 12.5 = 50; SRTT = 7/8 * 112.5 + 12.5 =
    // 110.9375; RTO = 110.9375 + 200 = 310.9375 ms.
    est.sample(100 * kMs);
    EXPECT_EQ(est.rttvar(), 50 * kMs);
    EXPECT_EQ(est.srtt(), 110'937'500u);
    EXPECT_EQ(est.rto(), 310'937'500u);
}

TEST(RttEstimator, FloorGranularityAndCap) {
    RttEstimator est;  // 200 ms floor (Linux), not RFC 6298's 1 s
    est.sample(1 * kMs);
    EXPECT_EQ(est.rto(), 200 * kMs);

    // Without a floor, constant samples drive RTTVAR towards 0 and G = 1 ms remains.
    RttEstimator unfloored(0);
    for (int i = 0; i < 200; ++i) unfloored.sample(10 * kMs);
    EXPECT_EQ(unfloored.srtt(), 10 * kMs);
    EXPECT_EQ(unfloored.rto(), 11 * kMs);

    RttEstimator slow;
    slow.sample(100 * kSecond);  // 100 s + 4 * 50 s capped at 120 s
    EXPECT_EQ(slow.rto(), 120 * kSecond);
}

TEST(RttEstimator, BackoffDoublesCapsAndResets) {
    RttEstimator est;
    const TimeNs expected[] = {2, 4, 8, 16, 32, 64, 120, 120, 120};
    for (TimeNs e : expected) {
        est.backoff();
        EXPECT_EQ(est.rto(), e * kSecond);
    }
    EXPECT_EQ(est.backoff_count(), 9u);
    est.reset_backoff();
    EXPECT_EQ(est.rto(), 1 * kSecond);

    // A valid sample (Karn: only for a segment not retransmitted) ends the backoff too.
    est.backoff();
    est.backoff();
    est.sample(100 * kMs);
    EXPECT_EQ(est.rto(), 300 * kMs);
    EXPECT_EQ(est.backoff_count(), 0u);
}

// ---------------------------------------------------------------- simulation helpers

// A bulk sender: the window was full when the ACK arrived.
void ack_full_window(CongestionControl& cc, uint32_t acked, TimeNs now, TimeNs rtt) {
    cc.on_ack(acked, cc.cwnd(), now, rtt);
}

// One RTT of bulk transfer with delayed ACKs: the window sent at the start comes back as
// ACKs of two segments each, spread evenly over the RTT.
void run_round(CongestionControl& cc, TimeNs& now, TimeNs rtt) {
    const uint32_t acks = std::max(1u, cc.cwnd() / (2 * cc.smss()));
    for (uint32_t i = 0; i < acks; ++i) {
        now += rtt / acks;
        ack_full_window(cc, 2 * cc.smss(), now, rtt);
    }
}

// Slow start up to exactly `bytes`.
void grow_to(CongestionControl& cc, uint32_t bytes) {
    while (cc.cwnd() < bytes) cc.on_ack(std::min(2 * cc.smss(), bytes - cc.cwnd()), cc.cwnd(), kSecond, 0);
}

// A loss at `cwnd` bytes followed by a full ACK: congestion avoidance at ssthresh.
void lose_and_recover(CongestionControl& cc, uint32_t snd_nxt = 100'000) {
    const uint32_t flight = cc.cwnd();
    cc.on_enter_recovery(flight, snd_nxt, kSecond);
    ASSERT_TRUE(cc.on_recovery_ack(snd_nxt, flight, flight));
    ASSERT_EQ(cc.cwnd(), cc.ssthresh());
}

// ---------------------------------------------------------------- NewReno

TEST(NewReno, InitialWindowIsIw10) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    EXPECT_EQ(cc.cwnd(), 10 * S);  // RFC 6928: min(10 * 1460, max(2920, 14600))
    EXPECT_EQ(cc.ssthresh(), CongestionControl::kMaxWindow);
    EXPECT_TRUE(cc.in_slow_start());
    cc.init(CongestionAlgorithm::new_reno, 9000, 0);
    EXPECT_EQ(cc.cwnd(), 18000u);  // jumbo: max(2 * SMSS, 14600)
    cc.init(CongestionAlgorithm::new_reno, 536, 0);
    cc.on_ack(0, 0, kSecond, 0);  // the ACK of our SYN acknowledges no data
    cc.set_smss(1460);             // nothing sent yet: the IW follows the new SMSS
    EXPECT_EQ(cc.cwnd(), 10 * S);
}

TEST(NewReno, SlowStartDoublesPerRttWithAbc) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    TimeNs now = kSecond;
    // Delayed ACKs cover 2 segments; ABC with L = 2*SMSS credits both, so the window
    // doubles per RTT (ACK counting would give only 1.5x).
    for (uint32_t segments : {20u, 40u, 80u}) {
        run_round(cc, now, 50 * kMs);
        EXPECT_EQ(cc.cwnd(), segments * S);
    }
    // A stretch ACK for 10 segments still opens the window by only L = 2*SMSS.
    const uint32_t before = cc.cwnd();
    cc.on_ack(10 * S, before, now, 0);
    EXPECT_EQ(cc.cwnd(), before + 2 * S);
}

TEST(NewReno, ApplicationLimitedSenderDoesNotGrow) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    cc.on_ack(2 * S, 2 * S, kSecond, 0);  // only 2 of 10 segments were in flight
    EXPECT_EQ(cc.cwnd(), 10 * S);
    cc.on_ack(2 * S, 6 * S, kSecond, 0);  // 6 of 10: slow start may reach twice that
    EXPECT_EQ(cc.cwnd(), 12 * S);
}

TEST(NewReno, CongestionAvoidanceAddsOneSmssPerRtt) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    grow_to(cc, 40 * S);
    lose_and_recover(cc);
    EXPECT_EQ(cc.cwnd(), 20 * S);
    EXPECT_FALSE(cc.in_slow_start());
    TimeNs now = 2 * kSecond;
    run_round(cc, now, 50 * kMs);  // 10 ACKs of 2 segments: one cwnd acknowledged
    EXPECT_EQ(cc.cwnd(), 21 * S);
    for (int i = 0; i < 9; ++i) run_round(cc, now, 50 * kMs);
    // Rounds of floor(cwnd / 2 SMSS) ACKs acknowledge slightly less than cwnd when it
    // is odd, so ten rounds give 9 to 10 segments.
    EXPECT_GE(cc.cwnd(), 29 * S);
    EXPECT_LE(cc.cwnd(), 30 * S);
}

TEST(NewReno, FastRecoveryFollowsRfc5681AndRfc6582) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    grow_to(cc, 40 * S);
    const uint32_t snd_nxt = 5'000'000;
    EXPECT_TRUE(cc.may_enter_recovery());
    // Step 2 (eq. 4): ssthresh = max(FlightSize / 2, 2*SMSS) = 20; step 3: cwnd = 20 + 3.
    cc.on_enter_recovery(40 * S, snd_nxt, kSecond);
    EXPECT_TRUE(cc.in_recovery());
    EXPECT_EQ(cc.ssthresh(), 20 * S);
    EXPECT_EQ(cc.cwnd(), 23 * S);
    EXPECT_EQ(cc.recover(), snd_nxt);
    EXPECT_FALSE(cc.may_enter_recovery());
    // Step 4: each further dup ACK inflates by SMSS.
    cc.on_dup_ack_in_recovery();
    EXPECT_EQ(cc.cwnd(), 24 * S);
    // RFC 6582 step 5, partial ACK of 5 segments: deflate by 5, add back 1.
    EXPECT_FALSE(cc.on_recovery_ack(snd_nxt - 35 * S, 5 * S, 35 * S));
    EXPECT_EQ(cc.cwnd(), 20 * S);
    // A partial ACK of less than SMSS adds nothing back.
    EXPECT_FALSE(cc.on_recovery_ack(snd_nxt - 35 * S + 100, 100, 35 * S - 100));
    EXPECT_EQ(cc.cwnd(), 20 * S - 100);
    EXPECT_TRUE(cc.in_recovery());
    // Step 6, full ACK with 10 segments of new data outstanding:
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(20, 11).
    EXPECT_TRUE(cc.on_recovery_ack(snd_nxt, 35 * S - 100, 10 * S));
    EXPECT_FALSE(cc.in_recovery());
    EXPECT_EQ(cc.cwnd(), 11 * S);
    EXPECT_TRUE(cc.may_enter_recovery());
    EXPECT_FALSE(cc.on_recovery_ack(snd_nxt, 0, 0));  // not in recovery any more
}

TEST(NewReno, SsthreshFloorAndRecoverAcrossSequenceWrap) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    const uint32_t snd_nxt = 0x00000100;  // recover just past the wrap
    cc.on_enter_recovery(2 * S, snd_nxt, kSecond);
    EXPECT_EQ(cc.ssthresh(), 2 * S);  // max(1 SMSS, 2 SMSS)
    EXPECT_FALSE(cc.on_recovery_ack(0xFFFFFF00, S, S));
    EXPECT_TRUE(cc.on_recovery_ack(snd_nxt, S, 0));
    EXPECT_EQ(cc.cwnd(), 2 * S);  // min(2, max(0, 1) + 1)
}

TEST(NewReno, SackRecoveryLeavesCwndAtSsthresh) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    cc.set_sack_recovery(true);
    grow_to(cc, 40 * S);
    cc.on_enter_recovery(40 * S, 1000, kSecond);
    EXPECT_EQ(cc.cwnd(), 20 * S);  // RFC 6675: cwnd = ssthresh, pipe does the rest
    cc.on_dup_ack_in_recovery();
    EXPECT_FALSE(cc.on_recovery_ack(500, 5 * S, 30 * S));
    EXPECT_EQ(cc.cwnd(), 20 * S);
    EXPECT_TRUE(cc.on_recovery_ack(1000, 5 * S, 0));
    EXPECT_EQ(cc.cwnd(), 20 * S);
}

TEST(NewReno, TimeoutCollapsesToOneSegmentAndHoldsSsthresh) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    grow_to(cc, 40 * S);
    cc.on_timeout(30 * S, kSecond);
    EXPECT_EQ(cc.cwnd(), S);  // loss window
    EXPECT_EQ(cc.ssthresh(), 15 * S);
    EXPECT_FALSE(cc.may_enter_recovery());  // RFC 6582 section 4
    cc.on_timeout(6 * S, 2 * kSecond);       // the same segment timed out again
    EXPECT_EQ(cc.ssthresh(), 15 * S);
    EXPECT_EQ(cc.cwnd(), S);
    // Slow start after an RTO counts L = 1*SMSS per ACK (RFC 3465 2.3).
    cc.on_ack(2 * S, 2 * S, 3 * kSecond, 0);
    EXPECT_EQ(cc.cwnd(), 2 * S);
    cc.on_ack(2 * S, 2 * S, 3 * kSecond, 0);
    EXPECT_EQ(cc.cwnd(), 3 * S);
    for (int i = 0; i < 25; ++i) cc.on_ack(S, 3 * S, 3 * kSecond, 0);
    EXPECT_FALSE(cc.may_enter_recovery());
    cc.on_ack(S, 3 * S, 3 * kSecond, 0);
    EXPECT_TRUE(cc.may_enter_recovery());  // all 30 segments outstanding at the RTO acked
    // New data was acknowledged, so the next expiry is a new loss: ssthresh recomputed.
    cc.on_timeout(8 * S, 4 * kSecond);
    EXPECT_EQ(cc.ssthresh(), 4 * S);
}

TEST(NewReno, IdleRestartFallsBackToInitialWindow) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::new_reno, S, 0);
    grow_to(cc, 40 * S);
    cc.on_idle_restart(kSecond);
    EXPECT_EQ(cc.cwnd(), 10 * S);  // RFC 5681 4.1: min(cwnd, RW = IW)
    EXPECT_EQ(cc.ssthresh(), CongestionControl::kMaxWindow);
    grow_to(cc, 40 * S);
    lose_and_recover(cc);  // ssthresh 20
    grow_to(cc, 40 * S);   // congestion avoidance growth, by hand
    cc.on_idle_restart(kSecond);
    EXPECT_EQ(cc.cwnd(), 10 * S);
    EXPECT_EQ(cc.ssthresh(), 30 * S);  // 3/4 of the validated window (RFC 2861)
    cc.on_idle_restart(kSecond);
    EXPECT_EQ(cc.cwnd(), 10 * S);  // never increases cwnd
}

// ---------------------------------------------------------------- CUBIC

double w_cubic_reference(double t, double k, double w_max) { return 0.4 * std::pow(t - k, 3) + w_max; }

TEST(Cubic, IntegerCubeRootIsExactFloor) {
    for (uint64_t n = 0; n < 3000; ++n) {
        const uint64_t cube = n * n * n;
        EXPECT_EQ(integer_cbrt(cube), n);
        if (n > 0) {
            EXPECT_EQ(integer_cbrt(cube - 1), n - 1);
            EXPECT_EQ(integer_cbrt(cube + 1), n);
        }
    }
    std::mt19937_64 rng(7);
    for (int i = 0; i < 200'000; ++i) {
        const uint64_t a = rng() >> (rng() % 64);
        const unsigned __int128 x = integer_cbrt(a);
        ASSERT_LE(x * x * x, a);
        ASSERT_GT((x + 1) * (x + 1) * (x + 1), a);
    }
    EXPECT_EQ(integer_cbrt(UINT64_MAX), 2642245u);
}

TEST(Cubic, WmaxAndKMatchRfc9438Equations) {
    for (uint32_t smss : {536u, 1460u, 8948u}) {
        for (uint32_t segments : {20u, 100u, 1000u, 20000u}) {
            CongestionControl cc;
            cc.init(CongestionAlgorithm::cubic, smss, 0);
            grow_to(cc, segments * smss);
            lose_and_recover(cc);
            // 4.6 and 4.7: W_max = cwnd (first loss), ssthresh = 0.7 * cwnd.
            EXPECT_EQ(cc.cubic_w_max(), segments * smss);
            EXPECT_EQ(cc.ssthresh(), uint32_t(uint64_t{segments} * smss * 7 / 10));
            const uint32_t cwnd_epoch = cc.cwnd();
            ack_full_window(cc, 2 * smss, 2 * kSecond, 100 * kMs);
            ASSERT_TRUE(cc.cubic_epoch_running());
            // Eq. 2: K = cbrt((W_max - cwnd_epoch) / C), in segments and seconds.
            const double k = std::cbrt((double(segments) - double(cwnd_epoch) / smss) / 0.4);
            EXPECT_NEAR(double(cc.cubic_k()) / kSecond, k, 0.0011) << smss << " " << segments;
        }
    }
}

TEST(Cubic, CwndTracksWcubicOverTime) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::cubic, S, 0);
    grow_to(cc, 1000 * S);
    lose_and_recover(cc);  // W_max 1000 segments, cwnd 700, K = cbrt(750) = 9.09 s
    const TimeNs rtt = 100 * kMs, start = 10 * kSecond;
    TimeNs now = start;
    const double k = std::cbrt(300 / 0.4);
    double worst = 0;
    while (now < start + 16 * kSecond) {  // concave to K, then convex probing
        run_round(cc, now, rtt);
        const double reference = w_cubic_reference(double(now - start) / kSecond, k, 1000);
        const double error = std::abs(double(cc.cwnd()) / S - reference) / reference;
        worst = std::max(worst, error);
    }
    // Aiming one RTT ahead and closing the gap over that RTT's ACKs puts cwnd on the curve
    // at each round's end (0.03 % here; whole-ms t and byte rounding are far smaller);
    // the Reno estimate (0.53 segments per RTT) stays far below.
    EXPECT_LT(worst, 0.005);
    EXPECT_GT(double(cc.cwnd()) / S, 1100);  // 0.4 * 6.9^3 + 1000 = 1131 at t = 16 s
    EXPECT_LT(cc.cubic_w_est(), 800 * S);
}

// RFC 9438 4.3 modelled in double precision per ACK, as the reference.
struct RenoFriendlyModel {
    double cwnd, w_est, cwnd_prior;
    void on_ack(double segments_acked) {
        const double alpha = w_est >= cwnd_prior ? 1.0 : 0.9 / 1.7;
        w_est += alpha * segments_acked / cwnd;
        cwnd = std::max(cwnd, w_est);
    }
};

TEST(Cubic, RenoFriendlyRegionDominatesAtSmallBdp) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::cubic, S, 0);
    grow_to(cc, 20 * S);
    lose_and_recover(cc);  // W_max 20, cwnd 14, K = cbrt(15) = 2.47 s
    RenoFriendlyModel model{14, 14, 20};
    const TimeNs rtt = 1 * kMs;
    TimeNs now = 10 * kSecond;
    for (int round = 0; round < 60; ++round) {
        const uint32_t acks = std::max(1u, cc.cwnd() / (2 * S));
        for (uint32_t i = 0; i < acks; ++i) {
            now += rtt / acks;
            ack_full_window(cc, 2 * S, now, rtt);
            model.on_ack(2);
        }
        ASSERT_NEAR(double(cc.cwnd()) / S, model.cwnd, 0.05) << "round " << round;
    }
    // After 60 ms the cubic curve is still at its floor: cbrt-slow, Reno wins.
    const double cubic = w_cubic_reference(0.06, std::cbrt(15.0), 20);
    EXPECT_LT(cubic, 15);
    EXPECT_GT(double(cc.cwnd()) / S, 55);  // 20 after ~11 RTTs, then about +1 per RTT
    EXPECT_EQ(cc.cwnd(), cc.cubic_w_est());
}

TEST(Cubic, ApplicationLimitedTimeDoesNotCount) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::cubic, S, 0);
    grow_to(cc, 100 * S);
    lose_and_recover(cc);  // cwnd 70, K = 4.2 s
    ack_full_window(cc, 2 * S, 10 * kSecond, 100 * kMs);  // the epoch starts
    const uint32_t before = cc.cwnd();
    // Ten seconds in which the application keeps only 2 segments in flight: no growth,
    // and (RFC 9438 4.2) the time does not count towards t.
    for (TimeNs t = 10 * kSecond; t <= 20 * kSecond; t += 100 * kMs) cc.on_ack(2 * S, 2 * S, t, 100 * kMs);
    EXPECT_EQ(cc.cwnd(), before);
    // Had t run on, the target would be capped at 1.5 * cwnd, a full SMSS for this ACK.
    ack_full_window(cc, 2 * S, 20 * kSecond + 100 * kMs, 100 * kMs);
    EXPECT_LT(cc.cwnd(), before + S / 2);
}

TEST(Cubic, FastConvergenceLowersWmax) {
    for (bool fast : {true, false}) {
        CongestionControl cc;
        cc.init(CongestionAlgorithm::cubic, S, 0);
        cc.set_cubic_fast_convergence(fast);
        grow_to(cc, 100 * S);
        lose_and_recover(cc);
        EXPECT_EQ(cc.cubic_w_max(), 100 * S);
        EXPECT_EQ(cc.cwnd(), 70 * S);  // beta_cubic = 0.7
        grow_to(cc, 90 * S);  // Reno-friendly growth (no time passes), W_est may overshoot
        const uint32_t cwnd = cc.cwnd();
        ASSERT_LT(cwnd, 100 * S);  // loses again below the old plateau
        lose_and_recover(cc);
        // 4.7: W_max = cwnd * (1 + beta) / 2, about 90 * 0.85 = 76.5 segments, or just cwnd.
        EXPECT_EQ(cc.cubic_w_max(), fast ? uint64_t{cwnd} * 17 / 20 : cwnd);
        EXPECT_EQ(cc.ssthresh(), uint64_t{cwnd} * 7 / 10);
    }
}

TEST(Cubic, BetaReductionsAndTimeout) {
    CongestionControl cc;
    cc.init(CongestionAlgorithm::cubic, S, 0);
    grow_to(cc, 100 * S + 7);
    cc.on_enter_recovery(100 * S, 1, kSecond);
    EXPECT_EQ(cc.ssthresh(), (100 * S + 7) * 7 / 10);
    EXPECT_EQ(cc.cwnd(), cc.ssthresh() + 3 * S);
    // An RTO during that recovery keeps the reduction already made for this event.
    cc.on_timeout(100 * S, 2 * kSecond);
    EXPECT_EQ(cc.ssthresh(), (100 * S + 7) * 7 / 10);
    EXPECT_EQ(cc.cwnd(), S);

    cc.init(CongestionAlgorithm::cubic, S, 0);
    grow_to(cc, 100 * S);
    cc.on_timeout(100 * S, kSecond);  // 4.8: Reno's loss window, beta's ssthresh
    EXPECT_EQ(cc.cwnd(), S);
    EXPECT_EQ(cc.ssthresh(), 70 * S);
    grow_to(cc, 70 * S);
    ack_full_window(cc, 2 * S, 2 * kSecond, 10 * kMs);
    // First stage after an RTO: K = 0 and W_max = cwnd at the start of the stage.
    EXPECT_EQ(cc.cubic_k(), 0u);
    EXPECT_EQ(cc.cubic_w_max(), 70 * S);

    cc.init(CongestionAlgorithm::cubic, S, 0);
    cc.on_timeout(10 * S, kSecond);  // cwnd = 1 SMSS
    cc.on_enter_recovery(S, 1, kSecond);
    EXPECT_EQ(cc.ssthresh(), 2 * S);  // 0.7 SMSS raised to the floor of 2 SMSS
}

// ---------------------------------------------------------------- ISN and SYN cookies

constexpr SipKey kKey{0x0123456789abcdefull, 0xfedcba9876543210ull};
constexpr Ipv4Addr kA = Ipv4Addr::from_octets(192, 0, 2, 1);
constexpr Ipv4Addr kB = Ipv4Addr::from_octets(198, 51, 100, 7);

TEST(TcpIsn, TupleKeyAndClock) {
    const TimeNs t = 12345 * kSecond;
    const uint32_t base = tcp_isn(kKey, kA, 1000, kB, 80, t);
    std::set<uint32_t> seen{base};
    seen.insert(tcp_isn(kKey, kB, 1000, kA, 80, t));
    seen.insert(tcp_isn(kKey, kA, 80, kB, 1000, t));
    seen.insert(tcp_isn(kKey, kA, 1001, kB, 80, t));
    seen.insert(tcp_isn(kKey, kA, 1000, kB, 81, t));
    seen.insert(tcp_isn(kKey, Ipv4Addr{kA.value + 1}, 1000, kB, 80, t));
    seen.insert(tcp_isn(kKey, kA, 1000, Ipv4Addr{kB.value + 1}, 80, t));
    EXPECT_EQ(seen.size(), 7u);
    // M ticks every 4 us (RFC 6528 / RFC 9293 3.4.1).
    EXPECT_EQ(tcp_isn(kKey, kA, 1000, kB, 80, t + 3 * kMicrosecond), base);
    EXPECT_EQ(tcp_isn(kKey, kA, 1000, kB, 80, t + 4 * kMicrosecond), base + 1);
    EXPECT_EQ(tcp_isn(kKey, kA, 1000, kB, 80, t + 4 * kMillisecond), base + 1000);
    // A different key moves every tuple, unpredictably, but keeps the clock.
    const SipKey other{kKey.k0, kKey.k1 ^ 1};
    const uint32_t rekeyed = tcp_isn(other, kA, 1000, kB, 80, t);
    EXPECT_NE(rekeyed, base);
    EXPECT_EQ(tcp_isn(other, kA, 1000, kB, 80, t + 4 * kMillisecond), rekeyed + 1000);
    EXPECT_NE(rekeyed - base, tcp_isn(other, kA, 1001, kB, 80, t) - tcp_isn(kKey, kA, 1001, kB, 80, t));
}

TEST(SynCookie, RoundTripsEveryMss) {
    const TimeNs t = 1'000'000 * kSecond;
    const std::pair<uint16_t, uint16_t> cases[] = {{536, 536},   {1220, 1220}, {1440, 1440}, {1460, 1460},
                                                   {100, 536},   {1300, 1220}, {1450, 1440}, {9000, 1460}};
    for (auto [announced, encoded] : cases) {
        const uint32_t cookie = syn_cookie_make(kKey, kA, 40000, kB, 443, 0xdeadbeef, announced, t);
        uint16_t mss = 0;
        EXPECT_TRUE(syn_cookie_check(kKey, kA, 40000, kB, 443, cookie, 0xdeadbeef, t + kSecond, mss));
        EXPECT_EQ(mss, encoded) << announced;
    }
}

TEST(SynCookie, AgesOutAfterTwoPeriods) {
    const TimeNs made = 5000 * kSynCookiePeriod + 10 * kSecond;
    const uint32_t cookie = syn_cookie_make(kKey, kA, 40000, kB, 443, 77, 1460, made);
    uint16_t mss = 0;
    for (TimeNs age : {TimeNs{0}, kSynCookiePeriod, 2 * kSynCookiePeriod, 2 * kSynCookiePeriod + 50 * kSecond})
        EXPECT_TRUE(syn_cookie_check(kKey, kA, 40000, kB, 443, cookie, 77, made + age, mss)) << age;
    for (uint64_t periods : {3u, 4u, 63u, 64u, 65u, 66u, 128u})
        EXPECT_FALSE(syn_cookie_check(kKey, kA, 40000, kB, 443, cookie, 77, made + periods * kSynCookiePeriod, mss))
            << periods;
}

TEST(SynCookie, TamperedFieldsRejected) {
    const TimeNs t = 777 * kSynCookiePeriod;
    const uint32_t cookie = syn_cookie_make(kKey, kA, 40000, kB, 443, 1234, 1460, t);
    uint16_t mss = 0;
    ASSERT_TRUE(syn_cookie_check(kKey, kA, 40000, kB, 443, cookie, 1234, t, mss));
    EXPECT_FALSE(syn_cookie_check(kKey, Ipv4Addr{kA.value ^ 1}, 40000, kB, 443, cookie, 1234, t, mss));
    EXPECT_FALSE(syn_cookie_check(kKey, kA, 40001, kB, 443, cookie, 1234, t, mss));
    EXPECT_FALSE(syn_cookie_check(kKey, kA, 40000, Ipv4Addr{kB.value ^ 1}, 443, cookie, 1234, t, mss));
    EXPECT_FALSE(syn_cookie_check(kKey, kA, 40000, kB, 444, cookie, 1234, t, mss));
    EXPECT_FALSE(syn_cookie_check(kKey, kA, 40000, kB, 443, cookie, 1235, t, mss));
    EXPECT_FALSE(syn_cookie_check(kKey, kA, 40000, kB, 443, cookie, 1233, t, mss));
    EXPECT_FALSE(syn_cookie_check(SipKey{1, 2}, kA, 40000, kB, 443, cookie, 1234, t, mss));
    for (int bit = 0; bit < 32; ++bit)  // counter, MSS index and MAC bits alike
        EXPECT_FALSE(syn_cookie_check(kKey, kA, 40000, kB, 443, cookie ^ (1u << bit), 1234, t, mss)) << bit;
}

TEST(SynCookie, RandomCookiesAlmostNeverPass) {
    // Expected passes: 10^6 * 3/64 * 2^-24 = 0.003.
    std::mt19937 rng(2024);
    const TimeNs t = 31337 * kSynCookiePeriod;
    int accepted = 0;
    uint16_t mss = 0;
    for (int i = 0; i < 1'000'000; ++i)
        accepted += syn_cookie_check(kKey, kA, 40000, kB, 443, static_cast<uint32_t>(rng()), 99, t, mss);
    EXPECT_LE(accepted, 1);
}

}  // namespace
}  // namespace quasi
