// Time as the stack sees it: monotonic nanoseconds from a Clock the owner supplies,
// so tests and fuzzers run on a virtual clock and nothing in the stack reads the
// system time directly.
#pragma once

#include <cstdint>

namespace quasi {

using TimeNs = uint64_t;
constexpr TimeNs kMicrosecond = 1'000;
constexpr TimeNs kMillisecond = 1'000'000;
constexpr TimeNs kSecond = 1'000'000'000;

class Clock {
public:
    virtual ~Clock() = default;
    virtual TimeNs now() const = 0;
};

// Advanced only by hand: for tests, fuzzing and simulations.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimeNs start = kSecond) : now_(start) {}
    TimeNs now() const override { return now_; }
    void advance(TimeNs delta) { now_ += delta; }
    void set(TimeNs t) { now_ = t; }

private:
    TimeNs now_;
};

}  // namespace quasi
