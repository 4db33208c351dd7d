// Randomness for the stack: a seeded generator and a keyed hash.
//
// Anything an off-path attacker could guess (ephemeral ports, RFC 6056; IP IDs,
// RFC 6864/7739; TCP ISNs, RFC 6528) is derived from the keyed hash with a secret
// key, never from a global counter. The seed comes from the owner (the OS entropy
// source on Linux, a hardware RNG on boards, a fixed value in tests).
#pragma once

#include <cstddef>
#include <cstdint>

namespace quasi {

// xoshiro256** (Blackman & Vigna): fast, good statistical quality, not for secrets.
class Random {
public:
    explicit Random(uint64_t seed);
    uint64_t next();
    uint32_t next32() { return static_cast<uint32_t>(next() >> 32); }
    // Uniform in [0, bound).
    uint32_t below(uint32_t bound) { return static_cast<uint32_t>((uint64_t{next32()} * bound) >> 32); }

private:
    uint64_t s_[4];
};

// SipHash-2-4 (Aumasson & Bernstein) of up to a few words under a 128-bit key.
struct SipKey {
    uint64_t k0 = 0;
    uint64_t k1 = 0;
};
uint64_t siphash(const SipKey& key, const uint64_t* words, size_t count);

}  // namespace quasi
