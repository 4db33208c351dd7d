#include "stack/timer.hpp"

namespace quasi {

TimerWheel::TimerWheel(TimeNs now, TimeNs tick) : tick_(tick), current_(now) {}

void TimerWheel::schedule(Timer& timer, TimeNs deadline) {
    timer.unlink();
    timer.deadline = deadline;
    // A deadline already past goes into the current slot so the next advance sees it.
    slots_[slot_of(deadline < current_ ? current_ : deadline)].push_back(timer);
}

size_t TimerWheel::advance(TimeNs now) {
    if (now < current_) return 0;
    size_t fired = 0;
    uint64_t first_tick = current_ / tick_;
    uint64_t last_tick = now / tick_;
    // One rotation visits every slot; more would only revisit them.
    if (last_tick - first_tick >= kSlots) first_tick = last_tick - kSlots + 1;
    current_ = now;
    for (uint64_t t = first_tick; t <= last_tick; ++t) {
        Slot& slot = slots_[t % kSlots];
        // Detach the due timers first: callbacks may re-arm into this very slot.
        Slot due;
        for (auto it = slot.begin(); it != slot.end();) {
            Timer& timer = *it++;
            if (timer.deadline <= now) {
                timer.unlink();
                due.push_back(timer);
            }
        }
        while (!due.empty()) {
            Timer& timer = due.front();
            timer.unlink();
            timer.callback(timer, now);
            ++fired;
        }
    }
    return fired;
}

TimeNs TimerWheel::next_deadline() const {
    TimeNs best = 0;
    for (const Slot& slot : slots_)
        for (const Timer& timer : slot)
            if (best == 0 || timer.deadline < best) best = timer.deadline;
    return best;
}

}  // namespace quasi
