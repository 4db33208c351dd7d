// IPv4, both directions: validation, local delivery and reassembly on input;
// routing, source selection, fragmentation and identification on output.
#include "guards/reinforce.hpp"
#include "stack/stack.hpp"
#include "stack/wire/ipv4.hpp"

#include <cerrno>

namespace quasi {

void Stack::ipv4_input(Interface& iface, PacketPtr packet) {
    Ipv4View v{packet->bytes()};
    if (auto err = v.check()) return stats_.drop(*err);
    Ipv4Repr ip;
    if (auto err = Ipv4Repr::parse(v, ip, !iface.netif().offloads().rx_checksum_verified))
        return stats_.drop(*err);
    // RFC 1122 3.2.1.3 (b): nor may the source be a broadcast of our subnet.
    if (ip.src == iface.directed_broadcast()) return stats_.drop(Drop::ipv4_bad_source);
    // We are a host, not a router (RFC 1122 3.3.1): only our address and broadcasts.
    if (ip.dst != iface.address() && !ip.dst.is_broadcast() && ip.dst != iface.directed_broadcast())
        return stats_.drop(Drop::ipv4_not_for_us);
    size_t header_len = v.header_len();
    packet->truncate(v.total_len());  // Ethernet padding is not payload
    if (ip.more_fragments || ip.fragment_offset != 0) {
        packet = reassembler_.add(std::move(packet), ip, now());
        if (!packet) return;
        Ipv4View whole{packet->bytes()};
        header_len = whole.header_len();
        ip.payload_len = static_cast<uint16_t>(packet->chain_length() - header_len);
        ip.more_fragments = false;
        ip.fragment_offset = 0;
    }
    stats_.count(Counter::ipv4_rx);
    if (ingress_rules) translate_ingress(*this, ip, header_len, *packet);
    switch (ip.protocol) {
    case uint8_t(IpProtocol::icmp):
        return icmp_input(iface, ip, header_len, std::move(packet));
    case uint8_t(IpProtocol::udp):
        return udp_.input(iface, ip, header_len, std::move(packet));
    case uint8_t(IpProtocol::tcp):
        return tcp_.input(iface, ip, header_len, std::move(packet));
    default:
        stats_.drop(Drop::ipv4_unknown_protocol);
        // RFC 1122 3.2.2.1: protocol unreachable for a transport we do not implement.
        if (!ip.dst.is_broadcast() && ip.dst != iface.directed_broadcast())
            icmp_send_error(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::protocol), 0, *packet);
        return;
    }
}

int Stack::ipv4_output(const Ipv4Send& send, PacketPtr datagram) {
    const Route* route = routes_.lookup(send.dst);
    if (!route || send.dst.is_multicast()) {
        stats_.drop(Drop::ipv4_no_route);
        return -ENETUNREACH;
    }
    Interface& iface = *interfaces_[route->interface];
    bool broadcast = send.dst.is_broadcast() || send.dst == iface.directed_broadcast();
    if (broadcast && !send.allow_broadcast) return -EACCES;
    Ipv4Repr header{.src = send.src.is_unspecified() ? iface.address() : send.src,
                    .dst = send.dst,
                    .protocol = send.protocol,
                    .ttl = send.ttl == 0 ? config_.default_ttl : send.ttl,  // never send TTL 0
                    .tos = send.tos,
                    .dont_fragment = send.dont_fragment};
    header.ident = next_ip_ident(header.src, header.dst, header.protocol);
    size_t total = datagram->chain_length();
    uint16_t mtu = broadcast ? iface.mtu.get() : path_mtu_.get(send.dst, iface.mtu, now());
    Ipv4Addr next_hop = broadcast ? send.dst : route->next_hop(send.dst);
    if (total + kIpv4MinHeaderLen <= mtu && !datagram->next_segment &&
        datagram->headroom() >= kIpv4MinHeaderLen + kLinkHeadroom) {
        header.payload_len = static_cast<uint16_t>(total);
        header.emit(datagram->prepend(kIpv4MinHeaderLen));
        stats_.count(Counter::ipv4_tx);
        link_output(iface, next_hop, std::move(datagram));
        return 0;
    }
    if (total + kIpv4MinHeaderLen > mtu && send.dont_fragment) {
        stats_.drop(Drop::ipv4_too_big_df);
        return -EMSGSIZE;
    }
    return ipv4_fragment_and_send(header, *route, mtu, *datagram);
}

// Refills a socket's route cache (route_cached): the answers of a route, path-MTU and
// IP ID lookup with the versions they were computed under. No route: left empty.
bool Stack::fill_route_cache(DstEntry& c, Ipv4Addr dst, Ipv4Addr local, uint8_t protocol) {
    c.iface = nullptr;
    const Route* route = routes_.lookup(dst);
    if (!route) return false;
    Interface& iface = *interfaces_[route->interface];
    c.dst = dst;
    c.local = local;
    c.route_version = routes_.version;
    c.pmtu_version = path_mtu_.version;
    c.link_mtu = iface.mtu;
    c.src = local.is_unspecified() ? iface.address() : local;
    c.next_hop = route->next_hop(dst);
    c.broadcast = dst.is_broadcast() || dst == iface.directed_broadcast() || dst.is_multicast();
    c.path_mtu = path_mtu_.get(dst, c.link_mtu, now(), &c.pmtu_expires);
    // RFC 7739: the very bucket next_ip_ident(src, dst, protocol) would hash to.
    c.ident = ip_ident_counter(c.src, dst, protocol);
    c.resolved = false;
    c.iface = &iface;
    return true;
}

// RFC 791 3.2 "fragmentation": every fragment but the last carries a multiple of 8
// bytes; all carry the same identification. A datagram that fits the MTU but arrived
// as a chain takes this path too and leaves as one unfragmented copy.
int Stack::ipv4_fragment_and_send(const Ipv4Repr& header, const Route& route, uint16_t mtu,
                                  const PacketBuffer& datagram) {
    Interface& iface = *interfaces_[route.interface];
    Ipv4Addr next_hop = (header.dst.is_broadcast() || header.dst == iface.directed_broadcast())
                            ? header.dst
                            : route.next_hop(header.dst);
    size_t total = datagram.chain_length();
    size_t room = pool_->data_room() - pool_->headroom() - kIpv4MinHeaderLen;
    size_t max_fragment = std::min<size_t>(mtu - kIpv4MinHeaderLen, room) & ~size_t{7};
    bool fragmenting = total > mtu - kIpv4MinHeaderLen;
    for (size_t offset = 0; offset < total;) {
        size_t n = std::min(max_fragment, total - offset);
        PacketPtr fragment = pool_->alloc();
        if (!fragment) {
            stats_.drop(Drop::tx_no_buffer);
            return -ENOBUFS;
        }
        uint8_t* p = fragment->append(kIpv4MinHeaderLen + n);
        Ipv4Repr h = header;
        h.fragment_offset = static_cast<uint16_t>(offset);
        h.more_fragments = offset + n < total;
        h.payload_len = static_cast<uint16_t>(n);
        h.emit(p);
        datagram.copy_out(offset, p + kIpv4MinHeaderLen, n);
        if (fragmenting) stats_.count(Counter::ipv4_fragments_tx);
        link_output(iface, next_hop, std::move(fragment));
        offset += n;
    }
    stats_.count(Counter::ipv4_tx);
    return 0;
}

}  // namespace quasi
