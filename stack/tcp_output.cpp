// TCP output: the live context of the segment path, RSTs for segments without a
// connection, and the TcpLayer entry points into tcp_output_impl.hpp.
#include "stack/tcp_output_impl.hpp"

namespace quasi {

int TcpLiveContext::prepare(TcpFrameSpec& spec) {
    const DstEntry* route =
        stack.route_cached(socket.route_cache, socket.remote_addr, socket.local_addr, uint8_t(IpProtocol::tcp));
    if (!route) {
        stack.stats().drop(Drop::ipv4_no_route);
        return -ENETUNREACH;
    }
    Interface& iface = *route->iface;
    spec.iface = &iface;
    spec.src_mac = iface.mac();
    spec.next_hop = route->next_hop;
    spec.resolved = route->resolved;
    spec.dst_mac = route->mac;
    spec.src = socket.local_addr;
    spec.dst = socket.remote_addr;
    spec.src_port = socket.local_port;
    spec.dst_port = socket.remote_port;
    spec.ttl = socket.ttl;
    spec.tos = socket.tos;
    spec.checksum_offload = iface.tx_checksum_offload();
    ident_counter = route->ident;
    return 0;
}

PacketPtr TcpLiveContext::alloc_frame() {
    PacketPtr p = stack.pool().alloc();
    if (!p) stack.stats().drop(Drop::tx_no_buffer);
    return p;
}

// RFC 7739: the counter of the (src, dst, TCP) bucket, found by prepare's route.
uint16_t TcpLiveContext::ip_ident(const TcpFrameSpec&) { return (*ident_counter)++; }

void TcpLiveContext::transmit(const TcpFrameSpec& spec, PacketPtr frame) {
    Stats& stats = stack.stats();
    stats.count(Counter::tcp_segments_tx);
    stats.count(Counter::ipv4_tx);
    if (spec.resolved) return spec.iface->transmit_frame(std::move(frame));
    spec.iface->arp().resolve_and_send(spec.next_hop, std::move(frame), stack.now());
}

template int tcp_emit<TcpLiveContext>(TcpLiveContext&, TcpLayer&, TcpSocket&, uint32_t, uint32_t, uint8_t);
template void tcp_output<TcpLiveContext>(TcpLiveContext&, TcpLayer&, TcpSocket&);

void TcpLayer::clamp_mss_to_route(TcpSocket& s) {
    const DstEntry* route =
        stack_.route_cached(s.route_cache, s.remote_addr, s.local_addr, uint8_t(IpProtocol::tcp));
    if (route && route->path_mtu < s.snd_mss + kIpv4MinHeaderLen + kTcpMinHeaderLen) lower_mss(s, route->path_mtu);
}

void TcpLayer::output(TcpSocket& s) {
    clamp_mss_to_route(s);
    TcpLiveContext ctx{stack_, s, nullptr};
    tcp_output(ctx, *this, s);
}

int TcpLayer::emit_segment(TcpSocket& s, uint32_t seq, uint32_t len, uint8_t flags) {
    TcpLiveContext ctx{stack_, s, nullptr};
    return tcp_emit(ctx, *this, s, seq, len, flags);
}

// Pure ACKs and RSTs carry TcpSocket::ack_seq() (see there).
void TcpLayer::send_ack(TcpSocket& s) { emit_segment(s, s.ack_seq(), 0, tcp_flags::ack); }

void TcpLayer::send_reset(TcpSocket& s) {
    emit_segment(s, s.ack_seq(), 0, tcp_flags::rst | tcp_flags::ack);
    stack_.stats().count(Counter::tcp_resets_sent);
}

// RFC 9293 3.10.7.1: if the segment has an ACK, <SEQ=SEG.ACK><CTL=RST>; otherwise
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Never in answer to a RST.
void TcpLayer::reset_for_segment(const Ipv4Repr& ip, const TcpRepr& seg, size_t payload_len) {
    if (seg.flags & tcp_flags::rst) return;
    const Route* route = stack_.routes().lookup(ip.src);
    if (!route) return;
    PacketPtr packet = stack_.pool().alloc();
    if (!packet) return stack_.stats().drop(Drop::tx_no_buffer);
    TcpRepr rst;
    rst.src_port = seg.dst_port;
    rst.dst_port = seg.src_port;
    if (seg.flags & tcp_flags::ack) {
        rst.seq = seg.ack;
        rst.flags = tcp_flags::rst;
    } else {
        uint32_t seg_len = static_cast<uint32_t>(payload_len) + ((seg.flags & tcp_flags::syn) ? 1 : 0) +
                           ((seg.flags & tcp_flags::fin) ? 1 : 0);
        rst.ack = seg.seq + seg_len;
        rst.flags = tcp_flags::rst | tcp_flags::ack;
    }
    if (send_bare_segment(ip.dst, ip.src, rst, stack_.config().default_ttl, std::move(packet)))
        stack_.stats().count(Counter::tcp_resets_sent);
}

// A header-only segment from no socket (a RST, or a TIME-WAIT record's ACK).
bool TcpLayer::send_bare_segment(Ipv4Addr src, Ipv4Addr dst, const TcpRepr& seg, uint8_t ttl, PacketPtr packet) {
    uint8_t* p = packet->append(seg.header_len());
    seg.emit(p);
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, uint8_t(IpProtocol::tcp), static_cast<uint16_t>(seg.header_len()));
    acc.add(p, seg.header_len());
    store_be16(p + 16, acc.finish());
    Stack::Ipv4Send send{.src = src, .dst = dst, .protocol = uint8_t(IpProtocol::tcp), .ttl = ttl, .dont_fragment = true};
    return stack_.ipv4_output(send, std::move(packet)) == 0;
}

// The ACK a TIME-WAIT record answers with (RFC 9293 3.10.7.4): our SND.NXT after the
// FIN, the peer's FIN acknowledged, timestamps as the connection had them.
void TcpLayer::send_time_wait_ack(const TimeWaitRecord& r) {
    PacketPtr packet = stack_.pool().alloc();
    if (!packet) return stack_.stats().drop(Drop::tx_no_buffer);
    TcpRepr ack;
    ack.src_port = r.tuple.local_port;
    ack.dst_port = r.tuple.remote_port;
    ack.seq = r.snd_nxt;
    ack.ack = r.rcv_nxt;
    ack.flags = tcp_flags::ack;
    ack.window = r.window;
    if (r.ts_ok) {
        ack.options.has_timestamps = true;
        ack.options.ts_val = static_cast<uint32_t>(stack_.now() / kMillisecond) + r.ts_offset;
        ack.options.ts_ecr = r.ts_recent;
    }
    if (send_bare_segment(r.tuple.local_addr, r.tuple.remote_addr, ack, r.ttl, std::move(packet)))
        stack_.stats().count(Counter::tcp_segments_tx);
}

}  // namespace quasi
