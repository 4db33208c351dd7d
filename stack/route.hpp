// The IPv4 routing table: longest-prefix match over a small fixed table.
//
// Hosts running this stack have a handful of routes (one per interface subnet plus
// a default gateway), so a table kept sorted by prefix length and scanned in order
// is both the simplest and the fastest structure. Every change bumps `version`, a
// quasi-invariant: specialized handles that froze a route watch it.
#pragma once

#include "guards/quasi_invariant.hpp"
#include "stack/clock.hpp"
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

class Interface;

// A socket's cached answer to "how does a datagram to dst leave?" (what Linux keeps
// as the dst entry on a socket): the route's interface and next hop, the path MTU,
// the RFC 7739 IP ID counter for (src, dst, protocol) and, once resolved, the next
// hop's MAC. Stack::route_cached() fills it and trusts it only while every input
// it was computed from is unchanged: the key (dst and the socket's bound address),
// the route table's version, the path-MTU cache's version and the expiry of the
// path-MTU entry it used, the interface MTU, and the ARP cache's generation (for
// the MAC). So a send reads a dozen words instead of scanning the route table and
// the path-MTU cache, probing the ARP hash and running SipHash.
struct DstEntry {
    static constexpr TimeNs kNoExpiry = ~TimeNs{0};

    // The key.
    Ipv4Addr dst;
    Ipv4Addr local;  // the socket's bound address (unspecified: the interface's)
    // The answer (iface null: nothing cached).
    Interface* iface = nullptr;
    Ipv4Addr src;       // local, or the interface's address
    Ipv4Addr next_hop;  // the gateway, or dst on a connected route
    uint16_t* ident = nullptr;  // Stack::ip_ident_counter(src, dst, protocol)
    uint16_t path_mtu = 0;
    bool broadcast = false;  // limited, directed or multicast: never a unicast fast path
    bool resolved = false;   // mac holds the next hop's MAC
    MacAddr mac;
    // What it was computed from.
    uint64_t route_version = 0;
    uint64_t pmtu_version = 0;
    TimeNs pmtu_expires = kNoExpiry;  // of the path-MTU entry path_mtu came from
    uint16_t link_mtu = 0;            // the interface MTU then
    uint64_t arp_generation = 0;      // of iface's ARP cache when mac was read

    bool operator==(const DstEntry&) const = default;  // a recycled socket's test (tcp_recycle_test)
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
