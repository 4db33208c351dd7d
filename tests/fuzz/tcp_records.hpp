// The input format of tcp_fuzzer, shared by the fuzzer and its corpus generator.
//
// An input is two configuration bytes, then records. Sequence and acknowledgment
// numbers are never absolute: they are offsets from a base the harness knows (the
// connection's RCV.NXT, SND.UNA, ... or what the peer saw on the wire), so a mutated
// input still lands in the window, and seeds do not depend on the stack's ISNs.
//
//   config[0]  bit 0 timestamps off      bit 4 NewReno (else CUBIC)
//              bit 1 SACK off            bits 5-6 buffers: 16K/16K, 4K/4K, 2K send/128K
//              bit 2 window scaling off           receive (window scale 2), 64K/2K
//              bit 3 SYN cookies off     bit 7 no connection established at start-up
//   config[1]  bits 0-1 listener backlog - 1      bit 4 the start-up peer sends no timestamps
//              bit 2 listener SO_KEEPALIVE         bit 5 ... no SACK-permitted
//                    (idle 20 s, every 5 s, 3)     bit 6 ... no window scale
//              bit 3 listener TCP_NODELAY          bit 7 ... MSS 200 instead of 1460
//
// A record starts with an op byte: bits 0-2 the slot (below), bits 3-7 the kind:
//   0-19   a segment from the slot's peer port (SegmentRecord, 11 bytes + options)
//   20-23  virtual time passes: one time byte (0-199 ms, 200-255 are 1-56 s), and
//          every timer due on the way fires at its deadline
//   24-25  virtual time runs to the next timer deadline
//   26-31  the application acts (AppRecord: action byte, u16 argument)
// A record cut short by the end of the input reads zeros for its missing bytes.
//
// Slots: the peer (198.18.0.1) talks from port 40000 + slot. Slots 0-5 are passive:
// their segments go to the listener's port 80, and the connection established at
// start-up is slot 0's. Slots 6-7 are active: the application connects to the peer's
// port, and segments go to the port the stack chose (port 81, where nothing listens,
// before that).
//
// SegmentRecord (all multi-byte fields big-endian):
//   u8  flags       the TCP flags byte, as is
//   u8  bases       bits 0-1 sequence base, bits 2-3 acknowledgment base (below),
//                   bit 4 to port 81 (no listener) whatever the slot
//   i16 seq offset  added to the sequence base
//   i16 ack offset  added to the acknowledgment base
//   u16 window
//   u8  options     bit 0 MSS (u16 follows)      bit 4 SACK blocks (u8 count - 1, then
//                   bit 1 window scale (u8)            per block i16 left offset from
//                   bit 2 SACK-permitted               SND.UNA, u16 length)
//                   bit 3 timestamps (i8: TSval     bit 5 raw option bytes (u8 length,
//                         offset from the peer's          then bytes) after the others
//                         clock in 8 ms units)      bit 6 TSecr 0 instead of the echo
//                                                   bit 7 wrong checksum
//   u16 payload     length (bits 0-10), clipped to what fits in a 1500-byte MTU
// The option parameters follow the options byte in bit order, before the payload
// length. Payload bytes are not in the input: each byte is a function of its
// sequence number (peer_byte), so whatever the stack delivers can be verified and a
// retransmission always carries the same data.
//
// Sequence bases: 0 the connection's RCV.NXT (the slot's ISN when there is no
// connection), 1 the slot's ISN, 2 RCV.NXT + the receive window (the right edge),
// 3 one past the highest sequence number the peer sent.
// Acknowledgment bases: 0 SND.MAX, 1 SND.UNA, 2 one past the highest sequence number
// seen from the stack on the wire (a SYN cookie's SYN-ACK has no connection behind
// it), 3 ISS + 1; 0, 1 and 3 fall back on 2 when there is no connection.
#pragma once

#include "stack/clock.hpp"
#include "stack/wire/bytes.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace quasi::fuzz {

constexpr size_t kTcpConfigLen = 2;
constexpr size_t kSlots = 8;
constexpr size_t kFirstActiveSlot = 6;
constexpr uint16_t kFirstPeerPort = 40000;
constexpr uint16_t kListenPort = 80;
constexpr uint16_t kClosedPort = 81;

namespace config_bits {
constexpr uint8_t no_timestamps = 0x01;
constexpr uint8_t no_sack = 0x02;
constexpr uint8_t no_window_scaling = 0x04;
constexpr uint8_t no_syn_cookies = 0x08;
constexpr uint8_t new_reno = 0x10;
constexpr uint8_t buffers_shift = 5;
constexpr uint8_t no_startup_connection = 0x80;
// config[1]
constexpr uint8_t backlog_mask = 0x03;
constexpr uint8_t listener_keepalive = 0x04;
constexpr uint8_t listener_nodelay = 0x08;
constexpr uint8_t startup_no_timestamps = 0x10;
constexpr uint8_t startup_no_sack = 0x20;
constexpr uint8_t startup_no_window_scale = 0x40;
constexpr uint8_t startup_small_mss = 0x80;
}  // namespace config_bits

enum class RecordKind : uint8_t { segment, advance, next_timer, app };
constexpr uint8_t kAdvanceKinds = 20;    // op >> 3 below this: a segment
constexpr uint8_t kNextTimerKinds = 24;  // below this: time passes
constexpr uint8_t kAppKinds = 26;        // below this: to the next timer; from here: the application

inline RecordKind record_kind(uint8_t op) {
    const uint8_t kind = op >> 3;
    if (kind < kAdvanceKinds) return RecordKind::segment;
    if (kind < kNextTimerKinds) return RecordKind::advance;
    if (kind < kAppKinds) return RecordKind::next_timer;
    return RecordKind::app;
}
inline uint8_t make_op(RecordKind kind, size_t slot) {
    constexpr uint8_t first[] = {0, kAdvanceKinds, kNextTimerKinds, kAppKinds};
    return static_cast<uint8_t>((first[uint8_t(kind)] << 3) | (slot & 7));
}

// The time byte, as in frame_records.hpp: 0-199 ms, then 1-56 s.
inline TimeNs tcp_record_time(uint8_t t) {
    if (t < 200) return TimeNs{t} * kMillisecond;
    return TimeNs{t - 199u} * kSecond;
}

namespace seg_bases {
constexpr uint8_t seq_rcv_nxt = 0, seq_isn = 1, seq_right_edge = 2, seq_peer_next = 3;
constexpr uint8_t ack_snd_max = 0, ack_snd_una = 4, ack_seen = 8, ack_iss = 12;
constexpr uint8_t to_closed_port = 0x10;
}  // namespace seg_bases

namespace seg_options {
constexpr uint8_t mss = 0x01, window_scale = 0x02, sack_permitted = 0x04, timestamps = 0x08, sack = 0x10, raw = 0x20,
                  ts_ecr_zero = 0x40, bad_checksum = 0x80;
}  // namespace seg_options

struct RawSack {
    int16_t left = 0;  // from SND.UNA
    uint16_t length = 0;
};

struct SegmentRecord {
    uint8_t flags = 0;
    uint8_t bases = 0;
    int16_t seq_offset = 0;
    int16_t ack_offset = 0;
    uint16_t window = 0;
    uint8_t options = 0;
    uint16_t mss = 0;
    uint8_t window_scale = 0;
    int8_t ts_offset = 0;
    uint8_t sack_count = 0;
    std::array<RawSack, 4> sacks{};
    std::vector<uint8_t> raw{};  // at most 40 bytes
    uint16_t payload_len = 0;    // 0-2047
};

enum class AppAction : uint8_t {
    send,      // arg bytes
    recv,      // arg bytes
    peek,      // arg bytes, MSG_PEEK
    shutdown,  // how = arg % 3
    close,
    accept,      // from the listener; the connection goes to its peer port's slot
    connect,     // active slots: a new socket (options from arg bits 0-2) connects
    setsockopt,  // arg bits 0-2 pick the option, the rest is its value
    icmp,        // an ICMP error quoting the slot's connection (arg: kind, MTU, offset)
    listener,    // close the listener, or open it again with backlog arg % 4 + 1
    readiness,   // poll(): what it reports must agree with recv()/send()
    count
};

struct AppRecord {
    AppAction action = AppAction::send;
    uint16_t arg = 0;
};

// Reads an input front to back; past the end every byte reads as 0.
class TcpInputReader {
public:
    explicit TcpInputReader(std::span<const uint8_t> input) : in_(input) {}
    bool at_end() const { return pos_ >= in_.size(); }
    uint8_t u8() { return pos_ < in_.size() ? in_[pos_++] : 0; }
    uint16_t u16() {
        uint16_t hi = u8();
        return static_cast<uint16_t>(hi << 8 | u8());
    }
    int16_t i16() { return static_cast<int16_t>(u16()); }

    SegmentRecord segment() {
        SegmentRecord r;
        r.flags = u8();
        r.bases = u8();
        r.seq_offset = i16();
        r.ack_offset = i16();
        r.window = u16();
        r.options = u8();
        using namespace seg_options;
        if (r.options & mss) r.mss = u16();
        if (r.options & window_scale) r.window_scale = u8();
        if (r.options & timestamps) r.ts_offset = static_cast<int8_t>(u8());
        if (r.options & sack) {
            r.sack_count = static_cast<uint8_t>((u8() & 3) + 1);
            for (size_t i = 0; i < r.sack_count; ++i) r.sacks[i] = RawSack{i16(), u16()};
        }
        if (r.options & raw) {
            size_t len = u8() % 41;
            for (size_t i = 0; i < len; ++i) r.raw.push_back(u8());
        }
        r.payload_len = u16() & 0x07FF;
        return r;
    }

    AppRecord app() {
        AppRecord r;
        r.action = static_cast<AppAction>(u8() % uint8_t(AppAction::count));
        r.arg = u16();
        return r;
    }

private:
    std::span<const uint8_t> in_;
    size_t pos_ = 0;
};

// The writing side (corpus generator, harness start-up): the exact inverse of the reader.
class TcpInputWriter {
public:
    std::vector<uint8_t>& bytes() { return out_; }
    void u8(uint8_t v) { out_.push_back(v); }
    void u16(uint16_t v) {
        u8(static_cast<uint8_t>(v >> 8));
        u8(static_cast<uint8_t>(v));
    }

    void segment(size_t slot, const SegmentRecord& r) {
        u8(make_op(RecordKind::segment, slot));
        u8(r.flags);
        u8(r.bases);
        u16(static_cast<uint16_t>(r.seq_offset));
        u16(static_cast<uint16_t>(r.ack_offset));
        u16(r.window);
        u8(r.options);
        using namespace seg_options;
        if (r.options & mss) u16(r.mss);
        if (r.options & window_scale) u8(r.window_scale);
        if (r.options & timestamps) u8(static_cast<uint8_t>(r.ts_offset));
        if (r.options & sack) {
            u8(static_cast<uint8_t>(r.sack_count - 1));
            for (size_t i = 0; i < r.sack_count; ++i) {
                u16(static_cast<uint16_t>(r.sacks[i].left));
                u16(r.sacks[i].length);
            }
        }
        if (r.options & raw) {
            u8(static_cast<uint8_t>(r.raw.size()));
            for (uint8_t b : r.raw) u8(b);
        }
        u16(r.payload_len);
    }
    void advance(uint8_t time) {
        u8(make_op(RecordKind::advance, 0));
        u8(time);
    }
    void next_timer() { u8(make_op(RecordKind::next_timer, 0)); }
    void app(size_t slot, AppAction action, uint16_t arg = 0) {
        u8(make_op(RecordKind::app, slot));
        u8(uint8_t(action));
        u16(arg);
    }

private:
    std::vector<uint8_t> out_;
};

// The byte the peer sends at sequence number `seq`, and the byte the application
// writes at offset `offset` of its stream: unlike each other and unlike a shifted
// copy of themselves, so misplaced data shows.
inline uint8_t peer_byte(uint32_t seq) {
    return static_cast<uint8_t>((seq * 0x9E3779B1u) >> 24);
}
inline uint8_t app_byte(uint64_t offset) {
    return static_cast<uint8_t>((static_cast<uint32_t>(offset) * 0x85EBCA6Bu + 0x5BD1u) >> 23);
}

}  // namespace quasi::fuzz
