// The Linux clock for a live stack. It lives in the port, not in stack/clock.hpp,
// because the stack itself must build without an OS (bare-metal ARM).
#pragma once

#include "stack/clock.hpp"

#include <time.h>

namespace quasi {

// CLOCK_MONOTONIC: never steps with settimeofday or NTP slews backwards, which is
// what retransmission and reassembly timers need. (CLOCK_MONOTONIC_RAW would also
// ignore NTP frequency correction; timers want the corrected rate.)
class SteadyClock final : public Clock {
public:
    TimeNs now() const override {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<TimeNs>(ts.tv_sec) * kSecond + static_cast<TimeNs>(ts.tv_nsec);
    }
};

}  // namespace quasi
