// Sample messages of the remote protocol for its tests and the fuzzer's seeds.
#pragma once

#include "jit/remote/proto/messages.hpp"

#include <array>
#include <cstdint>
#include <vector>

namespace quasi::remote::test {

inline const std::array<uint8_t, 32> kKey = {1, 2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
inline const std::array<uint8_t, 32> kOtherKey = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
                                                  9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 7};

struct Samples {
    std::array<uint8_t, 60> context{};
    std::array<uint8_t, 300> code{};

    Samples() {
        for (size_t i = 0; i < context.size(); ++i) context[i] = static_cast<uint8_t>(i * 7);
        for (size_t i = 0; i < code.size(); ++i) code[i] = static_cast<uint8_t>(0xA0 + i);
    }

    SpecRequest request() const {
        SpecRequest r;
        r.device_id = 0x0102030405060708;
        r.nonce = 0x1122334455667788;
        r.target = "thumbv7m-none-eabi";
        r.path = SendPath::udp;
        r.pointer_bytes = 4;
        r.layout_tag = 0xC0FFEE;
        r.context = context;
        r.code_address = 0x00300000;
        r.code_capacity = 4096;
        const char* names[] = {"quasi_interface_transmit", "quasi_checksum_copy", "memcpy"};
        for (const char* n : names) {
            r.symbols[r.symbol_count] = {n, 0x1000u + 0x10u * r.symbol_count};
            ++r.symbol_count;
        }
        return r;
    }
    SpecReply reply() const {
        SpecReply r;
        r.device_id = 0x0102030405060708;
        r.nonce = 0x1122334455667788;
        r.status = Status::ok;
        r.target = "thumbv7m-none-eabi";
        r.path = SendPath::udp;
        r.code_address = 0x00300000;
        r.entry_offset = 16;
        r.symbol_hash = 0xABCDEF;
        r.code = code;
        return r;
    }
    StatsReply stats_reply() const {
        StatsReply r;
        r.device_id = 7;
        r.nonce = 8;
        r.stats[0] = {"requests", 10};
        r.stats[1] = {"cache_hits", 9};
        r.stat_count = 2;
        return r;
    }
};

template <class M>
std::vector<uint8_t> encoded(const M& m, std::span<const uint8_t> key = kKey) {
    std::vector<uint8_t> out(kMaxMessageBytes);
    size_t size = 0;
    if (encode(m, key, out, size) != ProtoError::ok) return {};
    out.resize(size);
    return out;
}

// Recomputes the length field and the MAC after a test edited a message's bytes,
// so a decoder's field checks (not its MAC check) are what refuses the edit.
inline void reseal(std::vector<uint8_t>& m, std::span<const uint8_t> key = kKey) {
    if (m.size() < kMinMessageBytes) return;
    uint32_t n = static_cast<uint32_t>(m.size());
    for (int i = 0; i < 4; ++i) m[i] = static_cast<uint8_t>(n >> (24 - 8 * i));
    message_mac(key, {m.data(), m.size() - kMacBytes}, m.data() + m.size() - kMacBytes);
}

}  // namespace quasi::remote::test
