// The input format of frame_fuzzer, shared by the fuzzer and the corpus generator.
//
// An input is a sequence of records, each one received frame:
//
//   [u16 big-endian word][u8 time][frame bytes]
//
//   word bits 0-11   frame length (a record whose frame runs past the input is cut
//                    short; a frame longer than the link's maximum is not delivered,
//                    as a NIC would not deliver it)
//   word bit 15      fix checksums before delivery: the IPv4 header checksum, and for
//                    an unfragmented datagram the ICMP, UDP (unless 0) or TCP checksum.
//                    Without it a mutated frame almost never gets past the IPv4
//                    checksum; with it the fuzzer still reaches every "bad checksum"
//                    path by clearing the bit.
//   word bits 12-14  ignored
//   time             virtual time that passes before the frame arrives: 0-199 are
//                    milliseconds, 200-255 are 1-56 seconds (so one input can reach
//                    the 30 s reassembly and ARP timeouts)
//
// Records of fewer than 3 bytes at the end are ignored.
#pragma once

#include "stack/clock.hpp"
#include "stack/wire/bytes.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace quasi::fuzz {

constexpr size_t kRecordHeaderLen = 3;
constexpr uint16_t kRecordLengthMask = 0x0FFF;
constexpr uint16_t kRecordFixChecksums = 0x8000;
constexpr uint8_t kFirstSecondsTime = 200;

inline TimeNs record_time(uint8_t time) {
    if (time < kFirstSecondsTime) return TimeNs{time} * kMillisecond;
    return TimeNs{time - kFirstSecondsTime + 1u} * kSecond;
}

struct Record {
    std::span<const uint8_t> frame;
    TimeNs advance = 0;
    bool fix_checksums = false;
};

// Reads the record at the front of `input` and advances it; false at the end.
inline bool next_record(std::span<const uint8_t>& input, Record& out) {
    if (input.size() < kRecordHeaderLen) return false;
    const uint16_t word = load_be16(input.data());
    out.advance = record_time(input[2]);
    out.fix_checksums = (word & kRecordFixChecksums) != 0;
    input = input.subspan(kRecordHeaderLen);
    const size_t len = std::min<size_t>(word & kRecordLengthMask, input.size());
    out.frame = input.first(len);
    input = input.subspan(len);
    return true;
}

// Appends one record (the corpus generator's side). `time` is the raw byte.
inline void append_record(std::vector<uint8_t>& out, std::span<const uint8_t> frame, uint8_t time, bool fix_checksums) {
    uint16_t word = static_cast<uint16_t>(frame.size() & kRecordLengthMask);
    if (fix_checksums) word |= kRecordFixChecksums;
    out.push_back(static_cast<uint8_t>(word >> 8));
    out.push_back(static_cast<uint8_t>(word));
    out.push_back(time);
    out.insert(out.end(), frame.begin(), frame.end());
}

}  // namespace quasi::fuzz
