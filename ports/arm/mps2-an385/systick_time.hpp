// The board's time from SysTick (ARMv7-M ARM B3.3): the milliseconds the SysTick
// handler has counted plus the 24-bit down-counter within the current one. Read
// naively, the pair steps back: the counter reloads at zero and pends the exception
// (ICSR.PENDSTSET), and until the handler runs the count is the old one while the
// counter is near the top again, a millisecond early. Under emulation it also loses
// milliseconds: QEMU runs late timer ticks back to back, several reloads pend one
// exception and the handler runs once for them, so a later reading can compose to an
// earlier time. The Clock contract (stack/clock.hpp) is monotonic, and callers
// subtract times as unsigned numbers: one step back reads as centuries elapsed (a
// 5 s wait for a TCP handshake ended at once, in CI under load).
//
// SysTickTime composes one consistent reading, taken with the pending bit read before
// and after the counter and equal in both (else the caller reads again): a pending
// exception means the counter has reloaded since the count was last advanced. It
// never returns less than it returned before: after lost milliseconds the time holds
// until the counter passes it again. Generic (no registers): tested on the host.
#pragma once

#include "stack/clock.hpp"

#include <cstdint>

namespace quasi::board {

// TicksPerMs: SysTick's reload value + 1; NsPerTick: its period (constants, so a
// reading costs no division and no 64-bit multiply of the fraction: it reads the
// clock on every send).
template <uint32_t TicksPerMs, uint32_t NsPerTick>
class SysTickTime {
    static_assert(uint64_t{TicksPerMs} * NsPerTick == kMillisecond, "SysTick reloads once per millisecond");

public:
    // `milliseconds`: the handler's count; `pending`: the SysTick exception pended
    // (before and after the counter was read); `counter`: SysTick's current value.
    TimeNs compose(uint32_t milliseconds, bool pending, uint32_t counter) {
        const uint32_t within = (TicksPerMs - 1 - counter) * NsPerTick;  // < 1 ms
        const TimeNs t = (uint64_t{milliseconds} + (pending ? 1 : 0)) * kMillisecond + within;
        if (t > last_) {
            last_ = t;
            return t;
        }
        if (t < last_) ++held_;
        return last_;
    }
    // Readings that composed to less than an earlier one (and returned that one).
    uint64_t held() const { return held_; }

private:
    TimeNs last_ = 0;
    uint64_t held_ = 0;
};

}  // namespace quasi::board
