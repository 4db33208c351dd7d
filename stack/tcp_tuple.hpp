// The 4-tuple that names a TCP connection, and its hash (defined in tcp.cpp).
#pragma once

#include "stack/wire/ipv4.hpp"

#include <cstddef>
#include <cstdint>

namespace quasi {

struct TcpTuple {
    Ipv4Addr local_addr;
    uint16_t local_port = 0;
    Ipv4Addr remote_addr;
    uint16_t remote_port = 0;
    friend bool operator==(const TcpTuple&, const TcpTuple&) = default;
};

struct TcpTupleHash {
    size_t operator()(const TcpTuple& t) const;
};

}  // namespace quasi
