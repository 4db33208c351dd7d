// Extraction of a FrozenUdpContext from a live connected socket, its key, and the
// host side of the frozen path (the transmit door and the interpreted instantiation).
#include "context/udp_context.hpp"

#include "context/extraction.hpp"
#include "stack/stack.hpp"

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>

extern "C" void quasi_interface_transmit(quasi::Interface* iface, quasi::PacketBuffer* frame) {
    iface->transmit_frame(quasi::PacketPtr(frame));
}

namespace quasi {

template ssize_t udp_send<const FrozenUdpContext>(const FrozenUdpContext&, const uint8_t*, size_t);

Expected<UdpSnapshot> freeze_udp_send(Stack& stack, int fd, std::optional<uint32_t> message_size) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return make_error(EBADF, "descriptor is not an open UDP socket");
    if (!s->connected() || !s->bound()) return make_error(ENOTCONN, "UDP socket is not connected");
    Ipv4Addr dst = s->remote_addr;
    // The same decisions UdpLiveContext::prepare takes per call, taken once.
    auto hop = route_to(stack, dst);
    if (!hop) return std::move(hop).error();
    Interface& iface = *hop->iface;
    if (dst.is_broadcast() || dst == iface.directed_broadcast() || dst.is_multicast())
        return make_error(EOPNOTSUPP, describe("broadcast/multicast peers take the general path:", dst));
    if (auto error = resolve_mac(*hop)) return *error;
    uint16_t mtu = stack.path_mtu().get(dst, iface.mtu, stack.now());
    if (mtu < kIpv4MinHeaderLen + kUdpHeaderLen) return make_error(EMSGSIZE, "path MTU below the UDP/IPv4 headers");
    uint16_t max_payload = udp_single_frame_payload(mtu, stack.pool());
    if (message_size && *message_size > max_payload)
        return make_error(EMSGSIZE, "declared message size " + std::to_string(*message_size) +
                                        " exceeds one frame's payload (" + std::to_string(max_payload) + ")");

    UdpSnapshot snap;
    FrozenUdpContext& c = snap.context;
    Ipv4Addr local = s->local_addr;
    c.src_mac = iface.mac();
    c.dst_mac = hop->mac;
    c.src = local.is_unspecified() ? iface.address() : local;
    c.dst = dst;
    c.src_port = s->local_port;
    c.dst_port = s->remote_port;
    c.ttl = s->ttl;
    c.tos = s->tos;
    c.dont_fragment = s->dont_fragment;
    c.checksum = s->checksum_enabled;
    c.max_payload = max_payload;
    c.message_size = message_size ? *message_size : FrozenUdpContext::kAnySize;
    c.pool = &stack.pool();
    c.iface = &iface;
    c.ident_counter = stack.ip_ident_counter(c.src, c.dst, uint8_t(IpProtocol::udp));
    c.stats = &stack.stats();
    c.pending_error = &s->pending_error;
    c.guard = &quasi_guard_holds;
    snap.socket = s;
    snap.arp_generation = iface.arp().generation();
    return snap;
}

UdpContextKey context_key(const FrozenUdpContext& c) {
    UdpContextKey k;
    KeyWriter w(k.bytes.data());
    auto put = [&w](const void* v, size_t n) { w.put(v, n); };
    put(c.src_mac.bytes.data(), 6);
    put(c.dst_mac.bytes.data(), 6);
    put(&c.src.value, 4);
    put(&c.dst.value, 4);
    put(&c.src_port, 2);
    put(&c.dst_port, 2);
    uint8_t flags[4] = {c.ttl, c.tos, uint8_t(c.dont_fragment), uint8_t(c.checksum)};
    put(flags, 4);
    put(&c.max_payload, 2);
    put(&c.message_size, 4);
    const void* pointers[5] = {c.pool, c.iface, c.ident_counter, c.stats, c.pending_error};
    put(pointers, sizeof pointers);
    assert(w.written() == k.bytes.size());
    k.hash = w.hash();
    return k;
}

}  // namespace quasi
