#include "jit/remote/device/guard.hpp"

#include "stack/stack.hpp"

#include <initializer_list>

namespace quasi::remote {

void RemoteGuard::watch_udp(Stack& stack, UdpSocket& s, Interface& iface, uint64_t arp_generation) {
    unwatch();
    size_t i = 0;
    for (InvariantBase* inv : std::initializer_list<InvariantBase*>{
             &s.local_addr, &s.local_port, &s.remote_addr, &s.remote_port, &s.ttl, &s.tos, &s.checksum_enabled,
             &s.dont_fragment, &stack.routes().version, &iface.mtu, &stack.path_mtu().version})
        inv->watch(links_[i++], *this);
    iface_ = &iface;
    arp_generation_ = arp_generation;
    word = 0;
}

void RemoteGuard::unwatch() {
    for (GuardLink& link : links_) link.unlink();
    word = 1;
}

// The ARP entry is no quasi-invariant: its cache's generation is compared at entry.
bool RemoteGuard::holds() const { return word == 0 && iface_ && iface_->arp().generation() == arp_generation_; }

}  // namespace quasi::remote
