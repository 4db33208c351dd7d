#include "apps/perf_stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace quasi::perf {

size_t LatencyHistogram::bucket_of(uint64_t value) {
    if (value < kExactBelow) return size_t(value);
    // Octave e (value in [2^e, 2^(e+1))) keeps its top kSubBits + 1 bits: the leading 1
    // and kSubBits below it, which pick one of 64 sub-buckets of width 2^(e - kSubBits).
    unsigned e = unsigned(std::bit_width(value)) - 1;
    unsigned shift = e - kSubBits;
    uint64_t sub = (value >> shift) - (uint64_t(1) << kSubBits);
    return size_t(shift + 1) * (size_t(1) << kSubBits) + size_t(sub);
}

uint64_t LatencyHistogram::bucket_upper(size_t index) {
    if (index < kExactBelow) return index;
    size_t group = index >> kSubBits;  // >= 2
    unsigned shift = unsigned(group) - 1;
    uint64_t mantissa = (index & ((size_t(1) << kSubBits) - 1)) + (uint64_t(1) << kSubBits);
    uint64_t lower = mantissa << shift;
    return lower + ((uint64_t(1) << shift) - 1);
}

void LatencyHistogram::record(uint64_t value) {
    ++counts_[bucket_of(value)];
    ++count_;
    sum_ += value;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::percentile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 100.0);
    // The rank of the value asked for, 1-based: at least q% of the values lie at or below it.
    uint64_t rank = std::max<uint64_t>(1, uint64_t(std::ceil(q / 100.0 * double(count_))));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(bucket_upper(i), min_, max_);
    }
    return max_;
}

Summary summarize(std::vector<double> values) {
    Summary s;
    s.runs = values.size();
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    s.min = values.front();
    s.max = values.back();
    size_t mid = values.size() / 2;
    s.median = values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    return s;
}

std::optional<std::vector<double>> pair_ratios(const std::vector<double>& numerator,
                                               const std::vector<double>& denominator) {
    if (numerator.size() != denominator.size() || numerator.empty()) return std::nullopt;
    std::vector<double> ratios;
    ratios.reserve(numerator.size());
    for (size_t i = 0; i < numerator.size(); ++i) {
        if (!(denominator[i] > 0)) return std::nullopt;
        ratios.push_back(numerator[i] / denominator[i]);
    }
    return ratios;
}

}  // namespace quasi::perf
