// The data loops of the Internet checksum (RFC 1071), kept out of the JIT's bitcode
// on purpose (jit/CMakeLists.txt links checksum.cpp there, never this file):
// specialized code calls these host functions as it calls memcpy, so the specializer
// compiles no data loop (a loop cost the code generator about a fifth of a UDP
// specialization's compile time) and every path shares one tuned copy.
//
// The sum runs over native words with an end-around carry (32-bit cores: below): RFC 1071 2(B), the
// one's-complement sum is byte-order independent, so a little-endian host sums its
// own words and swaps the folded result once instead of swapping every word. On
// x86-64 with AVX2 the bulk runs 64 bytes a turn in vector registers (RFC 1071
// 2(C), "parallel summation"): each 32-bit word is widened into a 64-bit lane, so no
// carry is lost until the lanes are added up; a 1448-byte segment then takes about a
// third of the instructions of the 64-bit word loop.
#include "stack/wire/checksum.hpp"

#include <bit>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define QUASI_CHECKSUM_AVX2 1
#endif

namespace {

// One's-complement add.
inline uint64_t add_carry(uint64_t sum, uint64_t word) {
    sum += word;
    return sum + (sum < word);
}

// Copies (to dst, and to dst2 when Copies is 2) and sums [i, len) of src with 64-bit
// words, continuing `sum`; returns the unfolded sum.
template <int Copies>
inline uint64_t sum_words(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t i, size_t len, uint64_t sum) {
    for (; i + 32 <= len; i += 32) {  // four words per turn: fewer loop branches
        uint64_t w[4];
        std::memcpy(w, src + i, 32);
        if constexpr (Copies >= 1) std::memcpy(dst + i, w, 32);
        if constexpr (Copies >= 2) std::memcpy(dst2 + i, w, 32);
        sum = add_carry(sum, w[0]);
        sum = add_carry(sum, w[1]);
        sum = add_carry(sum, w[2]);
        sum = add_carry(sum, w[3]);
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        std::memcpy(&w, src + i, 8);
        if constexpr (Copies >= 1) std::memcpy(dst + i, &w, 8);
        if constexpr (Copies >= 2) std::memcpy(dst2 + i, &w, 8);
        sum = add_carry(sum, w);
    }
    // The last 0-7 bytes, zero-padded to a word in place: their offsets within the
    // word are what they would be in a longer buffer.
    if (i < len) {
        uint64_t w = 0;
        std::memcpy(&w, src + i, len - i);
        if constexpr (Copies >= 1) std::memcpy(dst + i, src + i, len - i);
        if constexpr (Copies >= 2) std::memcpy(dst2 + i, src + i, len - i);
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
template <int Copies>
[[gnu::always_inline]] inline void add_word32(uint64_t& sum, uint8_t* dst, uint8_t* dst2, const uint8_t* src,
                                              size_t at) {
    uint32_t w;
    std::memcpy(&w, src + at, 4);
    if constexpr (Copies >= 1) std::memcpy(dst + at, &w, 4);
    if constexpr (Copies >= 2) std::memcpy(dst2 + at, &w, 4);
    sum += w;
}

template <int Copies>
uint64_t sum_words32(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t len) {
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        add_word32<Copies>(sum, dst, dst2, src, i);
        add_word32<Copies>(sum, dst, dst2, src, i + 4);
        add_word32<Copies>(sum, dst, dst2, src, i + 8);
        add_word32<Copies>(sum, dst, dst2, src, i + 12);
    }
    for (; i + 4 <= len; i += 4) add_word32<Copies>(sum, dst, dst2, src, i);
    if (i < len) {  // zero-padded in place, as above
        uint32_t w = 0;
        std::memcpy(&w, src + i, len - i);
        if constexpr (Copies >= 1) std::memcpy(dst + i, src + i, len - i);
        if constexpr (Copies >= 2) std::memcpy(dst2 + i, src + i, len - i);
        sum += w;
    }
    return sum;
}

// Where a pointer is 32 bits wide, so (on our targets) are the registers.
constexpr bool kNarrowCore = sizeof(uintptr_t) < sizeof(uint64_t);

// The native-word sum (or the 32-bit one's exact sum) folded 64 -> 16 bits (each step
// keeps the one's-complement value), as big-endian words.
inline uint64_t fold(uint64_t sum) {
    sum = (sum & 0xFFFFFFFF) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    if constexpr (std::endian::native == std::endian::little) {
        sum = ((sum & 0xFF) << 8) | (sum >> 8);  // the sum of the big-endian words
    }
    return sum;
}

#ifdef QUASI_CHECKSUM_AVX2
// The bulk in 64-byte turns: two 32-byte loads (and their stores), each 32-bit word
// zero-extended into a 64-bit lane (unpack with zero) and added there. A lane gains
// less than 2^33 per turn, so it cannot overflow below 2^31 turns (128 GiB).
// (Helpers rather than lambdas: a lambda does not take its caller's target.)
[[gnu::target("avx2")]] inline void add_lanes(__m256i& lo, __m256i& hi, __m256i v) {
    const __m256i zero = _mm256_setzero_si256();
    lo = _mm256_add_epi64(lo, _mm256_unpacklo_epi32(v, zero));
    hi = _mm256_add_epi64(hi, _mm256_unpackhi_epi32(v, zero));
}

template <int Copies>
[[gnu::target("avx2")]] inline void step_avx2(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t at, __m256i& lo,
                                              __m256i& hi) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + at));
    if constexpr (Copies >= 1) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + at), v);
    if constexpr (Copies >= 2) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst2 + at), v);
    add_lanes(lo, hi, v);
}

template <int Copies>
[[gnu::target("avx2")]] uint64_t sum_avx2(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t len) {
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        step_avx2<Copies>(dst, dst2, src, i, lo, hi);
        step_avx2<Copies>(dst, dst2, src, i + 32, lo, hi);
    }
    if (i + 32 <= len) {
        step_avx2<Copies>(dst, dst2, src, i, lo, hi);
        i += 32;
    }
    __m256i lanes = _mm256_add_epi64(lo, hi);
    __m128i half = _mm_add_epi64(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    uint64_t a = static_cast<uint64_t>(_mm_cvtsi128_si64(half));
    uint64_t b = static_cast<uint64_t>(_mm_extract_epi64(half, 1));
    return sum_words<Copies>(dst, dst2, src, i, len, add_carry(a, b));
}

// Chosen once, before main (the bare test of a static bool on every call after).
const bool kHaveAvx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
}();
// Below this the vector setup and the lanes' reduction cost more than they save.
constexpr size_t kVectorMin = 128;
#endif

template <int Copies>
uint64_t sum_bytes(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t len) {
    if constexpr (kNarrowCore) return fold(sum_words32<Copies>(dst, dst2, src, len));
#ifdef QUASI_CHECKSUM_AVX2
    if (len >= kVectorMin && kHaveAvx2) return fold(sum_avx2<Copies>(dst, dst2, src, len));
#endif
    return fold(sum_words<Copies>(dst, dst2, src, 0, len, 0));
}

}  // namespace

extern "C" uint64_t quasi_checksum_sum(const uint8_t* data, size_t len) {
    return sum_bytes<0>(nullptr, nullptr, data, len);
}

extern "C" uint64_t quasi_checksum_copy(uint8_t* dst, const uint8_t* src, size_t len) {
    return sum_bytes<1>(dst, nullptr, src, len);
}

extern "C" uint64_t quasi_checksum_copy2(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t len) {
    return sum_bytes<2>(dst, dst2, src, len);
}
