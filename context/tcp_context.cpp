// Extraction of a FrozenTcpContext from a live ESTABLISHED socket, its key, the
// host doors JIT code calls, and the host instantiation of the frozen send.
#include "context/tcp_frozen_send.hpp"

#include "context/extraction.hpp"
#include "stack/socket.hpp"

#include <cassert>
#include <cerrno>
#include <cstring>
#include <string>

extern "C" uint32_t quasi_tcp_ts_now(const quasi::TcpLayer* layer, const quasi::TcpSocket* socket) {
    return layer->ts_now(*socket);
}

extern "C" void quasi_tcp_arm_retransmit(quasi::TcpLayer* layer, quasi::TcpSocket* socket) {
    layer->arm_retransmit(*socket);
}

extern "C" uint16_t quasi_tcp_local_mss(const quasi::TcpLayer* layer, const quasi::TcpSocket* socket) {
    return layer->local_mss(*socket);
}

extern "C" bool quasi_byte_ring_reserve(quasi::ByteRing* ring, size_t bytes) { return ring->reserve(bytes); }
extern "C" bool quasi_send_times_take(quasi::SendTimes* times) { return times->take(); }

namespace quasi {

template ssize_t tcp_send_frozen<const FrozenTcpContext>(const FrozenTcpContext&, const uint8_t*, size_t);

Expected<TcpSnapshot> freeze_tcp_send(Stack& stack, int fd, std::optional<uint32_t> message_size) {
    TcpSocket* s = stack.descriptors().tcp(fd);
    if (!s) return make_error(EBADF, "descriptor is not an open TCP socket");
    if (s->state != TcpState::established)
        return make_error(ENOTCONN, std::string("TCP socket is not ESTABLISHED (") + name(s->state) + ")");
    if (s->fin_queued) return make_error(EPIPE, "TCP socket was shut down for writing");
    Ipv4Addr dst = s->remote_addr;
    // The decisions TcpLiveContext::prepare takes per segment, taken once.
    auto hop = resolve_next_hop(stack, dst);
    if (!hop) return std::move(hop).error();
    Interface& iface = *hop->iface;
    TcpLayer& layer = stack.tcp();
    layer.clamp_mss_to_route(*s);  // an interface MTU lowered since the last segment
    uint32_t payload_mss = layer.data_mss(*s);
    if (message_size) {
        uint32_t adu = *message_size;
        if (adu == 0) return make_error(EMSGSIZE, "a declared message size of 0 bytes sends nothing");
        if (adu > s->send_buffer.capacity())
            return make_error(EMSGSIZE, "declared message size " + std::to_string(adu) + " exceeds the send buffer (" +
                                            std::to_string(s->send_buffer.capacity()) + ")");
        if ((adu + payload_mss - 1) / payload_mss > FrozenTcpContext::kMaxSegmentsPerMessage)
            return make_error(EMSGSIZE, "declared message size " + std::to_string(adu) + " needs more than " +
                                            std::to_string(FrozenTcpContext::kMaxSegmentsPerMessage) + " segments of " +
                                            std::to_string(payload_mss) + " bytes");
    }

    TcpSnapshot snap;
    FrozenTcpContext& c = snap.context;
    c.src_mac = iface.mac();
    c.dst_mac = hop->mac;
    c.src = s->local_addr;
    c.dst = dst;
    c.next_hop = hop->addr;
    c.src_port = s->local_port;
    c.dst_port = s->remote_port;
    c.ttl = s->ttl;
    c.tos = s->tos;
    c.timestamps = s->ts_ok;
    c.sack = s->sack_ok;
    c.rcv_wscale = s->rcv_wscale;
    c.nodelay = s->nodelay;
    c.snd_mss = s->snd_mss;
    c.payload_mss = static_cast<uint16_t>(payload_mss);
    c.message_size = message_size ? *message_size : FrozenTcpContext::kAnySize;
    c.fd = fd;
    c.socket = s;
    c.layer = &layer;
    c.pool = &stack.pool();
    c.iface = &iface;
    c.ident_counter = stack.ip_ident_counter(c.src, c.dst, uint8_t(IpProtocol::tcp));
    c.stats = &stack.stats();
    c.guard = &quasi_guard_holds;
    snap.socket = s;
    snap.arp_generation = iface.arp().generation();
    return snap;
}

TcpContextKey context_key(const FrozenTcpContext& c) {
    TcpContextKey k;
    KeyWriter w(k.bytes.data());
    auto put = [&w](const void* v, size_t n) { w.put(v, n); };
    put("T", 1);
    put(c.src_mac.bytes.data(), 6);
    put(c.dst_mac.bytes.data(), 6);
    put(&c.src.value, 4);
    put(&c.dst.value, 4);
    put(&c.next_hop.value, 4);
    put(&c.src_port, 2);
    put(&c.dst_port, 2);
    uint8_t flags[6] = {c.ttl, c.tos, uint8_t(c.timestamps), uint8_t(c.sack), c.rcv_wscale, uint8_t(c.nodelay)};
    put(flags, sizeof flags);
    put(&c.snd_mss, 2);
    put(&c.payload_mss, 2);
    put(&c.message_size, 4);
    put(&c.fd, 4);
    const void* pointers[6] = {c.socket, c.layer, c.pool, c.iface, c.ident_counter, c.stats};
    put(pointers, sizeof pointers);
    assert(w.written() == k.bytes.size());
    k.hash = w.hash();
    return k;
}

static_assert(TcpContextKey::kBytes == 1 + 12 + 12 + 4 + 6 + 2 + 2 + 4 + 4 + 6 * sizeof(void*));

}  // namespace quasi
