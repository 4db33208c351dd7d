// Byte-order helpers and the address types every layer shares.
//
// Packet bytes are only ever read and written through these explicit big-endian
// loads and stores; no struct is laid over packet memory (layout would depend on
// the compiler and on alignment).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace quasi {

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

inline uint32_t load_be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void store_be16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

inline void store_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

// An IPv4 address in host byte order (198.18.0.1 is 0xC6120001).
struct Ipv4Addr {
    uint32_t value = 0;

    static constexpr Ipv4Addr from_octets(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
        return Ipv4Addr{(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d};
    }
    static constexpr Ipv4Addr any() { return Ipv4Addr{0}; }
    static constexpr Ipv4Addr broadcast() { return Ipv4Addr{0xFFFFFFFFu}; }

    constexpr bool is_unspecified() const { return value == 0; }
    constexpr bool is_broadcast() const { return value == 0xFFFFFFFFu; }
    constexpr bool is_multicast() const { return (value >> 28) == 0xE; }
    constexpr bool is_class_e() const { return (value >> 28) == 0xF && !is_broadcast(); }
    constexpr bool is_loopback() const { return (value >> 24) == 127; }
    constexpr bool in_zero_network() const { return (value >> 24) == 0; }
    // RFC 1122 3.2.1.3: a datagram whose source is one of these must be discarded
    // (a loopback source never arrives on a wire, (g)).
    constexpr bool is_invalid_source() const {
        return is_broadcast() || is_multicast() || is_class_e() || in_zero_network() || is_loopback();
    }

    uint32_t load_from(const uint8_t* p) { return value = load_be32(p); }
    void store_to(uint8_t* p) const { store_be32(p, value); }
    static Ipv4Addr load(const uint8_t* p) { return Ipv4Addr{load_be32(p)}; }

    friend constexpr bool operator==(Ipv4Addr, Ipv4Addr) = default;
    friend constexpr auto operator<=>(Ipv4Addr, Ipv4Addr) = default;
};

// Formats into buf (at least 16 bytes) as dotted quad; returns buf.
const char* format(Ipv4Addr a, char* buf, size_t len);
// Parses "a.b.c.d"; returns false on anything else.
bool parse_ipv4(const char* text, Ipv4Addr& out);

struct MacAddr {
    std::array<uint8_t, 6> bytes{};

    static constexpr MacAddr broadcast() { return MacAddr{{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}; }
    static MacAddr load(const uint8_t* p) {
        MacAddr m;
        std::memcpy(m.bytes.data(), p, 6);
        return m;
    }
    void store_to(uint8_t* p) const { std::memcpy(p, bytes.data(), 6); }

    constexpr bool is_broadcast() const { return *this == broadcast(); }
    constexpr bool is_multicast() const { return (bytes[0] & 1) != 0; }  // includes broadcast
    constexpr bool is_zero() const { return *this == MacAddr{}; }

    friend constexpr bool operator==(const MacAddr&, const MacAddr&) = default;
};

const char* format(const MacAddr& m, char* buf, size_t len);  // buf >= 18 bytes
bool parse_mac(const char* text, MacAddr& out);

}  // namespace quasi
