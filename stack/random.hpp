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

// The last answer of siphash(key, words) under one fixed key. Per-address-pair values
// (TSval offsets, IP ID buckets) are asked for at every connection, and a host
// churning connections with one peer asks the same question each time; the answer
// is the same function of the same input, so it is kept rather than hashed again.
template <size_t N>
class SipHashMemo {
public:
    uint64_t operator()(const SipKey& key, const uint64_t (&words)[N]) {
        bool same = valid_;
        for (size_t i = 0; i < N && same; ++i) same = words_[i] == words[i];
        if (same) return hash_;
        for (size_t i = 0; i < N; ++i) words_[i] = words[i];
        hash_ = siphash(key, words, N);
        valid_ = true;
        return hash_;
    }

private:
    uint64_t words_[N] = {};
    uint64_t hash_ = 0;
    bool valid_ = false;
};

}  // namespace quasi
