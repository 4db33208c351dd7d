// quasi-perf's statistics: a latency histogram with bounded relative error (HDR-style:
// exact below 128 ns, then 64 linear sub-buckets per power of two, so any recorded value
// is reported within 1/64 = 1.6% above its true value), and the summaries of repeated
// runs (min/median/max, and generic/specialized ratios taken pair by pair so that load
// swings on a shared machine cancel out within a pair).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace quasi::perf {

class LatencyHistogram {
public:
    static constexpr unsigned kSubBits = 6;                           // 64 sub-buckets per octave
    static constexpr uint64_t kExactBelow = uint64_t(2) << kSubBits;  // 128: one bucket per value
    static constexpr size_t kBuckets = (64 - kSubBits) * (size_t(1) << kSubBits) + (size_t(1) << kSubBits);

    void record(uint64_t value);
    void merge(const LatencyHistogram& other);
    void clear() { *this = LatencyHistogram{}; }
    uint64_t count() const { return count_; }
    uint64_t min() const { return count_ ? min_ : 0; }
    uint64_t max() const { return max_; }
    double mean() const { return count_ ? double(sum_) / double(count_) : 0; }
    // The smallest recorded-equivalent value v such that at least q percent of the
    // values are <= v (q in [0, 100]); the bucket's upper bound, capped at max().
    // 0 when empty.
    uint64_t percentile(double q) const;

    static size_t bucket_of(uint64_t value);
    static uint64_t bucket_upper(size_t index);

private:
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t count_ = 0;
    uint64_t min_ = UINT64_MAX;
    uint64_t max_ = 0;
    uint64_t sum_ = 0;
};

struct Summary {
    double min = 0;
    double median = 0;  // the mean of the two middle values for an even count
    double max = 0;
    size_t runs = 0;
};
Summary summarize(std::vector<double> values);

// ratio[i] = numerator[i] / denominator[i], run i of each path taken back to back.
// Empty when the lengths differ or a denominator is not positive (no pair to form).
std::optional<std::vector<double>> pair_ratios(const std::vector<double>& numerator,
                                               const std::vector<double>& denominator);

}  // namespace quasi::perf
