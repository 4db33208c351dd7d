#include "stack/tcp_rto.hpp"

namespace quasi {

RttEstimator::RttEstimator(TimeNs min_rto, TimeNs max_rto, TimeNs initial_rto)
    : min_rto_(min_rto), max_rto_(max_rto < min_rto ? min_rto : max_rto), initial_rto_(initial_rto) {}

void RttEstimator::sample(TimeNs rtt) {
    // A measurement beyond max_rto is bogus (a garbage timestamp echo) or moot; bounding it
    // keeps one of them from dominating SRTT for dozens of samples, and 7 * SRTT from
    // overflowing.
    if (rtt > max_rto_) rtt = max_rto_;
    if (!has_sample_) {
        // RFC 6298 2.2: the first measurement.
        srtt_ = rtt;
        rttvar_ = rtt / 2;
        has_sample_ = true;
    } else {
        // RFC 6298 2.3: RTTVAR first, with the SRTT from before this sample.
        const TimeNs deviation = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
        rttvar_ = (3 * rttvar_ + deviation) / 4;  // (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|
        srtt_ = (7 * srtt_ + rtt) / 8;            // (1 - 1/8) * SRTT + 1/8 * R'
    }
    reset_backoff();
}

TimeNs RttEstimator::base_rto() const {
    TimeNs rto = initial_rto_;
    if (has_sample_) {
        const TimeNs variance_term = 4 * rttvar_;  // K = 4
        rto = srtt_ + (variance_term > kGranularity ? variance_term : kGranularity);
    }
    if (rto < min_rto_) rto = min_rto_;  // RFC 6298 2.4 (with our 200 ms floor)
    if (rto > max_rto_) rto = max_rto_;  // RFC 6298 2.5
    return rto < kGranularity ? kGranularity : rto;  // never a zero timer, even if so configured
}

TimeNs RttEstimator::rto() const {
    TimeNs rto = base_rto();
    for (uint8_t i = 0; i < backoff_shift_ && rto < max_rto_; ++i) rto *= 2;
    return rto > max_rto_ ? max_rto_ : rto;
}

void RttEstimator::backoff() {
    ++backoff_count_;
    // Once at the cap further doublings change nothing; stopping the shift keeps it small
    // (and 2^32 times the 1 ms floor cannot overflow, whatever max_rto was configured).
    if (rto() < max_rto_ && backoff_shift_ < 32) ++backoff_shift_;
}

}  // namespace quasi
