// What extracting the UDP and the TCP contexts have in common: the next hop a live
// socket's packets take (route, interface, resolved ARP entry), with an errno and a
// message when there is none, and the byte-wise context key with its hash.
#pragma once

#include "context/expected.hpp"
#include "stack/wire/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace quasi {

class Interface;
class Stack;

// "<what> 198.18.0.1": for error messages.
std::string describe(const char* what, Ipv4Addr addr);

// The decisions the live contexts take per packet (UdpLiveContext::prepare,
// TcpLiveContext::prepare), taken once.
struct NextHop {
    Interface* iface = nullptr;
    Ipv4Addr addr;  // the gateway, or the destination itself on a connected route
    MacAddr mac;
};
// The route's interface and next-hop address (mac not yet known); ENETUNREACH.
Expected<NextHop> route_to(Stack& stack, Ipv4Addr dst);
// Fills in hop.mac from the interface's ARP cache; EHOSTUNREACH when unresolved.
std::optional<Error> resolve_mac(NextHop& hop);
// Both: ENETUNREACH or EHOSTUNREACH.
Expected<NextHop> resolve_next_hop(Stack& stack, Ipv4Addr dst);

// Writes a context key's fields into its byte array, then hashes them (FNV-1a, once
// per specialization request).
class KeyWriter {
public:
    explicit KeyWriter(uint8_t* bytes) : p_(bytes), begin_(bytes) {}
    void put(const void* v, size_t n) {
        std::memcpy(p_, v, n);
        p_ += n;
    }
    size_t written() const { return static_cast<size_t>(p_ - begin_); }
    size_t hash() const {
        uint64_t h = 0xcbf29ce484222325ull;
        for (const uint8_t* b = begin_; b != p_; ++b) h = (h ^ *b) * 0x100000001b3ull;
        return static_cast<size_t>(h);
    }

private:
    uint8_t* p_;
    uint8_t* begin_;
};

}  // namespace quasi
