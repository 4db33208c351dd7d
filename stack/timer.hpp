// A hashed timing wheel (Varghese & Lauck 1987, scheme 4): O(1) schedule and
// cancel, which matters because TCP re-arms its timers on nearly every segment.
//
// Timers are intrusive: the owner embeds a Timer and the wheel only links it, so
// arming a timer never allocates. A timer whose deadline lies beyond one rotation
// simply stays in its slot until a later rotation finds it due.
#pragma once

#include "stack/clock.hpp"

#include <boost/intrusive/list.hpp>

#include <array>

namespace quasi {

struct Timer : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
    using Callback = void (*)(Timer& timer, TimeNs now);

    Timer() = default;
    Timer(Callback cb, void* ctx) : callback(cb), context(ctx) {}
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    bool armed() const { return is_linked(); }
    void cancel() { unlink(); }

    Callback callback = nullptr;
    void* context = nullptr;  // the owner, for the callback
    TimeNs deadline = 0;
};

class TimerWheel {
public:
    static constexpr size_t kSlots = 512;

    explicit TimerWheel(TimeNs now, TimeNs tick = kMillisecond);

    // Arms (or re-arms) timer to fire at the first advance() with now >= deadline.
    void schedule(Timer& timer, TimeNs deadline);
    // Fires every due timer; returns how many fired. A callback may re-arm its timer.
    size_t advance(TimeNs now);
    // The earliest deadline among armed timers, or 0 when none (a scan: for sleeping
    // pollers, not for the hot path).
    TimeNs next_deadline() const;

private:
    using Slot = boost::intrusive::list<Timer, boost::intrusive::constant_time_size<false>>;
    size_t slot_of(TimeNs t) const { return static_cast<size_t>(t / tick_) % kSlots; }

    TimeNs tick_;
    TimeNs current_;  // all slots before this time's tick have been processed
    std::array<Slot, kSlots> slots_;
};

}  // namespace quasi
