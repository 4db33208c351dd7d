// What can break a specialization's assumptions, and what a handle does about it.
//
// Every invariant a handle watches has a kind; the kind decides which policies can
// apply (the README's guard table says the same in prose):
// - reinforce: the stale code keeps running and guards/reinforce.hpp corrects its
//   frames at egress (new next hop, new interface, lower MTU or MSS) while new code
//   compiles in the background and is replugged. Only environment changes that an
//   egress rewrite can make exactly right: route, neighbour, MTU, MSS.
// - fallback_and_respecialize: the call takes the generic path now, the handle
//   re-specializes (a cache hit at once, a miss in the background).
// - reject: the call fails (-ESTALE; -EMSGSIZE for a length other than the ADU).
// Application-triggered changes (socket options, addresses, a send of another size)
// cannot be reinforced: a handle asking for reinforce falls back on them. A closed
// socket fails later sends with -EBADF under every policy.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quasi {

enum class ViolationPolicy : uint8_t {
    fallback_and_respecialize,  // send through the generic path now, re-specialize
    reject,                     // -ESTALE (frozen state changed) / -EMSGSIZE (not the declared size)
    reinforce,                  // keep the code, correct its frames at egress, replug new code
};

// X(name, description)
#define QUASI_VIOLATION_KINDS(X)                                                         \
    X(socket_identity, "the socket's addresses or ports changed (closed or reused)")     \
    X(socket_option, "a frozen socket option changed (TTL, TOS, checksum, DF, NODELAY)") \
    X(route, "the route table changed")                                                   \
    X(neighbour, "the next hop's ARP entry changed")                                      \
    X(interface_mtu, "the interface MTU changed")                                         \
    X(path_mtu, "the path MTU cache changed (ICMP fragmentation needed)")                 \
    X(mss, "the connection's send MSS changed")                                           \
    X(forced, "fired on purpose (deopt stress mode, a process-wide invalidation)")        \
    X(message_size, "a send of another length than the declared message size")

enum class ViolationKind : uint8_t {
#define QUASI_ENUM(name, text) name,
    QUASI_VIOLATION_KINDS(QUASI_ENUM)
#undef QUASI_ENUM
        count_
};
constexpr size_t kViolationKindCount = static_cast<size_t>(ViolationKind::count_);
constexpr size_t kViolationPolicyCount = 3;

const char* name(ViolationKind kind);
const char* description(ViolationKind kind);
const char* name(ViolationPolicy policy);

// Whether an egress reinforcement exists for the kind at all (it may still be
// unavailable for one change: a route to nowhere, an unresolved next hop).
constexpr bool reinforceable(ViolationKind kind) {
    switch (kind) {
    case ViolationKind::route:
    case ViolationKind::neighbour:
    case ViolationKind::interface_mtu:
    case ViolationKind::path_mtu:
    case ViolationKind::mss:
        return true;
    default:
        return false;
    }
}

// The policy that applies to a violation of `kind` on a handle that asked for
// `requested`: reinforce only where a reinforcement exists, fallback elsewhere.
constexpr ViolationPolicy policy_for(ViolationKind kind, ViolationPolicy requested) {
    if (requested == ViolationPolicy::reinforce && !reinforceable(kind))
        return ViolationPolicy::fallback_and_respecialize;
    return requested;
}

}  // namespace quasi
