// Ethernet II, both directions: demultiplexing received frames, and the link header
// of outgoing IPv4 packets (broadcast, or through the neighbour cache).
#include "stack/stack.hpp"
#include "stack/wire/ethernet.hpp"

namespace quasi {

void Stack::ethernet_input(Interface& iface, PacketPtr frame) {
    EthernetView eth{frame->bytes()};
    if (auto err = eth.check()) return stats_.drop(*err);
    MacAddr dst = eth.dst();
    // We join no multicast groups: only our unicast MAC and broadcast are for us.
    if (dst != iface.mac() && !dst.is_broadcast()) return stats_.drop(Drop::eth_not_for_us);
    if (eth.src().is_multicast()) return stats_.drop(Drop::eth_bad_source_mac);
    frame->meta = dst.is_broadcast() ? kMetaLinkBroadcast : 0;
    // Interfaces are untagged; a priority tag (VID 0, IEEE 802.1Q 9.6) still means us.
    if (eth.has_vlan() && (eth.vlan_tci() & 0x0FFF) != 0) return stats_.drop(Drop::eth_vlan_not_ours);
    switch (eth.ethertype()) {
    case uint16_t(EtherType::arp):
        iface.arp().input(eth.payload(), eth.src(), now());
        return;
    case uint16_t(EtherType::ipv4):
        frame->trim_front(eth.header_len());
        ipv4_input(iface, std::move(frame));
        return;
    default:
        return stats_.drop(Drop::eth_unknown_ethertype);
    }
}

void Stack::link_output(Interface& iface, Ipv4Addr next_hop, PacketPtr packet) {
    uint8_t* p = packet->prepend(kEthernetHeaderLen);
    if (!p) return stats_.drop(Drop::tx_no_buffer);  // no headroom: a bug upstream, counted not crashed
    EthernetView eth{packet->bytes()};
    eth.set_src(iface.mac());
    store_be16(p + 12, uint16_t(EtherType::ipv4));
    if (next_hop.is_broadcast() || next_hop == iface.directed_broadcast()) {
        eth.set_dst(MacAddr::broadcast());
        iface.transmit_frame(std::move(packet));
        return;
    }
    iface.arp().resolve_and_send(next_hop, std::move(packet), now());
}

}  // namespace quasi
