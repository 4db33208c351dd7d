// UDP, both directions: demultiplexing and delivery, the live send path and the
// general (fragmenting) send path.
#include "stack/udp.hpp"

#include "stack/stack.hpp"
#include "stack/udp_send.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/udp.hpp"

#include <cerrno>
#include <cstring>

namespace quasi {

namespace {
constexpr size_t kMaxUdpPayload = kIpv4MaxDatagram - kIpv4MinHeaderLen - kUdpHeaderLen;  // 65507
}

UdpLayer::UdpLayer(Stack& stack, size_t max_sockets)
    : stack_(stack),
      max_sockets_(max_sockets),
      sockets_(new UdpSocket[max_sockets]),
      buckets_(new PortTable::bucket_type[kBuckets]),
      ports_(PortTable::bucket_traits(buckets_.get(), kBuckets)) {}

UdpLayer::~UdpLayer() { ports_.clear(); }

UdpSocket* UdpLayer::open() {
    for (size_t i = 0; i < max_sockets_; ++i) {
        UdpSocket& s = sockets_[i];
        if (s.in_use) continue;
        s.in_use = true;
        s.local_addr.guarded_write(Ipv4Addr{});
        s.local_port.guarded_write(0);
        s.remote_addr.guarded_write(Ipv4Addr{});
        s.remote_port.guarded_write(0);
        s.ttl.guarded_write(stack_.config().default_ttl);
        s.tos.guarded_write(0);
        s.checksum_enabled.guarded_write(true);
        s.broadcast_allowed.guarded_write(false);
        s.dont_fragment.guarded_write(false);
        s.receive_limit = stack_.config().udp_receive_queue_bytes;
        s.receive_bytes = 0;
        s.pending_error = 0;
        s.route_cache = DstEntry{};
        s.callback = nullptr;
        s.callback_user = nullptr;
        ++open_count_;
        return &s;
    }
    return nullptr;
}

void UdpLayer::close(UdpSocket& s) {
    if (s.is_linked()) ports_.erase(ports_.iterator_to(s));
    s.receive_queue.clear();
    s.receive_bytes = 0;
    s.in_use = false;
    s.fd = -1;
    // Clearing the addresses tells the guards of specialized handles (they see in_use
    // already false, so they know the socket is gone, not merely changed).
    s.local_addr.guarded_write(Ipv4Addr{});
    s.local_port.guarded_write(0);
    s.remote_addr.guarded_write(Ipv4Addr{});
    s.remote_port.guarded_write(0);
    --open_count_;
}

UdpSocket* UdpLayer::find(uint16_t local_port) {
    auto it = ports_.find(local_port);
    return it == ports_.end() ? nullptr : &*it;
}

// RFC 6056 3.3.2 (algorithm 2, simple hash-based): start at a keyed-random offset and
// walk the range, so ports are neither sequential nor predictable.
int UdpLayer::pick_ephemeral_port(uint16_t& port) {
    constexpr uint32_t range = kEphemeralLast - kEphemeralFirst + 1;
    uint32_t start = stack_.random_u32();
    for (uint32_t i = 0; i < range; ++i) {
        uint16_t candidate = static_cast<uint16_t>(kEphemeralFirst + (start + i) % range);
        if (!find(candidate)) {
            port = candidate;
            return 0;
        }
    }
    return -EADDRINUSE;
}

int UdpLayer::bind(UdpSocket& s, SockAddr local) {
    if (s.bound()) return -EINVAL;
    if (!local.addr.is_unspecified() && !stack_.is_local_address(local.addr)) return -EADDRNOTAVAIL;
    uint16_t port = local.port;
    if (port == 0) {
        if (int rc = pick_ephemeral_port(port); rc != 0) return rc;
    } else if (find(port)) {
        return -EADDRINUSE;
    }
    s.local_addr.guarded_write(local.addr);
    s.local_port.guarded_write(port);
    ports_.insert(s);
    return 0;
}

int UdpLayer::connect(UdpSocket& s, SockAddr remote) {
    if (remote.addr.is_unspecified() && remote.port == 0) {  // AF_UNSPEC-style disconnect
        s.remote_addr.guarded_write(Ipv4Addr{});
        s.remote_port.guarded_write(0);
        return 0;
    }
    if (remote.port == 0) return -EINVAL;
    if (!stack_.routes().lookup(remote.addr)) return -ENETUNREACH;
    if (!s.bound()) {
        if (int rc = bind(s, SockAddr{}); rc != 0) return rc;
    }
    s.remote_addr.guarded_write(remote.addr);
    s.remote_port.guarded_write(remote.port);
    s.pending_error = 0;
    return 0;
}

ssize_t UdpLayer::send_to(UdpSocket& s, const uint8_t* data, size_t len, const SockAddr* dst) {
    if (s.pending_error != 0) {
        int err = s.pending_error;
        s.pending_error = 0;
        return -err;
    }
    if (len > kMaxUdpPayload) return -EMSGSIZE;
    if (!dst && !s.connected()) return -EDESTADDRREQ;
    if (dst && dst->port == 0) return -EINVAL;
    if (!s.bound()) {
        if (int rc = bind(s, SockAddr{}); rc != 0) return rc;
    }
    UdpLiveContext ctx{stack_, s, dst, nullptr};
    ssize_t rc = udp_send(ctx, data, len);
    if (rc != kSlowPath) return rc;
    SockAddr to = dst ? *dst : SockAddr{s.remote_addr, s.remote_port};
    SockAddr from{s.local_addr, s.local_port};
    rc = send_fragmented(s, from, to, data, len);
    return rc < 0 ? rc : static_cast<ssize_t>(len);
}

// The general path: the datagram as a chain of buffers, handed to ipv4_output which
// routes, fragments and resolves. Its frames equal the fast path's for what both handle.
int UdpLayer::send_fragmented(UdpSocket& s, SockAddr src, SockAddr dst, const uint8_t* data, size_t len) {
    BufferPool& pool = stack_.pool();
    PacketPtr head = pool.alloc();
    if (!head) {
        stack_.stats().drop(Drop::tx_no_buffer);
        return -ENOBUFS;
    }
    Ipv4Addr src_addr = src.addr.is_unspecified() ? stack_.source_address_for(dst.addr) : src.addr;
    uint8_t* header = head->append(kUdpHeaderLen);
    UdpRepr{src.port, dst.port, static_cast<uint16_t>(len)}.emit(header);
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src_addr, dst.addr, uint8_t(IpProtocol::udp), static_cast<uint16_t>(kUdpHeaderLen + len));
    acc.add(header, kUdpHeaderLen);
    PacketBuffer* tail = head.get();
    size_t copied = 0;
    while (copied < len) {
        if (tail->tailroom() == 0) {
            PacketPtr next = pool.alloc();
            if (!next) {
                stack_.stats().drop(Drop::tx_no_buffer);
                return -ENOBUFS;
            }
            next->reset(0);
            PacketBuffer* raw = next.get();
            chain_append(*head, std::move(next));
            tail = raw;
        }
        size_t n = std::min(tail->tailroom(), len - copied);
        uint8_t* dstp = tail->append(n);
        std::memcpy(dstp, data + copied, n);
        acc.add(dstp, n);
        copied += n;
    }
    if (s.checksum_enabled) store_be16(header + 6, UdpRepr::finish_checksum(acc));
    Stack::Ipv4Send send{.src = src_addr,
                         .dst = dst.addr,
                         .protocol = uint8_t(IpProtocol::udp),
                         .ttl = s.ttl,
                         .tos = s.tos,
                         .dont_fragment = s.dont_fragment,
                         .allow_broadcast = s.broadcast_allowed};
    int rc = stack_.ipv4_output(send, std::move(head));
    if (rc == 0) stack_.stats().count(Counter::udp_tx);
    return rc;
}

ssize_t UdpLayer::receive_from(UdpSocket& s, uint8_t* data, size_t len, SockAddr* from, bool peek) {
    if (s.pending_error != 0) {
        int err = s.pending_error;
        s.pending_error = 0;
        return -err;
    }
    PacketBuffer* d = s.receive_queue.front();
    if (!d) return -EAGAIN;
    UdpView udp{d->bytes()};  // the first segment holds the whole header (checked on input)
    size_t payload = d->chain_length() - kUdpHeaderLen;
    size_t n = d->copy_out(kUdpHeaderLen, data, std::min(len, payload));
    if (from) *from = SockAddr{Ipv4Addr{d->meta}, udp.src_port()};
    if (!peek) {
        PacketPtr gone = s.receive_queue.pop_front();
        for (PacketBuffer* seg = gone.get(); seg; seg = seg->next_segment) s.receive_bytes -= seg->capacity;
    }
    return static_cast<ssize_t>(n);
}

uint16_t UdpLayer::readiness(const UdpSocket& s) const {
    uint16_t ev = 0;
    if (!s.receive_queue.empty()) ev |= events::in;
    if (s.pending_error) ev |= events::err;
    if (stack_.pool().available() > 0) ev |= events::out;
    return ev;
}

void UdpLayer::notify(UdpSocket& s) {
    if (s.callback) s.callback(s.fd, readiness(s), s.callback_user);
}

void UdpLayer::input(Interface& iface, const Ipv4Repr& ip, size_t header_len, PacketPtr packet) {
    Stats& stats = stack_.stats();
    if (packet->length < header_len + kUdpHeaderLen) {
        stats.drop(Drop::udp_too_short);
        return;
    }
    // The first segment holds the whole UDP header (reassembly keeps the first
    // fragment's data with its IP header); the payload may continue in the chain.
    UdpView udp{packet->bytes().subspan(header_len)};
    size_t ip_payload = packet->chain_length() - header_len;
    if (udp.length() < kUdpHeaderLen || udp.length() > ip_payload) return stats.drop(Drop::udp_bad_length);
    if (udp.checksum() != 0 && !iface.netif().offloads().rx_checksum_verified) {
        ChecksumAccumulator acc;
        add_pseudo_header(acc, ip.src, ip.dst, uint8_t(IpProtocol::udp), udp.length());
        acc.add_chain(*packet, header_len, udp.length());
        if (acc.folded() != 0xFFFF) return stats.drop(Drop::udp_bad_checksum);
    }
    uint16_t dst_port = udp.dst_port();
    uint16_t src_port = udp.src_port();
    uint16_t udp_len = udp.length();
    UdpSocket* s = find(dst_port);
    bool to_broadcast = ip.dst.is_broadcast() || ip.dst == iface.directed_broadcast();
    if (s && !s->local_addr.get().is_unspecified() && s->local_addr != ip.dst) s = nullptr;
    if (s && s->connected() && (s->remote_addr != ip.src || s->remote_port != src_port)) s = nullptr;
    if (!s) {
        stats.drop(Drop::udp_no_socket);
        // RFC 1122 4.1.3.1: port unreachable, but never for broadcast (3.2.2).
        if (!to_broadcast)
            stack_.icmp_send_error(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::port), 0, *packet);
        return;
    }
    size_t true_size = 0;
    for (PacketBuffer* seg = packet.get(); seg; seg = seg->next_segment) true_size += seg->capacity;
    if (s->receive_bytes + true_size > s->receive_limit) return stats.drop(Drop::udp_queue_full);
    // Keep just the UDP datagram: drop the IP header and anything past the UDP length.
    packet->trim_front(header_len);
    packet->truncate_chain(udp_len);
    packet->meta = ip.src.value;
    s->receive_bytes += true_size;
    s->receive_queue.push_back(std::move(packet));
    stats.count(Counter::udp_rx);
    notify(*s);
}

void UdpLayer::icmp_error(SockAddr local, SockAddr remote, int error) {
    UdpSocket* s = find(local.port);
    // Only connected sockets hear of errors (as BSD and Linux do by default): an
    // unconnected socket cannot tell which of its destinations failed.
    if (!s || !s->connected() || s->remote_addr != remote.addr || s->remote_port != remote.port) return;
    s->pending_error = error;
    notify(*s);
}

// ---- the live context of the UDP send path ----

int UdpLiveContext::prepare(UdpFrameSpec& spec, size_t len) {
    Ipv4Addr dst = destination ? destination->addr : socket.remote_addr.get();
    // The socket's cached route (a sendto to another destination refills it).
    const DstEntry* route = stack.route_cached(socket.route_cache, dst, socket.local_addr, uint8_t(IpProtocol::udp));
    if (!route) {
        stack.stats().drop(Drop::ipv4_no_route);
        return -ENETUNREACH;
    }
    if (route->broadcast) return kSlowPath;
    uint16_t max_payload = udp_single_frame_payload(route->path_mtu, stack.pool());
    if (len > max_payload || !route->resolved) return kSlowPath;
    Interface& iface = *route->iface;
    spec.iface = &iface;
    spec.src_mac = iface.mac();
    spec.dst_mac = route->mac;
    spec.src = route->src;
    spec.dst = dst;
    spec.src_port = socket.local_port;
    spec.dst_port = destination ? destination->port : socket.remote_port.get();
    spec.ttl = socket.ttl;
    spec.tos = socket.tos;
    spec.dont_fragment = socket.dont_fragment;
    spec.checksum = socket.checksum_enabled;
    spec.checksum_offload = iface.tx_checksum_offload();
    spec.max_payload = max_payload;
    ident_counter = route->ident;
    return 0;
}

PacketPtr UdpLiveContext::alloc_frame() {
    PacketPtr p = stack.pool().alloc();
    if (!p) stack.stats().drop(Drop::tx_no_buffer);
    return p;
}

// RFC 7739: the counter of the (src, dst, UDP) bucket, found by prepare's route.
uint16_t UdpLiveContext::ip_ident(const UdpFrameSpec&) { return (*ident_counter)++; }

void UdpLiveContext::transmit(const UdpFrameSpec& spec, PacketPtr frame) {
    Stats& stats = stack.stats();
    stats.count(Counter::udp_tx);
    stats.count(Counter::ipv4_tx);
    spec.iface->transmit_frame(std::move(frame));
}

template ssize_t udp_send<UdpLiveContext>(UdpLiveContext&, const uint8_t*, size_t);

}  // namespace quasi
