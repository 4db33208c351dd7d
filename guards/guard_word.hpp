// The guard word: the one word specialized code reads at entry.
//
// Each piece of compiled code owns one (it is shared by every handle that runs the
// code). Zero means "some handle's socket is in exactly the state this code was
// made for"; a handle that learns of a change it cannot reinforce fires it, a handle
// that re-extracts that very state clears it. The code reads it with guard_fired(),
// a relaxed atomic load (a plain load on x86 and ARM): guards may be fired from
// another thread (deopt stress, an invalidation forced for the whole process), and
// the send path must pay no more than that load and a compare.
#pragma once

#include <atomic>
#include <cstdint>

// A guard word that never fires: the context of an unspecialized (host interpreted)
// frozen send points here.
extern "C" const uint32_t quasi_guard_holds;

namespace quasi {

inline bool guard_fired(const uint32_t* word) { return __atomic_load_n(word, __ATOMIC_RELAXED) != 0; }

// What the frozen send paths (context/udp_context.hpp, context/tcp_frozen_send.hpp)
// test at entry. QUASI_NO_GUARD_CHECK (CMake QUASI_BENCH_NO_GUARD_CHECK, defined
// for the JIT's bitcode only) compiles the check out so bench/guards_callgrind.sh
// can measure what it costs: such code runs whatever changed, a build for the
// bench alone.
#ifdef QUASI_NO_GUARD_CHECK
inline bool code_guard_fired(const uint32_t*) { return false; }
#else
inline bool code_guard_fired(const uint32_t* word) { return guard_fired(word); }
#endif

class GuardWord {
public:
    // For the frozen context (its `guard` field).
    const uint32_t* address() const { return &word_; }
    bool holds() const { return !guard_fired(&word_); }
    // Release: what the firing thread wrote before (a new route, a forced
    // invalidation) is visible to a thread that sees the word fired.
    void fire() { __atomic_store_n(&word_, 1u, __ATOMIC_RELEASE); }
    void clear() { __atomic_store_n(&word_, 0u, __ATOMIC_RELEASE); }

private:
    uint32_t word_ = 0;
};

}  // namespace quasi
