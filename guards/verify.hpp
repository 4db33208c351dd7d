// Verify mode's comparison (guards/modes.hpp): the first frozen field that differs
// between the context a handle's code was compiled for and one extracted now, by
// name, or null. The guard pointer is the code's, not the socket's: left out.
#pragma once

#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"

namespace quasi {

const char* first_difference(const FrozenUdpContext& frozen, const FrozenUdpContext& live);
const char* first_difference(const FrozenTcpContext& frozen, const FrozenTcpContext& live);

}  // namespace quasi
