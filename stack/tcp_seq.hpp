// TCP sequence-number arithmetic modulo 2^32 (RFC 9293 3.4): comparisons are valid
// for numbers less than 2^31 apart.
#pragma once

#include <cstdint>

namespace quasi {

constexpr bool seq_lt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
constexpr bool seq_le(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
constexpr bool seq_gt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
constexpr bool seq_ge(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }
// a <= x < b, in sequence space.
constexpr bool seq_in(uint32_t x, uint32_t a, uint32_t b) { return seq_le(a, x) && seq_lt(x, b); }
constexpr uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
constexpr uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

}  // namespace quasi
