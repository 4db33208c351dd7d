#include "guards/reinforce.hpp"

#include "guards/guard_stats.hpp"
#include "stack/stack.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

#include <algorithm>

namespace quasi {

std::optional<EgressRule> make_egress_rule(Stack& stack, GuardStats& stats, const StaleCode& stale) {
    const Route* route = stack.routes().lookup(stale.dst);
    Interface* iface = route ? stack.interface(route->interface) : nullptr;
    if (!iface) return std::nullopt;
    uint16_t mtu = stack.path_mtu().get(stale.dst, iface->mtu, stack.now());
    if (!stale.tcp && stale.dont_fragment && stale.max_datagram > mtu) return std::nullopt;  // the app must see EMSGSIZE
    EgressRule rule;
    rule.stack = &stack;
    rule.stats = &stats;
    rule.stale_iface = stale.iface;
    rule.code_version = stale.version;
    if (stale.wildcard_source && stack.source_address_for(stale.dst) != stale.src) {
        rule.translate_from = stale.src;
        rule.translate_to = stack.source_address_for(stale.dst);
        rule.peer = stale.dst;
        rule.peer_port = stale.dst_port;
        rule.local_port = stale.src_port;
    }
    if (stale.tcp) rule.tcp_mss = stale.live_mss;
    return rule;
}

namespace {

void count(EgressRule& rule, Counter counter, uint64_t& handle_counter, uint64_t n = 1) {
    handle_counter += n;
    rule.stack->stats().count(counter, n);
}

// The UDP checksum follows an address in its pseudo-header by the difference alone
// (RFC 1624); 0 means none (RFC 768) and stays, a result of 0 is sent as 0xFFFF.
void update_udp_checksum(uint8_t* udp, Ipv4Addr from, Ipv4Addr to) {
    uint16_t sum = load_be16(udp + 6);
    if (sum == 0) return;
    sum = checksum_update32(sum, from.value, to.value);
    store_be16(udp + 6, sum == 0 ? 0xFFFF : sum);
}

// RFC 1624: the transport checksum covers the source address through the
// pseudo-header, so it follows the translation by the difference alone.
void translate_source(EgressRule& rule, const Ipv4Repr& ip, PacketBuffer& datagram) {
    uint8_t* p = datagram.data();
    if (ip.protocol == uint8_t(IpProtocol::udp)) {
        if (datagram.length < kUdpHeaderLen) return;
        update_udp_checksum(p, rule.translate_from, rule.translate_to);
    } else {
        if (datagram.length < kTcpMinHeaderLen) return;
        store_be16(p + 16, checksum_update32(load_be16(p + 16), rule.translate_from.value, rule.translate_to.value));
    }
    count(rule, Counter::guard_translations, rule.stats->translations);
}

// One piece of a re-cut segment: the header (options and all) with the piece's
// sequence number and flags, then its bytes, checksummed afresh.
PacketPtr tcp_piece(Stack& stack, const PacketBuffer& segment, size_t header_len, size_t offset, size_t len,
                    uint8_t flags, const Ipv4Repr& ip, Ipv4Addr src) {
    PacketPtr piece = stack.pool().alloc();
    if (!piece) return piece;
    uint8_t* p = piece->append(header_len + len);
    segment.copy_out(0, p, header_len);
    segment.copy_out(header_len + offset, p + header_len, len);
    store_be32(p + 4, load_be32(p + 4) + static_cast<uint32_t>(offset));
    p[13] = flags;
    store_be16(p + 16, 0);
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, ip.dst, uint8_t(IpProtocol::tcp), static_cast<uint16_t>(header_len + len));
    acc.add(p, header_len + len);
    store_be16(p + 16, acc.finish());
    return piece;
}

// RFC 9293 3.7.1: no segment may carry more than the MSS (nor, with DF, more than
// the path MTU). PSH and FIN belong to the last byte, so to the last piece.
void recut_tcp(EgressRule& rule, const Stack::Ipv4Send& send, const Ipv4Repr& ip, PacketPtr segment) {
    Stack& stack = *rule.stack;
    uint8_t header[kTcpMinHeaderLen];
    size_t total = segment->chain_length();
    if (total < kTcpMinHeaderLen) return (void)stack.ipv4_output(send, std::move(segment));
    segment->copy_out(0, header, kTcpMinHeaderLen);
    size_t header_len = size_t(header[12] >> 4) * 4;
    const Route* route = stack.routes().lookup(ip.dst);
    Interface* iface = route ? stack.interface(route->interface) : nullptr;
    if (header_len < kTcpMinHeaderLen || header_len > total || !iface)
        return (void)stack.ipv4_output(send, std::move(segment));  // the IPv4 layer counts what it drops
    size_t payload = total - header_len;
    size_t options = header_len - kTcpMinHeaderLen;
    uint16_t mtu = stack.path_mtu().get(ip.dst, iface->mtu, stack.now());
    size_t by_mtu = mtu > kIpv4MinHeaderLen + header_len ? mtu - kIpv4MinHeaderLen - header_len : 1;
    size_t by_mss = rule.tcp_mss > options ? rule.tcp_mss - options : 1;
    size_t limit = std::min(by_mtu, by_mss);
    if (payload <= limit) return (void)stack.ipv4_output(send, std::move(segment));
    const uint8_t flags = header[13];
    const uint8_t middle_flags = flags & uint8_t(~(tcp_flags::psh | tcp_flags::fin));
    for (size_t offset = 0; offset < payload;) {
        size_t n = std::min(limit, payload - offset);
        bool last = offset + n == payload;
        PacketPtr piece = tcp_piece(stack, *segment, header_len, offset, n, last ? flags : middle_flags, ip, send.src);
        if (!piece) {  // the rest is lost on the wire; TCP's retransmission resends it
            stack.stats().drop(Drop::tx_no_buffer);
            return;
        }
        stack.ipv4_output(send, std::move(piece));
        count(rule, Counter::guard_recut_segments, rule.stats->recut_segments);
        offset += n;
    }
}

}  // namespace

void reinforce_egress(EgressRule& rule, PacketPtr frame) {
    Stack& stack = *rule.stack;
    EthernetView eth(frame->bytes());
    if (eth.check() != kWireOk || eth.ethertype() != uint16_t(EtherType::ipv4))
        return rule.stale_iface->transmit_frame(std::move(frame));  // not ours to correct
    size_t link_len = eth.header_len();
    Ipv4View view(eth.payload());
    Ipv4Repr ip;
    if (view.check() != kWireOk || Ipv4Repr::parse(view, ip, false) != kWireOk || view.is_fragment())
        return rule.stale_iface->transmit_frame(std::move(frame));
    count(rule, Counter::guard_reinforced_frames, rule.stats->reinforced_frames);
    count(rule, Counter::guard_reinforced_bytes, rule.stats->reinforced_bytes, frame->length);
    // The transport datagram alone (an Ethernet pad, if any, dropped with the rest).
    frame->trim_front(link_len + view.header_len());
    frame->truncate_chain(view.total_len() - view.header_len());
    Stack::Ipv4Send send{.src = ip.src, .dst = ip.dst, .protocol = ip.protocol, .ttl = ip.ttl, .tos = ip.tos,
                         .dont_fragment = ip.dont_fragment};
    if (!rule.translate_to.is_unspecified() && ip.src == rule.translate_from) {
        translate_source(rule, ip, *frame);
        send.src = rule.translate_to;
    }
    if (ip.protocol == uint8_t(IpProtocol::tcp) && rule.tcp_mss) return recut_tcp(rule, send, ip, std::move(frame));
    // UDP: fragmented by the IPv4 output when it no longer fits (RFC 791).
    uint64_t fragments_before = stack.stats()[Counter::ipv4_fragments_tx];
    stack.ipv4_output(send, std::move(frame));
    uint64_t fragments = stack.stats()[Counter::ipv4_fragments_tx] - fragments_before;
    if (fragments) count(rule, Counter::guard_fragments, rule.stats->fragments, fragments);
}

void attach_ingress(EgressRule& rule) {
    if (rule.translate_to.is_unspecified()) return;
    rule.next_ingress = rule.stack->ingress_rules;
    rule.stack->ingress_rules = &rule;
}

void detach_ingress(EgressRule& rule) {
    for (EgressRule** at = &rule.stack->ingress_rules; *at; at = &(*at)->next_ingress) {
        if (*at == &rule) {
            *at = rule.next_ingress;
            rule.next_ingress = nullptr;
            return;
        }
    }
}

void translate_ingress(Stack& stack, Ipv4Repr& ip, size_t header_len, PacketBuffer& datagram) {
    if (ip.protocol != uint8_t(IpProtocol::udp) || datagram.length < header_len + kUdpHeaderLen) return;
    uint8_t* header = datagram.data();
    uint8_t* udp = header + header_len;
    for (EgressRule* rule = stack.ingress_rules; rule; rule = rule->next_ingress) {
        if (ip.dst != rule->translate_to || ip.src != rule->peer || load_be16(udp) != rule->peer_port ||
            load_be16(udp + 2) != rule->local_port)
            continue;
        // RFC 1624 eqn. 3, for the header's own checksum and the pseudo-header's.
        store_be32(header + 16, rule->translate_from.value);
        store_be16(header + 10, checksum_update32(load_be16(header + 10), rule->translate_to.value,
                                                  rule->translate_from.value));
        update_udp_checksum(udp, rule->translate_to, rule->translate_from);
        ip.dst = rule->translate_from;
        count(*rule, Counter::guard_translations_back, rule->stats->translations_back);
        return;
    }
}

EgressScope::EgressScope(EgressRule& rule) : rule_(&rule) { rule.stale_iface->egress_rule = &rule; }
EgressScope::~EgressScope() { rule_->stale_iface->egress_rule = nullptr; }

}  // namespace quasi
