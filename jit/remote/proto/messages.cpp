// Encoding and decoding of the remote protocol's messages (format: README.md).
#include "jit/remote/proto/messages.hpp"

#include "jit/remote/proto/sha256.hpp"

#include <cstring>

namespace quasi::remote {

namespace {

// Big-endian fields appended to a bounded buffer; a write past the end sets
// `overflow` and writes nothing more.
class Writer {
public:
    explicit Writer(std::span<uint8_t> out) : out_(out) {}
    void u8(uint8_t v) { put(&v, 1); }
    void u16(uint16_t v) { be(v, 2); }
    void u32(uint32_t v) { be(v, 4); }
    void u64(uint64_t v) { be(v, 8); }
    void bytes(std::span<const uint8_t> b) { put(b.data(), b.size()); }
    void str8(std::string_view s) {
        u8(static_cast<uint8_t>(s.size()));
        put(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    }
    void str16(std::string_view s) {
        u16(static_cast<uint16_t>(s.size()));
        put(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    }
    size_t size() const { return len_; }
    bool overflow() const { return overflow_; }
    uint8_t* data() { return out_.data(); }

private:
    void be(uint64_t v, size_t n) {
        uint8_t b[8];
        for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
        put(b, n);
    }
    void put(const uint8_t* p, size_t n) {
        if (overflow_ || n > out_.size() - len_) {
            overflow_ = true;
            return;
        }
        if (n != 0) std::memcpy(out_.data() + len_, p, n);
        len_ += n;
    }
    std::span<uint8_t> out_;
    size_t len_ = 0;
    bool overflow_ = false;
};

// Big-endian fields read from a bounded span; a read past the end sets `short_`
// and returns zeros / empty views, so a decoder checks once at the end.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> in) : in_(in) {}
    uint8_t u8() { return static_cast<uint8_t>(be(1)); }
    uint16_t u16() { return static_cast<uint16_t>(be(2)); }
    uint32_t u32() { return static_cast<uint32_t>(be(4)); }
    uint64_t u64() { return be(8); }
    std::span<const uint8_t> bytes(size_t n) {
        if (short_ || n > in_.size() - pos_) {
            short_ = true;
            return {};
        }
        auto s = in_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    std::string_view str8() { return text(bytes(u8())); }
    std::string_view str16() { return text(bytes(u16())); }
    bool short_read() const { return short_; }
    bool at_end() const { return pos_ == in_.size(); }

private:
    static std::string_view text(std::span<const uint8_t> b) {
        return {reinterpret_cast<const char*>(b.data()), b.size()};
    }
    uint64_t be(size_t n) {
        auto b = bytes(n);
        uint64_t v = 0;
        for (uint8_t x : b) v = (v << 8) | x;
        return v;
    }
    std::span<const uint8_t> in_;
    size_t pos_ = 0;
    bool short_ = false;
};

bool key_ok(std::span<const uint8_t> key) { return key.size() >= kMinKeyBytes && key.size() <= kMaxKeyBytes; }

// Names travel as ASCII from a small alphabet: nothing a log or a linker could
// misread (no spaces, quotes, control bytes or NULs).
bool name_ok(std::string_view s, size_t max, bool symbol) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
        if (symbol) ok = ok || (c >= 'A' && c <= 'Z') || c == '$';
        else ok = ok || c == '-';
        if (!ok) return false;
    }
    return true;
}
bool target_ok(std::string_view s) { return name_ok(s, kMaxTargetBytes, false); }
bool path_ok(SendPath p) { return p == SendPath::udp || p == SendPath::tcp; }
bool status_ok(Status s) { return static_cast<uint8_t>(s) <= kMaxStatus; }
// Text for people: printable ASCII, so a log line stays one line.
bool text_ok(std::string_view s) {
    if (s.size() > kMaxReplyText) return false;
    for (char c : s)
        if (c < 0x20 || c > 0x7e) return false;
    return true;
}
// An address of the target's width.
bool fits(uint64_t address, uint8_t pointer_bytes) { return pointer_bytes == 8 || address <= 0xFFFFFFFFu; }

bool valid(const SpecRequest& m) {
    if (!target_ok(m.target) || !path_ok(m.path)) return false;
    if (m.pointer_bytes != 4 && m.pointer_bytes != 8) return false;
    if (m.context.empty() || m.context.size() > kMaxContextBytes) return false;
    // The code buffer: non-null, not empty, and not wrapping around the address space.
    if (m.code_address == 0 || m.code_capacity == 0 || !fits(m.code_address, m.pointer_bytes)) return false;
    if (m.code_address + m.code_capacity < m.code_address) return false;
    if (m.pointer_bytes == 4 && m.code_address + m.code_capacity > 0x100000000ull) return false;
    if (m.symbol_count > kMaxSymbols) return false;
    auto table = m.symbol_table();
    for (size_t i = 0; i < table.size(); ++i) {
        if (!name_ok(table[i].name, kMaxSymbolNameBytes, true) || !fits(table[i].address, m.pointer_bytes))
            return false;
        for (size_t j = 0; j < i; ++j)
            if (table[j].name == table[i].name) return false;  // one address per name
    }
    return true;
}

bool valid(const SpecReply& m) {
    if (!status_ok(m.status) || !text_ok(m.message) || !target_ok(m.target) || !path_ok(m.path)) return false;
    if (m.status != Status::ok) return m.code.empty() && m.entry_offset == 0;
    return !m.code.empty() && m.code.size() <= kMaxCodeBytes && m.entry_offset < m.code.size() &&
           m.code_address != 0;
}

bool valid(const StatsReply& m) {
    if (!status_ok(m.status) || m.stat_count > kMaxStats) return false;
    for (const Stat& s : m.entries())
        if (!name_ok(s.name, kMaxStatNameBytes, false)) return false;
    return true;
}
bool valid(const StatsRequest&) { return true; }

void write_symbols(Writer& w, std::span<const Symbol> symbols) {
    w.u8(static_cast<uint8_t>(symbols.size()));
    for (const Symbol& s : symbols) {
        w.str8(s.name);
        w.u64(s.address);
    }
}

void write_body(Writer& w, const SpecRequest& m) {
    w.str8(m.target);
    w.u8(static_cast<uint8_t>(m.path));
    w.u8(m.pointer_bytes);
    w.u32(m.layout_tag);
    w.u16(static_cast<uint16_t>(m.context.size()));
    w.bytes(m.context);
    w.u64(m.code_address);
    w.u32(m.code_capacity);
    write_symbols(w, m.symbol_table());
}
void write_body(Writer& w, const SpecReply& m) {
    w.u8(static_cast<uint8_t>(m.status));
    w.str16(m.message);
    w.str8(m.target);
    w.u8(static_cast<uint8_t>(m.path));
    w.u64(m.code_address);
    w.u32(m.entry_offset);
    w.u64(m.symbol_hash);
    w.u32(static_cast<uint32_t>(m.code.size()));
    w.bytes(m.code);
}
void write_body(Writer&, const StatsRequest&) {}
void write_body(Writer& w, const StatsReply& m) {
    w.u8(static_cast<uint8_t>(m.status));
    w.u8(m.stat_count);
    for (const Stat& s : m.entries()) {
        w.str8(s.name);
        w.u64(s.value);
    }
}

void read_body(Reader& r, SpecRequest& m) {
    m.target = r.str8();
    m.path = static_cast<SendPath>(r.u8());
    m.pointer_bytes = r.u8();
    m.layout_tag = r.u32();
    m.context = r.bytes(r.u16());
    m.code_address = r.u64();
    m.code_capacity = r.u32();
    uint8_t count = r.u8();
    if (count > kMaxSymbols) {
        m.symbol_count = count;  // refused by valid(); nothing more is read
        return;
    }
    m.symbol_count = count;
    for (uint8_t i = 0; i < count; ++i) {
        m.symbols[i].name = r.str8();
        m.symbols[i].address = r.u64();
    }
}
void read_body(Reader& r, SpecReply& m) {
    m.status = static_cast<Status>(r.u8());
    m.message = r.str16();
    m.target = r.str8();
    m.path = static_cast<SendPath>(r.u8());
    m.code_address = r.u64();
    m.entry_offset = r.u32();
    m.symbol_hash = r.u64();
    m.code = r.bytes(r.u32());
}
void read_body(Reader&, StatsRequest&) {}
void read_body(Reader& r, StatsReply& m) {
    m.status = static_cast<Status>(r.u8());
    uint8_t count = r.u8();
    m.stat_count = count;
    if (count > kMaxStats) return;
    for (uint8_t i = 0; i < count; ++i) {
        m.stats[i].name = r.str8();
        m.stats[i].value = r.u64();
    }
}

template <class M>
constexpr MessageType type_of();
template <>
constexpr MessageType type_of<SpecRequest>() { return MessageType::spec_request; }
template <>
constexpr MessageType type_of<SpecReply>() { return MessageType::spec_reply; }
template <>
constexpr MessageType type_of<StatsRequest>() { return MessageType::stats_request; }
template <>
constexpr MessageType type_of<StatsReply>() { return MessageType::stats_reply; }

template <class M>
ProtoError encode_message(const M& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size) {
    size = 0;
    if (!key_ok(key)) return ProtoError::bad_key;
    if (!valid(m)) return ProtoError::bad_field;
    Writer w(out.size() > kMaxMessageBytes ? out.first(kMaxMessageBytes) : out);
    w.u32(0);  // the length, once known
    w.bytes(kMagic);
    w.u8(kProtocolVersion);
    w.u8(static_cast<uint8_t>(type_of<M>()));
    w.u16(0);
    w.u64(m.device_id);
    w.u64(m.nonce);
    write_body(w, m);
    uint8_t mac[kMacBytes] = {};
    w.bytes(mac);
    if (w.overflow()) return ProtoError::no_room;
    size_t total = w.size();
    uint8_t* p = w.data();
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(total >> (24 - 8 * i));
    message_mac(key, {p, total - kMacBytes}, p + total - kMacBytes);
    size = total;
    return ProtoError::ok;
}

template <class M>
ProtoError decode_message(std::span<const uint8_t> message, std::span<const uint8_t> key, M& out) {
    out = M{};
    Header h;
    if (ProtoError e = peek_header(message, h); e != ProtoError::ok) return e;
    if (h.type != type_of<M>()) return ProtoError::bad_type;
    if (!key_ok(key)) return ProtoError::bad_key;
    // The MAC before anything else of the message is looked at.
    size_t signed_len = message.size() - kMacBytes;
    uint8_t mac[kMacBytes];
    message_mac(key, message.first(signed_len), mac);
    if (!mac_equal(mac, message.data() + signed_len)) return ProtoError::bad_mac;
    out.device_id = h.device_id;
    out.nonce = h.nonce;
    Reader r(message.subspan(kHeaderBytes, signed_len - kHeaderBytes));
    read_body(r, out);
    ProtoError e = ProtoError::ok;
    if (r.short_read())
        e = ProtoError::truncated;
    else if (!valid(out))
        e = ProtoError::bad_field;
    else if (!r.at_end())
        e = ProtoError::trailing;
    if (e != ProtoError::ok) out = M{};
    return e;
}

}  // namespace

const char* status_name(Status s) {
    switch (s) {
        case Status::ok: return "ok";
        case Status::bad_request: return "bad request";
        case Status::unsupported_version: return "unsupported version";
        case Status::unknown_target: return "unknown target";
        case Status::bad_context: return "context size or layout does not match the target";
        case Status::unknown_symbol: return "the code needs a host function the request did not give";
        case Status::code_too_large: return "the code does not fit the code buffer";
        case Status::compile_failed: return "compile failed";
        case Status::busy: return "server busy";
        case Status::internal: return "internal server error";
    }
    return "unknown status";
}

const char* proto_error_name(ProtoError e) {
    switch (e) {
        case ProtoError::ok: return "ok";
        case ProtoError::truncated: return "truncated message";
        case ProtoError::oversized: return "oversized message";
        case ProtoError::bad_magic: return "bad magic";
        case ProtoError::bad_version: return "unsupported protocol version";
        case ProtoError::bad_type: return "unexpected message type";
        case ProtoError::bad_flags: return "reserved flags set";
        case ProtoError::bad_key: return "key length out of range";
        case ProtoError::bad_mac: return "MAC does not match";
        case ProtoError::bad_field: return "field out of range";
        case ProtoError::trailing: return "bytes after the last field";
        case ProtoError::no_room: return "output buffer too small";
    }
    return "unknown error";
}

uint32_t message_length(std::span<const uint8_t> prefix) {
    if (prefix.size() < 4) return 0;
    uint32_t len = uint32_t{prefix[0]} << 24 | uint32_t{prefix[1]} << 16 | uint32_t{prefix[2]} << 8 | prefix[3];
    return len >= kMinMessageBytes && len <= kMaxMessageBytes ? len : 0;
}

ProtoError peek_header(std::span<const uint8_t> message, Header& out) {
    out = Header{};
    if (message.size() < kMinMessageBytes) return ProtoError::truncated;
    if (message.size() > kMaxMessageBytes) return ProtoError::oversized;
    Reader r(message.first(kHeaderBytes));
    uint32_t length = r.u32();
    if (length > kMaxMessageBytes) return ProtoError::oversized;
    if (length > message.size()) return ProtoError::truncated;
    if (length < message.size()) return length < kMinMessageBytes ? ProtoError::truncated : ProtoError::oversized;
    auto magic = r.bytes(4);
    if (std::memcmp(magic.data(), kMagic, sizeof kMagic) != 0) return ProtoError::bad_magic;
    uint8_t version = r.u8();
    if (version != kProtocolVersion) return ProtoError::bad_version;
    uint8_t type = r.u8();
    if (type < 1 || type > 4) return ProtoError::bad_type;
    if (r.u16() != 0) return ProtoError::bad_flags;
    out.length = length;
    out.version = version;
    out.type = static_cast<MessageType>(type);
    out.device_id = r.u64();
    out.nonce = r.u64();
    return ProtoError::ok;
}

ProtoError decode(std::span<const uint8_t> m, std::span<const uint8_t> key, SpecRequest& out) {
    return decode_message(m, key, out);
}
ProtoError decode(std::span<const uint8_t> m, std::span<const uint8_t> key, SpecReply& out) {
    return decode_message(m, key, out);
}
ProtoError decode(std::span<const uint8_t> m, std::span<const uint8_t> key, StatsRequest& out) {
    return decode_message(m, key, out);
}
ProtoError decode(std::span<const uint8_t> m, std::span<const uint8_t> key, StatsReply& out) {
    return decode_message(m, key, out);
}

ProtoError encode(const SpecRequest& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size) {
    return encode_message(m, key, out, size);
}
ProtoError encode(const SpecReply& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size) {
    return encode_message(m, key, out, size);
}
ProtoError encode(const StatsRequest& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size) {
    return encode_message(m, key, out, size);
}
ProtoError encode(const StatsReply& m, std::span<const uint8_t> key, std::span<uint8_t> out, size_t& size) {
    return encode_message(m, key, out, size);
}

uint64_t symbol_table_hash(std::span<const Symbol> symbols) {
    uint8_t buf[1 + kMaxSymbols * (1 + kMaxSymbolNameBytes + 8)];
    Writer w(buf);
    write_symbols(w, symbols.size() > kMaxSymbols ? symbols.first(kMaxSymbols) : symbols);
    Sha256 h;
    h.update(buf, w.size());
    uint8_t digest[kSha256Bytes];
    h.finish(digest);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | digest[i];
    return v;
}

}  // namespace quasi::remote
