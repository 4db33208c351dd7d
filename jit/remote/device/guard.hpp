// The guard of a remotely specialized UDP handle: the host's quasi-invariant
// mechanism (context/quasi_invariant.hpp), watched as jit/specialize.cpp watches it
// for in-process handles, plus the ARP generation compared at entry. This is the
// device side's one use of that mechanism (it moves to guards/ with the rest).
//
// The guard word is what the specialized code reads at entry (its context's guard
// pointer names it): non-zero makes the code decline, so a violated guard sends the
// call down the generic path even if the handle still held the code.
#pragma once

#include "context/quasi_invariant.hpp"

#include <array>
#include <cstdint>

namespace quasi {
class Interface;
class Stack;
struct UdpSocket;
}  // namespace quasi

namespace quasi::remote {

class RemoteGuard final : public InvariantWatcher {
public:
    RemoteGuard() = default;
    RemoteGuard(const RemoteGuard&) = delete;
    RemoteGuard& operator=(const RemoteGuard&) = delete;

    // Watches what a frozen UDP context depends on: the socket's addresses, ports and
    // options, the route table, the interface MTU and the path-MTU cache; re-arms the word.
    void watch_udp(Stack& stack, UdpSocket& socket, Interface& iface, uint64_t arp_generation);
    void unwatch();
    void invariant_changed() override { word = 1; }
    bool holds() const;

    uint32_t word = 1;  // 0 while the frozen state holds

private:
    Interface* iface_ = nullptr;
    uint64_t arp_generation_ = 0;
    std::array<GuardLink, 11> links_;
};

}  // namespace quasi::remote
