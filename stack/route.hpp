// The IPv4 routing table: longest-prefix match over a small fixed table.
//
// Hosts running this stack have a handful of routes (one per interface subnet plus
// a default gateway), so a table kept sorted by prefix length and scanned in order
// is both the simplest and the fastest structure. Every change bumps `version`, a
// quasi-invariant: specialized handles that froze a route watch it.
#pragma once

#include "context/quasi_invariant.hpp"
#include "stack/wire/bytes.hpp"

#include <array>
#include <cstdint>

namespace quasi {

struct Route {
    Ipv4Addr prefix;
    uint8_t prefix_len = 0;  // 0 is the default route
    Ipv4Addr gateway;        // unspecified: the destination is on-link
    uint16_t interface = 0;

    bool matches(Ipv4Addr dst) const { return (dst.value & mask()) == prefix.value; }
    uint32_t mask() const { return prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len); }
    // The neighbour a datagram to dst is handed to.
    Ipv4Addr next_hop(Ipv4Addr dst) const { return gateway.is_unspecified() ? dst : gateway; }
};

class RouteTable {
public:
    static constexpr size_t kMaxRoutes = 32;

    // 0, or -EINVAL (bad prefix length or host bits set), -EEXIST, -ENOSPC.
    int add(const Route& route);
    // 0 or -ESRCH.
    int remove(Ipv4Addr prefix, uint8_t prefix_len);
    // Longest-prefix match; null when nothing matches.
    const Route* lookup(Ipv4Addr dst) const;
    size_t size() const { return count_; }
    const Route& operator[](size_t i) const { return routes_[i]; }

    QuasiInvariant<uint64_t> version;

private:
    std::array<Route, kMaxRoutes> routes_{};  // sorted by prefix_len, longest first
    size_t count_ = 0;
};

}  // namespace quasi
