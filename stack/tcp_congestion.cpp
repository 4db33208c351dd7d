#include "stack/tcp_congestion.hpp"

#include "stack/tcp_seq.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace quasi {

namespace {

// kCbrtSeed[m] = ceil(16 * cbrt(m + 1)): the smallest v with v^3 >= (m + 1) * 16^3. For any
// a whose leading bits, after dropping a multiple of 3 bits, are m, cbrt(a) lies below
// kCbrtSeed[m] / 16 scaled back, so the seed is an overestimate within about 7 %.
constexpr std::array<uint8_t, 64> make_cbrt_seed() {
    std::array<uint8_t, 64> seed{};
    for (uint32_t m = 0; m < 64; ++m) {
        uint32_t v = 0;
        while (v * v * v < (m + 1) * 4096) ++v;
        seed[m] = static_cast<uint8_t>(v);
    }
    return seed;
}
constexpr std::array<uint8_t, 64> kCbrtSeed = make_cbrt_seed();

// RFC 9438 constants as exact rationals: C = 0.4 = 2/5 segments/s^3, beta_cubic = 7/10,
// alpha_cubic = 3 * (1 - beta) / (1 + beta) = 9/17, fast convergence (1 + beta) / 2 = 17/20.
constexpr uint64_t kAlphaNumerator = 9;
constexpr uint64_t kAlphaDenominator = 17;
// CUBIC time is whole milliseconds; t and |t - K| stay below 2^20 ms (17 minutes), so the
// cube fits 60 bits. K itself is below 2^20 ms for any window up to kMaxWindow.
constexpr TimeNs kCubicTimeCap = (TimeNs{1} << 20) * kMillisecond;

uint32_t clamp_smss(uint32_t smss) {
    return std::clamp(smss, CongestionControl::kMinSmss, CongestionControl::kMaxSmss);
}
uint32_t cap_window(uint64_t bytes) {
    return static_cast<uint32_t>(std::min<uint64_t>(bytes, CongestionControl::kMaxWindow));
}

}  // namespace

uint32_t integer_cbrt(uint64_t a) {
    if (a == 0) return 0;
    // Drop a multiple of 3 bits so that at most 6 remain: a table index, and cbrt of the
    // dropped power of two is an exact shift.
    const int bits = std::bit_width(a);
    const int shift = bits > 6 ? ((bits - 4) / 3) * 3 : 0;
    const uint64_t m = a >> shift;
    uint64_t x = ((uint64_t{kCbrtSeed[m]} << (shift / 3)) + 15) >> 4;  // >= cbrt(a)
    // Newton's step for x^3 = a. From above, each integer step strictly decreases while
    // x > floor(cbrt(a)) and never goes below it (AM-GM), so the first step that does not
    // decrease stops at the floor exactly. Two or three steps from this seed, plus the
    // confirming one; x < 2^22, so x * x cannot overflow.
    for (;;) {
        const uint64_t next = (2 * x + a / (x * x)) / 3;
        if (next >= x) return static_cast<uint32_t>(x);
        x = next;
    }
}

uint32_t CongestionControl::initial_window() const {
    // RFC 6928 section 2.
    return std::min(10 * smss_, std::max(2 * smss_, uint32_t{14600}));
}

void CongestionControl::init(CongestionAlgorithm algo, uint32_t smss, TimeNs now) {
    algo_ = algo;
    smss_ = clamp_smss(smss);
    cwnd_ = initial_window();
    ssthresh_ = kMaxWindow;
    recover_ = 0;
    bytes_to_recover_ = 0;
    avoidance_credit_ = 0;
    in_recovery_ = false;
    started_ = false;
    timeout_retransmitting_ = false;
    slow_start_after_rto_ = false;
    cubic_ = Cubic{};
    cubic_.last_ack = now;
}

void CongestionControl::set_smss(uint32_t smss) {
    smss_ = clamp_smss(smss);
    if (!started_) {
        cwnd_ = initial_window();
        return;
    }
    cwnd_ = std::max(cwnd_, smss_);
    ssthresh_ = std::max(ssthresh_, 2 * smss_);
    cubic_.epoch_running = false;
}

bool CongestionControl::cwnd_limited(uint32_t flight_before) const {
    // Full-sized segments only: a window is full once less than one SMSS of it is free.
    if (uint64_t{flight_before} + smss_ > cwnd_) return true;
    // Slow start may grow to twice what was in flight (Linux tcp_is_cwnd_limited), so a
    // sender using half its window still doubles per RTT.
    return in_slow_start() && 2 * uint64_t{flight_before} > cwnd_;
}

void CongestionControl::consume_recover(uint32_t acked_bytes) {
    bytes_to_recover_ = acked_bytes >= bytes_to_recover_ ? 0 : bytes_to_recover_ - acked_bytes;
}

void CongestionControl::on_ack(uint32_t acked_bytes, uint32_t flight_before, TimeNs now, TimeNs rtt) {
    // Recovery ACKs go to on_recovery_ack; an ACK of nothing new (the SYN's) changes nothing.
    if (in_recovery_ || acked_bytes == 0) return;
    started_ = true;
    timeout_retransmitting_ = false;  // new data acknowledged: a later RTO is a new loss
    consume_recover(acked_bytes);
    if (!cwnd_limited(flight_before)) {
        // RFC 9438 4.2: t must not include application-limited time; slide the epoch.
        if (algo_ == CongestionAlgorithm::cubic && cubic_.epoch_running && now > cubic_.last_ack)
            cubic_.epoch_start += now - cubic_.last_ack;
        cubic_.last_ack = now;
        return;
    }
    uint32_t left = acked_bytes;
    if (in_slow_start()) {
        left = slow_start(acked_bytes);
        if (left == 0) return;
    }
    if (algo_ == CongestionAlgorithm::cubic)
        cubic_avoidance(left, now, rtt);
    else
        reno_avoidance(left);
}

uint32_t CongestionControl::slow_start(uint32_t acked_bytes) {
    // RFC 3465 2.2 and 2.3: count bytes, not ACKs (so ACK division, Savage et al. 1999,
    // gains nothing), but at most L per ACK, so a stretch ACK cannot release a burst.
    const uint32_t limit = (slow_start_after_rto_ ? 1 : 2) * smss_;
    const uint32_t increase = std::min(acked_bytes, limit);
    const uint32_t room = ssthresh_ - cwnd_;
    if (increase < room) {
        cwnd_ += increase;
        return 0;
    }
    // Reaching ssthresh: whatever the ACK covered beyond it counts in congestion avoidance.
    cwnd_ = ssthresh_;
    slow_start_after_rto_ = false;
    return acked_bytes > room ? acked_bytes - room : 0;
}

void CongestionControl::reno_avoidance(uint32_t acked_bytes) {
    // RFC 5681 3.1 (the RECOMMENDED byte counting of RFC 3465 2.1): +SMSS each time a
    // cwnd's worth of bytes has been acknowledged, at most once per ACK.
    uint64_t credit = uint64_t{avoidance_credit_} + acked_bytes;
    if (credit >= cwnd_) {
        credit -= cwnd_;
        cwnd_ = cap_window(uint64_t{cwnd_} + smss_);
    }
    avoidance_credit_ = static_cast<uint32_t>(std::min<uint64_t>(credit, cwnd_ - 1));
}

void CongestionControl::cubic_start_epoch(TimeNs now) {
    Cubic& c = cubic_;
    c.epoch_running = true;
    c.epoch_start = now;
    c.last_ack = now;
    c.w_est = cwnd_;  // RFC 9438 4.3: W_est = cwnd_epoch
    c.w_est_credit = 0;
    c.growth_credit = 0;
    if (c.w_max == 0) c.cwnd_prior = cwnd_;  // RFC 9438 4.10: no congestion event yet
    if (c.after_timeout || c.w_max <= cwnd_) {
        // RFC 9438 4.8 (first stage after an RTO) and 4.10 (no W_max yet): K = 0 and the
        // curve starts at cwnd_epoch, i.e. straight into the convex, probing region.
        if (c.after_timeout || c.w_max == 0) c.w_max = cwnd_;
        c.origin = cwnd_;
        c.k_ms = 0;
    } else {
        // RFC 9438 eq. 2, K = cbrt((W_max - cwnd_epoch) / C) s, in ms and bytes:
        // cbrt((W_max - cwnd_epoch) / SMSS / 0.4 * 10^9) = cbrt(diff * 2.5e9 / SMSS).
        // diff < 2^30, so the product stays below 2^62.
        c.origin = c.w_max;
        c.k_ms = integer_cbrt(uint64_t{c.w_max - cwnd_} * 2'500'000'000ull / smss_);
    }
    c.after_timeout = false;
}

uint64_t CongestionControl::cubic_window(uint64_t t_ms) const {
    // RFC 9438 eq. 1, W_cubic(t) = C * (t - K)^3 + W_max, in bytes with t in ms:
    // C * SMSS * offset^3 / 10^9 = (offset^3 / 10^6) * SMSS * 2 / 5000. The /10^6 first keeps
    // the product under 2^57 and loses under a byte (10^-3 s^3 is 0.0004 segments).
    const Cubic& c = cubic_;
    const uint64_t k = c.k_ms;
    const uint64_t offset = t_ms >= k ? t_ms - k : k - t_ms;
    const uint64_t delta = (offset * offset * offset / 1'000'000) * smss_ * 2 / 5000;
    if (t_ms >= k) return std::min<uint64_t>(uint64_t{c.origin} + delta, kMaxWindow);
    return delta >= c.origin ? 0 : c.origin - delta;
}

void CongestionControl::cubic_avoidance(uint32_t acked_bytes, TimeNs now, TimeNs rtt) {
    if (!cubic_.epoch_running) cubic_start_epoch(now);
    Cubic& c = cubic_;
    c.last_ack = now;
    const uint64_t window = std::max(cwnd_, uint32_t{1});  // cwnd >= SMSS always; a divisor needs it said
    const TimeNs elapsed = std::min(now > c.epoch_start ? now - c.epoch_start : 0, kCubicTimeCap);
    const TimeNs ahead = std::min(elapsed + std::min(rtt, kCubicTimeCap), kCubicTimeCap);

    // RFC 9438 4.2: target = W_cubic(t + RTT), kept within [cwnd, 1.5 * cwnd] so growth
    // never stalls and never outpaces slow start.
    const uint64_t target =
        std::clamp<uint64_t>(cubic_window(ahead / kMillisecond), cwnd_, uint64_t{cwnd_} + cwnd_ / 2);

    // RFC 9438 4.3: W_est += alpha * segments_acked / cwnd (segments), i.e. in bytes
    // alpha * acked * SMSS / cwnd; alpha becomes 1 once W_est reaches cwnd_prior.
    const uint64_t alpha_numerator = c.w_est >= c.cwnd_prior ? kAlphaDenominator : kAlphaNumerator;
    c.w_est_credit += uint64_t{acked_bytes} * smss_ * alpha_numerator;
    const uint64_t est_denominator = window * kAlphaDenominator;
    const uint64_t est_increase = c.w_est_credit / est_denominator;
    c.w_est_credit -= est_increase * est_denominator;
    c.w_est = cap_window(uint64_t{c.w_est} + est_increase);

    if (cubic_window(elapsed / kMillisecond) < c.w_est) {
        // Reno-friendly region: cwnd = W_est. Never lowered: cwnd may already have run
        // ahead along W_cubic(t + RTT), and a window must not shrink on a good ACK.
        cwnd_ = std::max(cwnd_, c.w_est);
        c.growth_credit = 0;
        return;
    }
    // RFC 9438 4.4 and 4.5 (concave and convex alike): (target - cwnd) / cwnd per
    // segment acknowledged; per byte here, as Linux counts per packet rather than per
    // ACK, so delayed ACKs do not halve the growth. cwnd then reaches target in one RTT.
    c.growth_credit += (target - cwnd_) * acked_bytes;
    const uint64_t increase = c.growth_credit / window;
    c.growth_credit -= increase * window;
    cwnd_ = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{cwnd_} + increase, target));
}

void CongestionControl::reduce_ssthresh(uint32_t flight_size) {
    if (algo_ == CongestionAlgorithm::new_reno) {
        ssthresh_ = std::max(flight_size / 2, 2 * smss_);  // RFC 5681 eq. 4
        return;
    }
    Cubic& c = cubic_;
    c.cwnd_prior = cwnd_;
    // RFC 9438 4.7: a flow losing before regaining its last W_max is likely sharing with
    // a newcomer; plateau lower to leave it room.
    if (fast_convergence_ && cwnd_ < c.w_max)
        c.w_max = static_cast<uint32_t>(uint64_t{cwnd_} * 17 / 20);
    else
        c.w_max = cwnd_;
    ssthresh_ = std::max(static_cast<uint32_t>(uint64_t{cwnd_} * 7 / 10), 2 * smss_);  // 4.6
    c.epoch_running = false;
}

void CongestionControl::on_enter_recovery(uint32_t flight_size, uint32_t snd_nxt, TimeNs /*now*/) {
    if (in_recovery_) return;  // one reduction per loss event (RFC 6582)
    started_ = true;
    reduce_ssthresh(flight_size);
    // RFC 5681 3.2 step 3: inflate by the three segments that left the network.
    cwnd_ = sack_recovery_ ? ssthresh_ : cap_window(uint64_t{ssthresh_} + 3 * smss_);
    in_recovery_ = true;
    recover_ = snd_nxt;
    bytes_to_recover_ = flight_size;
    avoidance_credit_ = 0;
    slow_start_after_rto_ = false;
}

bool CongestionControl::on_recovery_ack(uint32_t ack, uint32_t acked_bytes, uint32_t flight_size) {
    if (!in_recovery_) return false;
    consume_recover(acked_bytes);
    if (seq_ge(ack, recover_)) {
        // RFC 6582 3.2 step 6, option (1). Under RFC 6675 cwnd already equals ssthresh.
        in_recovery_ = false;
        bytes_to_recover_ = 0;
        const uint64_t allowed = uint64_t{std::max(flight_size, smss_)} + smss_;
        cwnd_ = sack_recovery_ ? ssthresh_ : static_cast<uint32_t>(std::min<uint64_t>(ssthresh_, allowed));
        avoidance_credit_ = 0;
        return true;
    }
    if (!sack_recovery_) {
        // RFC 6582 3.2 step 5: deflate by what left the network, keep one SMSS for the
        // retransmission the partial ACK triggers.
        cwnd_ = cwnd_ > acked_bytes ? cwnd_ - acked_bytes : 0;
        if (acked_bytes >= smss_) cwnd_ += smss_;
        cwnd_ = std::max(cwnd_, smss_);
    }
    return false;
}

void CongestionControl::on_dup_ack_in_recovery() {
    if (in_recovery_ && !sack_recovery_) cwnd_ = cap_window(uint64_t{cwnd_} + smss_);
}

void CongestionControl::on_timeout(uint32_t flight_size, TimeNs /*now*/) {
    started_ = true;
    // A repeated expiry for the same segment holds ssthresh (RFC 5681 3.1). CUBIC already
    // reduced for this loss event when it entered recovery, and cwnd is inflated there,
    // so it keeps that reduction (as Linux's tcp_enter_loss); NewReno must still satisfy
    // eq. 4 against the current FlightSize.
    const bool same_event = algo_ == CongestionAlgorithm::cubic && in_recovery_;
    if (!timeout_retransmitting_ && !same_event) reduce_ssthresh(flight_size);
    cwnd_ = smss_;  // loss window
    in_recovery_ = false;
    // RFC 6582 section 4: recover = the highest byte sent, which a repeated expiry (no
    // ACK in between, perhaps after rewinding SND.NXT for go-back-N) cannot lower.
    bytes_to_recover_ = timeout_retransmitting_ ? std::max(bytes_to_recover_, flight_size) : flight_size;
    avoidance_credit_ = 0;
    timeout_retransmitting_ = true;
    slow_start_after_rto_ = true;
    cubic_.epoch_running = false;
    cubic_.after_timeout = true;
}

void CongestionControl::on_idle_restart(TimeNs /*rto*/) {
    ssthresh_ = std::max(ssthresh_, static_cast<uint32_t>(uint64_t{cwnd_} * 3 / 4));
    cwnd_ = std::min(cwnd_, initial_window());
    avoidance_credit_ = 0;
    cubic_.epoch_running = false;
}

}  // namespace quasi
