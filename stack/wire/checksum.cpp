#include "stack/wire/checksum.hpp"

#include "stack/buffer.hpp"

namespace quasi {

namespace {
// Straight-line (no loop for the specializer to compile): 64 -> 33 -> 18 -> 17 -> 16
// bits, each step keeping the one's-complement value.
uint16_t fold(uint64_t sum) { return fold_checksum(sum); }
}  // namespace

void ChecksumAccumulator::add(const uint8_t* data, size_t len) {
    if (len == 0) return;
    if (odd) {
        // The previous range ended mid-word: this byte is the low half of that word.
        sum += data[0];
        ++data;
        --len;
        odd = false;
    }
    // The rest starts on a word boundary (checksum_kernel.cpp).
    add_partial(quasi_checksum_sum(data, len), len);
}

void ChecksumAccumulator::add_chain(const PacketBuffer& chain, size_t offset, size_t len) {
    for (const PacketBuffer* seg = &chain; seg && len > 0; seg = seg->next_segment) {
        if (offset >= seg->length) {
            offset -= seg->length;
            continue;
        }
        size_t n = seg->length - offset;
        if (n > len) n = len;
        add(seg->data() + offset, n);
        len -= n;
        offset = 0;
    }
}

uint16_t ChecksumAccumulator::folded() const { return fold(sum); }

uint16_t ChecksumAccumulator::finish() const { return static_cast<uint16_t>(~fold(sum)); }

uint16_t internet_checksum(std::span<const uint8_t> bytes) {
    ChecksumAccumulator acc;
    acc.add(bytes);
    return acc.finish();
}

void add_pseudo_header(ChecksumAccumulator& acc, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                       uint16_t length) {
    acc.add32(src.value);
    acc.add32(dst.value);
    acc.add16(protocol);
    acc.add16(length);
}

uint16_t checksum_update16(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = static_cast<uint16_t>(~checksum);
    sum += static_cast<uint16_t>(~old_word);
    sum += new_word;
    return static_cast<uint16_t>(~fold(sum));
}

uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
    checksum = checksum_update16(checksum, static_cast<uint16_t>(old_value >> 16),
                                 static_cast<uint16_t>(new_value >> 16));
    return checksum_update16(checksum, static_cast<uint16_t>(old_value),
                             static_cast<uint16_t>(new_value));
}

}  // namespace quasi
