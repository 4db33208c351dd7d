// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
#pragma once

#include "stack/wire/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi {

struct PacketBuffer;

// Adds bytes to a running one's-complement sum (not yet folded). `odd` tracks
// whether an odd number of bytes has been summed so far, so a sum may be continued
// across buffers that split a 16-bit word.
struct ChecksumAccumulator {
    uint64_t sum = 0;
    bool odd = false;

    void add(const uint8_t* data, size_t len);
    void add(std::span<const uint8_t> bytes) { add(bytes.data(), bytes.size()); }
    void add16(uint16_t word) { sum += odd ? static_cast<uint16_t>((word >> 8) | (word << 8)) : word; }
    void add32(uint32_t word) {
        add16(static_cast<uint16_t>(word >> 16));
        add16(static_cast<uint16_t>(word));
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

// The IPv4 pseudo-header of UDP and TCP (RFC 768, RFC 9293 3.1).
void add_pseudo_header(ChecksumAccumulator& acc, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                       uint16_t length);

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 16-bit field changing from m to m'.
uint16_t checksum_update16(uint16_t checksum, uint16_t old_word, uint16_t new_word);
uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value);

}  // namespace quasi
