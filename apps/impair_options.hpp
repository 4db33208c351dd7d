// `--impair SPEC` for the tap programs: puts the seeded impairment decorator
// (ports/x86/impaired.hpp) between the stack and its device, the userspace stand-in
// for tc-netem (the kernel here has no netem qdisc).
//
// SPEC is a comma-separated list of KEY=VALUE, applied to both directions (frames
// the stack receives and frames it sends) unless the key is prefixed with "rx." or
// "tx." for one direction only:
//   loss=P     drop with probability P           (P: 0..1, or a percentage "1%")
//   dup=P      duplicate (alias: duplicate=P)
//   corrupt=P  flip one bit after the Ethernet header
//   reorder=P  hold a frame back behind 1..gap later ones
//   gap=N      reorder gap (default 3)
//   delay=T    fixed one-way delay per direction (T: 20ms, 500us, 1s, 100000ns;
//   jitter=T   plus uniform [0, jitter]           a bare number means ms)
//   seed=N     the decorator's seed (default: 1); the same seed repeats the pattern
//   hold=N     frames held per direction at most (default 4096)
// Example: --impair loss=0.01,dup=0.01,corrupt=0.001,reorder=0.1,delay=20ms,jitter=1ms,seed=7
//
// A program using it:
//   app::LinkImpairment impair;                      // one per device
//   ... option parsing: impair.parse(value)          // false + message on stderr if bad
//   Stack stack(...);
//   app::LinkImpairment::ReleaseGuard guard{impair};  // right after the Stack: see below
//   Netif& link = impair.wrap(*tap, stack.pool(), clock);   // the decorator, or *tap
//   stack.add_interface(link, ...);
//   loop: stack.poll(); ...; impair.flush_due();
//         idle: impair.idle_wait(tap->fd(), clock, 5 * kMillisecond);
//   at exit: impair.print(stdout);
//
// Lifetime: the decorator holds frames (delayed, set aside) whose buffers belong to the
// stack's pool, so it must be destroyed before that pool. A LinkImpairment declared
// before the Stack (e.g. in the options) would outlive it: the ReleaseGuard, declared
// after the Stack, destroys the decorator first on every way out of the scope.
#pragma once

#include "ports/x86/impaired.hpp"
#include "stack/clock.hpp"
#include "stack/netif.hpp"

#include <cstdio>
#include <memory>

namespace quasi::app {

// Parses SPEC into `config` (rx/tx impairments, seed, hold_frames). On failure
// returns false and writes a one-line reason into `error`.
bool parse_impair_spec(const char* spec, ImpairedNetif::Config& config, char* error, size_t error_len);

class LinkImpairment {
public:
    // Parses `--impair SPEC`; prints the reason on stderr and returns false if bad.
    // Several --impair options accumulate (later keys override earlier ones).
    bool parse(const char* spec);
    // True once a spec with any impairment has been parsed.
    bool requested() const { return requested_; }

    // Returns the device the stack should attach: a decorator around `inner` when
    // impairments were requested, otherwise `inner` itself. All three must outlive
    // this object's use of them.
    Netif& wrap(Netif& inner, BufferPool& pool, const Clock& clock);
    ImpairedNetif* decorator() { return decorator_.get(); }

    // Hands due transmit frames to the device (call every loop iteration).
    void flush_due() {
        if (decorator_) decorator_->flush_due();
    }
    // Sleeps until `fd` is readable, `max_wait` has passed, or a held frame becomes
    // due, whichever comes first (ppoll, nanosecond timeout).
    void idle_wait(int fd, const Clock& clock, TimeNs max_wait) const;

    // Destroys the decorator; the frames it holds go back to their pool, which must
    // still exist. The device wrap() returned must not be used afterwards.
    void release() { decorator_.reset(); }
    struct ReleaseGuard {
        LinkImpairment& impairment;
        explicit ReleaseGuard(LinkImpairment& i) : impairment(i) {}
        ReleaseGuard(const ReleaseGuard&) = delete;
        ReleaseGuard& operator=(const ReleaseGuard&) = delete;
        ~ReleaseGuard() { impairment.release(); }
    };

    // One line describing the settings, e.g. for a start-up message ("" if none).
    const char* describe() const { return description_; }
    // The decorator's counters per direction (nothing if no impairments).
    void print(std::FILE* out) const;

private:
    ImpairedNetif::Config config_{};
    bool requested_ = false;
    char description_[256] = {};
    std::unique_ptr<ImpairedNetif> decorator_;
};

}  // namespace quasi::app
