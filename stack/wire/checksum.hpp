// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
#pragma once

#include "stack/wire/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

// The data loops (checksum_kernel.cpp, outside the JIT's bitcode): the one's-
// complement sum of `len` bytes read as big-endian 16-bit words from an even offset,
// folded to 16 bits (0 only when every byte is 0); _copy also copies them to dst in
// the same pass (RFC 1071 4.1: one walk over the data, not a memcpy and a sum);
// _copy2 copies them to two places (a TCP segment's frame and the send ring that
// keeps the bytes for retransmission) in that one pass.
extern "C" uint64_t quasi_checksum_sum(const uint8_t* data, size_t len);
extern "C" uint64_t quasi_checksum_copy(uint8_t* dst, const uint8_t* src, size_t len);
extern "C" uint64_t quasi_checksum_copy2(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t len);

namespace quasi {

struct PacketBuffer;

// Adds bytes to a running one's-complement sum (not yet folded). `odd` tracks
// whether an odd number of bytes has been summed so far, so a sum may be continued
// across buffers that split a 16-bit word.
struct ChecksumAccumulator {
    uint64_t sum = 0;
    bool odd = false;

    void add(const uint8_t* data, size_t len);
    // Copies len bytes from src to dst and adds them, in one pass.
    void add_copy(uint8_t* dst, const uint8_t* src, size_t len) {
        add_partial(quasi_checksum_copy(dst, src, len), len);
    }
    // Copies len bytes from src to dst and to dst2 and adds them, in one pass.
    void add_copy2(uint8_t* dst, uint8_t* dst2, const uint8_t* src, size_t len) {
        add_partial(quasi_checksum_copy2(dst, dst2, src, len), len);
    }
    void add(std::span<const uint8_t> bytes) { add(bytes.data(), bytes.size()); }
    void add16(uint16_t word) { sum += odd ? static_cast<uint16_t>((word >> 8) | (word << 8)) : word; }
    void add32(uint32_t word) {
        add16(static_cast<uint16_t>(word >> 16));
        add16(static_cast<uint16_t>(word));
    }
    // Adds the folded sum of a range of len bytes (from quasi_checksum_*). A range
    // that starts mid-word has its bytes in the other halves of the words: RFC 1071
    // 2(B), its sum byte-swapped.
    void add_partial(uint64_t folded, size_t len) {
        sum += odd ? (((folded & 0xFF) << 8) | (folded >> 8)) : folded;
        odd = odd != ((len & 1) != 0);
    }
    // Adds chain bytes [offset, offset+len).
    void add_chain(const PacketBuffer& chain, size_t offset, size_t len);
    // The one's-complement of the folded sum: the value to put in a header.
    uint16_t finish() const;
    // The folded sum itself (0xFFFF when a received header with its checksum verifies).
    uint16_t folded() const;
};

// Checksum of a contiguous byte range, ready to store.
uint16_t internet_checksum(std::span<const uint8_t> bytes);

// Receive-side checks, inline: a header is verified on every frame, and the calls
// and the odd-byte bookkeeping of ChecksumAccumulator cost more than the sum itself.
// Folds a one's-complement sum of up to 2^32 32-bit words to 16 bits.
inline uint16_t fold_checksum(uint64_t sum) {
    sum = (sum & 0xFFFFFFFF) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}
// Whether `len` bytes (a multiple of 4, e.g. an IPv4 header) with their checksum
// field sum to all ones. RFC 1071 2(B): the sum does not depend on byte order, and
// the all-ones result is its own byte swap, so the words are added as they lie in
// memory, 32 bits at a time (2(C)), never swapped.
inline bool words_sum_to_ones(const uint8_t* p, size_t len) {
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t word;
        std::memcpy(&word, p + i, 4);
        sum += word;
    }
    return fold_checksum(sum) == 0xFFFF;
}

// The IPv4 pseudo-header of UDP and TCP (RFC 768, RFC 9293 3.1).
void add_pseudo_header(ChecksumAccumulator& acc, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                       uint16_t length);

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from m to m'.
uint16_t checksum_update16(uint16_t checksum, uint16_t old_word, uint16_t new_word);
uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value);

}  // namespace quasi
