// The data loops of the Internet checksum (RFC 1071), kept out of the JIT's bitcode
// on purpose (jit/CMakeLists.txt links checksum.cpp there, never this file):
// specialized code calls these host functions as it calls memcpy, so the specializer
// compiles no data loop (a loop cost the code generator about a fifth of a UDP
// specialization's compile time) and every path shares one tuned copy.
//
// The sum runs over native 64-bit words with an end-around carry: RFC 1071 2(B),
// the one's-complement sum is byte-order independent, so a little-endian host sums
// its own words and swaps the folded result once instead of swapping every word.
#include "stack/wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace {

// One's-complement add.
inline uint64_t add_carry(uint64_t sum, uint64_t word) {
    sum += word;
    return sum + (sum < word);
}

template <bool Copy>
uint64_t sum_bytes(uint8_t* dst, const uint8_t* src, size_t len) {
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {  // four words per turn: fewer loop branches
        uint64_t w[4];
        std::memcpy(w, src + i, 32);
        if constexpr (Copy) std::memcpy(dst + i, w, 32);
        sum = add_carry(sum, w[0]);
        sum = add_carry(sum, w[1]);
        sum = add_carry(sum, w[2]);
        sum = add_carry(sum, w[3]);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        std::memcpy(&w, src + i, 8);
        if constexpr (Copy) std::memcpy(dst + i, &w, 8);
        sum = add_carry(sum, w);
    }
    // The last 0-7 bytes, zero-padded to a word in place: their offsets within the
    // word are what they would be in a longer buffer.
    if (i < len) {
        uint64_t w = 0;
        std::memcpy(&w, src + i, len - i);
        if constexpr (Copy) std::memcpy(dst + i, src + i, len - i);
        sum = add_carry(sum, w);
    }
    return sum;
}

// A 32-bit core (the Cortex-M3): 64-bit words cost it a compare and branchy carry
// arithmetic per word (273 instructions for 64 bytes, QEMU's count). There 32-bit
// words go into a 64-bit accumulator whose upper half collects the carries, one
// ADDS/ADC pair per word, with no end-around step: the exact sum is congruent to the
// one's-complement sum modulo 0xFFFF (RFC 1071 2(C), deferred carries), and 2^32
// words would have to pass before it could overflow.
// One word through 4-byte memcpys (an unaligned LDR/STR each on ARMv7-M; a wider
// memcpy goes through the stack at -Os, and -Os would not inline this unasked).
template <bool Copy>
[[gnu::always_inline]] inline void add_word32(uint64_t& sum, uint8_t* dst, const uint8_t* src, size_t at) {
    uint32_t w;
    std::memcpy(&w, src + at, 4);
    if constexpr (Copy) std::memcpy(dst + at, &w, 4);
    sum += w;
}

template <bool Copy>
uint64_t sum_words32(uint8_t* dst, const uint8_t* src, size_t len) {
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        add_word32<Copy>(sum, dst, src, i);
        add_word32<Copy>(sum, dst, src, i + 4);
        add_word32<Copy>(sum, dst, src, i + 8);
        add_word32<Copy>(sum, dst, src, i + 12);
    }
    for (; i + 4 <= len; i += 4) add_word32<Copy>(sum, dst, src, i);
    if (i < len) {  // zero-padded in place, as above
        uint32_t w = 0;
        std::memcpy(&w, src + i, len - i);
        if constexpr (Copy) std::memcpy(dst + i, src + i, len - i);
        sum += w;
    }
    return sum;
}

// The native-word sum (or the 32-bit one's exact sum) folded to 16 bits, in network
// byte order's value.
uint64_t fold(uint64_t sum) {
    // Fold 64 -> 16 bits (each step keeps the one's-complement value).
    sum = (sum & 0xFFFFFFFF) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    if constexpr (std::endian::native == std::endian::little) {
        sum = ((sum & 0xFF) << 8) | (sum >> 8);  // the sum of the big-endian words
    }
    return sum;
}

// Where a pointer is 32 bits wide, so (on our targets) are the registers.
constexpr bool kNarrowCore = sizeof(uintptr_t) < sizeof(uint64_t);

}  // namespace

extern "C" uint64_t quasi_checksum_sum(const uint8_t* data, size_t len) {
    if constexpr (kNarrowCore) return fold(sum_words32<false>(nullptr, data, len));
    return fold(sum_bytes<false>(nullptr, data, len));
}

extern "C" uint64_t quasi_checksum_copy(uint8_t* dst, const uint8_t* src, size_t len) {
    if constexpr (kNarrowCore) return fold(sum_words32<true>(dst, src, len));
    return fold(sum_bytes<true>(dst, src, len));
}
