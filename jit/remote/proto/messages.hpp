// The messages between a device and quasi-specd (the remote specializer): what
// they hold, their encoding, and the checks every decoder makes. No LLVM, no
// exceptions, no allocation: the bare-metal board links this (library
// quasi_specd_proto). The byte format is in README.md next to this file.
//
// Decoded messages are views: their strings and byte spans point into the buffer
// they were decoded from, which must outlive them. Every decode checks the MAC
// first (nothing of a message is believed before), then every field against its
// bounds; a message that fails any check is refused whole with a ProtoError. The
// encoders apply the same checks, so whatever encodes also decodes, to the same
// bytes (the fuzzer checks that).
#pragma once

#include "jit/remote/proto/mac.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace quasi::remote {

inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr uint8_t kMagic[4] = {'Q', 'S', 'P', 'D'};
inline constexpr size_t kHeaderBytes = 28;
inline constexpr size_t kMinMessageBytes = kHeaderBytes + kMacBytes;
inline constexpr size_t kMaxMessageBytes = 24 * 1024;
inline constexpr size_t kMaxCodeBytes = 16 * 1024;
inline constexpr size_t kMaxContextBytes = 512;
inline constexpr size_t kMaxTargetBytes = 32;
inline constexpr size_t kMaxSymbolNameBytes = 63;
inline constexpr size_t kMaxSymbols = 32;
inline constexpr size_t kMaxReplyText = 512;
inline constexpr size_t kMaxStats = 32;
inline constexpr size_t kMaxStatNameBytes = 32;

enum class MessageType : uint8_t {
    spec_request = 1,
    spec_reply = 2,
    stats_request = 3,
    stats_reply = 4,
};

// Which frozen send path the context is for (context/udp_context.hpp, tcp_context.hpp).
enum class SendPath : uint8_t {
    udp = 1,  // FrozenUdpContext, entry quasi_udp_send_frozen
    tcp = 2,  // FrozenTcpContext, entry quasi_tcp_send_frozen
};

// The server's answer in an authenticated reply. A request whose MAC fails or whose
// device is unknown gets no reply (a reply needs the device's key): the server
// closes the connection.
enum class Status : uint8_t {
    ok = 0,
    bad_request = 1,          // a field the server cannot use (the message itself decoded)
    unsupported_version = 2,  // reserved: a version this server does not speak
    unknown_target = 3,       // no bitcode for this target
    bad_context = 4,          // size or layout tag differs from the target's struct
    unknown_symbol = 5,       // the code calls a host function the request did not give
    code_too_large = 6,       // the linked code does not fit code_capacity
    compile_failed = 7,
    busy = 8,                 // the queue is full: ask again later
    internal = 9,
};
inline constexpr uint8_t kMaxStatus = 9;
const char* status_name(Status s);

// Why a message was refused (decode) or not produced (encode).
enum class ProtoError : uint8_t {
    ok = 0,
    truncated,     // shorter than its header, or than its own length field says
    oversized,     // its length field exceeds kMaxMessageBytes, or the buffer holds more than it
    bad_magic,
    bad_version,
    bad_type,      // not the type the caller decodes
    bad_flags,     // reserved flags not zero
    bad_key,       // key shorter than kMinKeyBytes or longer than kMaxKeyBytes
    bad_mac,
    bad_field,     // a field out of its range (see README.md)
    trailing,      // bytes between the last field and the MAC
    no_room,       // encode: the output buffer is too small
};
const char* proto_error_name(ProtoError e);

struct Header {
    uint32_t length = 0;
    uint8_t version = 0;
    MessageType type{};
    uint64_t device_id = 0;
    uint64_t nonce = 0;
};

struct Symbol {
    std::string_view name;
    uint64_t address = 0;
};

struct SpecRequest {
    uint64_t device_id = 0;
    uint64_t nonce = 0;             // fresh per request: the reply must repeat it
    std::string_view target;        // an LLVM triple: thumbv7m-none-eabi, aarch64-linux-gnu, x86_64-linux-gnu
    SendPath path = SendPath::udp;
    uint8_t pointer_bytes = 0;      // the target's sizeof(void*): 4 or 8
    uint32_t layout_tag = 0;        // layout_tag() of the context struct as the target lays it out
    std::span<const uint8_t> context;  // the frozen context in the target's layout and byte order
    uint64_t code_address = 0;      // where the device will put the code
    uint32_t code_capacity = 0;     // bytes there
    std::array<Symbol, kMaxSymbols> symbols{};  // host functions the code may call, by name
    uint8_t symbol_count = 0;

    std::span<const Symbol> symbol_table() const { return {symbols.data(), symbol_count}; }
};

struct SpecReply {
    uint64_t device_id = 0;
    uint64_t nonce = 0;             // the request's
    Status status = Status::ok;
    std::string_view message;       // why, for people (empty when ok)
    std::string_view target;        // the request's
    SendPath path = SendPath::udp;  // the request's
    uint64_t code_address = 0;      // the address the code was linked for
    uint32_t entry_offset = 0;      // of the entry in code (Thumb: without the Thumb bit)
    uint64_t symbol_hash = 0;       // symbol_table_hash() of the table linked against
    std::span<const uint8_t> code;  // empty unless ok
};

struct StatsRequest {
    uint64_t device_id = 0;
    uint64_t nonce = 0;
};

struct Stat {
    std::string_view name;
    uint64_t value = 0;
};

struct StatsReply {
    uint64_t device_id = 0;
    uint64_t nonce = 0;
    Status status = Status::ok;
    std::array<Stat, kMaxStats> stats{};
    uint8_t stat_count = 0;

    std::span<const Stat> entries() const { return {stats.data(), stat_count}; }
};

// The whole message's length from its first 4 bytes, for a stream reader; 0 when
// fewer than 4 bytes are given or the length lies outside [kMinMessageBytes,
// kMaxMessageBytes] (then the stream cannot be trusted to resynchronize: close it).
uint32_t message_length(std::span<const uint8_t> prefix);

// The header without the MAC checked: enough to pick the device's key. Nothing in
// it may be believed until decode() has checked the MAC.
ProtoError peek_header(std::span<const uint8_t> message, Header& out);

// `message` must be exactly one message (its length field equal to message.size()).
ProtoError decode(std::span<const uint8_t> message, std::span<const uint8_t> key, SpecRequest& out);
ProtoError decode(std::span<const uint8_t> message, std::span<const uint8_t> key, SpecReply& out);
ProtoError decode(std::span<const uint8_t> message, std::span<const uint8_t> key, StatsRequest& out);
ProtoError decode(std::span<const uint8_t> message, std::span<const uint8_t> key, StatsReply& out);

// Writes the message with its MAC into `out`; `size` is its length on success.
ProtoError encode(const SpecRequest& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size);
ProtoError encode(const SpecReply& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size);
ProtoError encode(const StatsRequest& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size);
ProtoError encode(const StatsReply& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size);

// The request's symbol table as the server linked against it: the first 8 bytes
// (big-endian) of SHA-256 over the table's encoding (README.md), so device and server
// agree on it bit for bit.
uint64_t symbol_table_hash(std::span<const Symbol> symbols);

// The layout tag of a context struct: FNV-1a (32-bit) over `words` as 4 big-endian
// bytes each, the words being sizeof(struct) and then the offset of each member in
// declaration order. The device computes it with offsetof; the server from the
// target bitcode's struct type (its element offsets under the target's data layout).
constexpr uint32_t layout_tag(std::span<const uint32_t> words) {
    uint32_t h = 2166136261u;
    for (uint32_t w : words)
        for (int shift = 24; shift >= 0; shift -= 8) h = (h ^ ((w >> shift) & 0xFF)) * 16777619u;
    return h;
}

}  // namespace quasi::remote
