// TCP retransmission timer (RFC 6298): the smoothed RTT estimator and the RTO with
// exponential backoff. Integer nanoseconds throughout (no floating point: the core also
// runs on FPU-less Cortex-M3); alpha = 1/8 and beta = 1/4 are shifts.
//
// What the caller owns:
//  - Karn's rule (RFC 6298 section 3): never call sample() with the RTT of a segment that
//    was retransmitted, since the ACK cannot say which transmission it answers. With
//    timestamps (RFC 7323 section 4.2) the echoed TSval identifies the transmission, so
//    every ACK that advances SND.UNA may be sampled, retransmission or not.
//  - Running the timer (RFC 6298 section 5) and calling backoff() when it expires.
//  - RFC 6298 5.7: if the SYN or SYN-ACK timed out and no sample exists when the handshake
//    completes, re-create the estimator with initial_rto = 3 s.
#pragma once

#include "stack/clock.hpp"

#include <cstdint>

namespace quasi {

class RttEstimator {
public:
    // Member-wise: a recycled socket is compared with a fresh one (tcp_recycle_test).
    bool operator==(const RttEstimator&) const = default;
    // Clock granularity G of RFC 6298 section 2: our TimeNs is exact, but timers fire
    // on the 1 ms wheel tick (stack/timer.hpp), so 1 ms is the real resolution.
    static constexpr TimeNs kGranularity = 1 * kMillisecond;

    // min_rto: RFC 6298 2.4 says RTO SHOULD be rounded up to 1 s; we use Linux's 200 ms
    // (TCP_RTO_MIN), as do most deployed stacks: 1 s costs a full second on every tail
    // loss in a LAN, and RFC 6298's own rationale (conservative RTTVAR) is covered by the
    // 4*RTTVAR term plus the floor. max_rto: RFC 6298 2.5 allows a cap of at least 60 s;
    // 120 s is Linux's TCP_RTO_MAX. initial_rto: RFC 6298 2.1.
    explicit RttEstimator(TimeNs min_rto = 200 * kMillisecond, TimeNs max_rto = 120 * kSecond,
                          TimeNs initial_rto = 1 * kSecond);

    // A new RTT measurement (RFC 6298 2.2 and 2.3). A valid sample also clears the
    // backoff: Karn's algorithm keeps the backed-off RTO only until an ACK for a segment
    // that was not retransmitted arrives, which is exactly when a sample is taken.
    void sample(TimeNs rtt);

    // The current RTO: (SRTT + max(G, 4*RTTVAR)) clamped to [min_rto, max_rto], or the
    // initial RTO before any sample, doubled per backoff() and capped at max_rto.
    TimeNs rto() const;

    // RFC 6298 5.5: the timer expired, double the RTO (capped at max_rto).
    void backoff();
    void reset_backoff() { backoff_shift_ = 0; backoff_count_ = 0; }
    // backoff() calls since the last reset (not capped; for the caller's retry limits).
    uint32_t backoff_count() const { return backoff_count_; }

    TimeNs srtt() const { return srtt_; }
    TimeNs rttvar() const { return rttvar_; }
    bool has_sample() const { return has_sample_; }

private:
    TimeNs base_rto() const;

    TimeNs min_rto_;
    TimeNs max_rto_;
    TimeNs initial_rto_;
    TimeNs srtt_ = 0;
    TimeNs rttvar_ = 0;
    bool has_sample_ = false;
    uint8_t backoff_shift_ = 0;  // stops growing once the RTO reaches max_rto
    uint32_t backoff_count_ = 0;
};

}  // namespace quasi
