#include "stack/wire/bytes.hpp"

#include <cstdio>

namespace quasi {

const char* format(Ipv4Addr a, char* buf, size_t len) {
    // uint32_t is unsigned int on Linux but unsigned long on arm-none-eabi: cast for %u.
    std::snprintf(buf, len, "%u.%u.%u.%u", static_cast<unsigned>(a.value >> 24),
                  static_cast<unsigned>((a.value >> 16) & 0xFF), static_cast<unsigned>((a.value >> 8) & 0xFF),
                  static_cast<unsigned>(a.value & 0xFF));
    return buf;
}

bool parse_ipv4(const char* text, Ipv4Addr& out) {
    uint32_t value = 0;
    for (int part = 0; part < 4; ++part) {
        if (*text < '0' || *text > '9') return false;
        uint32_t octet = 0;
        int digits = 0;
        while (*text >= '0' && *text <= '9') {
            octet = octet * 10 + static_cast<uint32_t>(*text - '0');
            if (++digits > 3 || octet > 255) return false;
            ++text;
        }
        value = (value << 8) | octet;
        if (part < 3) {
            if (*text != '.') return false;
            ++text;
        }
    }
    if (*text != '\0') return false;
    out = Ipv4Addr{value};
    return true;
}

const char* format(const MacAddr& m, char* buf, size_t len) {
    std::snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m.bytes[0], m.bytes[1], m.bytes[2],
                  m.bytes[3], m.bytes[4], m.bytes[5]);
    return buf;
}

bool parse_mac(const char* text, MacAddr& out) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    MacAddr m;
    for (int i = 0; i < 6; ++i) {
        int hi = hex(text[0]);
        int lo = hi < 0 ? -1 : hex(text[1]);
        if (lo < 0) return false;
        m.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(hi * 16 + lo);
        text += 2;
        if (i < 5 && *text++ != ':') return false;
    }
    if (*text != '\0') return false;
    out = m;
    return true;
}

}  // namespace quasi
