// The board's time from SysTick (ports/arm/mps2-an385/systick_time.hpp), on the host:
// readings as the registers give them when the counter reloads before the handler
// runs, and when QEMU's late ticks pend one exception for several reloads. The time
// must be exact where it can be and never step back (the stack subtracts times as
// unsigned numbers).
#include "ports/arm/mps2-an385/systick_time.hpp"

#include <gtest/gtest.h>

namespace quasi::board {
namespace {

constexpr uint32_t kTicksPerMs = 25'000;  // 25 MHz
constexpr uint32_t kNsPerTick = 40;
constexpr uint32_t kTop = kTicksPerMs - 1;  // the counter's value right after a reload
using Time = SysTickTime<kTicksPerMs, kNsPerTick>;

TEST(SysTickTime, CountsTheCounterDownWithinAMillisecond) {
    Time time;
    EXPECT_EQ(time.compose(0, false, kTop), 0u);
    EXPECT_EQ(time.compose(0, false, kTop - 25), 1 * kMicrosecond);
    EXPECT_EQ(time.compose(7, false, kTop - 12'500), 7 * kMillisecond + 500 * kMicrosecond);
}

// The counter reloaded, the exception pends, the handler has not run: the reading
// belongs to the next millisecond, not to the start of this one.
TEST(SysTickTime, AReloadPendingItsHandlerIsTheNextMillisecond) {
    Time time;
    const TimeNs before = time.compose(5, false, 1);  // the last ticks of millisecond 5
    const TimeNs pending = time.compose(5, true, kTop - 9);
    EXPECT_EQ(pending, 6 * kMillisecond + 9 * kNsPerTick);
    EXPECT_GT(pending, before);
    EXPECT_EQ(time.compose(6, false, kTop - 10), 6 * kMillisecond + 10 * kNsPerTick);  // the handler ran
}

// QEMU ran two late ticks back to back: both reloads pended one exception, the
// handler ran once, and the count is a millisecond behind the counter. The time
// holds instead of stepping back, and moves again once the counter passes it.
TEST(SysTickTime, NeverStepsBackWhenTicksCoalesce) {
    Time time;
    const TimeNs seen = time.compose(5, true, kTop - 2'500);  // 6.1 ms
    EXPECT_EQ(time.compose(6, false, kTop - 1'250), seen);    // would be 6.05 ms
    EXPECT_EQ(time.held(), 1u);
    EXPECT_EQ(time.compose(6, false, kTop - 5'000), 6 * kMillisecond + 200 * kMicrosecond);
}

// What a caller does with it: a wait bounded by `now() - start < limit` in unsigned
// time must not end at once on a reading just after a reload.
TEST(SysTickTime, AnUnsignedWaitDoesNotEndAtAReload) {
    Time time;
    const TimeNs start = time.compose(9, false, 3);
    const TimeNs next = time.compose(9, true, kTop - 1);
    EXPECT_LT(next - start, 5 * kSecond);
}

}  // namespace
}  // namespace quasi::board
