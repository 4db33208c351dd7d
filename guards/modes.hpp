// The guards' checking modes, for tests and CI (off by default):
// - verify (QUASI_GUARDS_VERIFY=N): every Nth send through a handle re-extracts the
//   context from the live socket and compares it with the one its running code was
//   compiled for. A difference while no guard fired means a frozen field changed
//   behind the guards' back (a write that bypassed guarded_write, a field that should
//   have been a QuasiInvariant): the process aborts naming the field. The dynamic
//   check of what the type system cannot see (the MemGuard of the Synthetix work).
// - deopt stress (QUASI_GUARDS_STRESS=N): guards fire at random, one send in N on
//   average (seeded by QUASI_GUARDS_SEED), as a JVM tests its deoptimization: every
//   fallback, re-specialization and replug path runs again and again while the
//   traffic must stay exactly what the generic path would send.
#pragma once

#include <cstdint>

namespace quasi {

struct GuardModes {
    uint32_t verify_every = 0;  // 0: off
    uint32_t stress_every = 0;  // 0: off
    uint64_t seed = 1;
    bool any() const { return verify_every != 0 || stress_every != 0; }
};

// The environment's modes, read once; set_guard_modes replaces them (tests).
const GuardModes& guard_modes();
void set_guard_modes(const GuardModes& modes);

// xorshift64: the stress mode's coin, per handle.
inline uint64_t next_random(uint64_t& state) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

}  // namespace quasi
