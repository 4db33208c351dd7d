// ICMP, both directions: echo replies, errors we receive (path MTU, unreachable
// ports), and the errors we send, within the limits of RFC 1122 3.2.2.
#include "stack/stack.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/udp.hpp"

#include <cerrno>

namespace quasi {

namespace {
// RFC 1812 4.3.2.3 lets an error quote as much of the datagram as fits in 576 bytes.
constexpr size_t kMaxQuote = 576 - kIpv4MinHeaderLen - kIcmpHeaderLen;

int unreachable_errno(uint8_t code) {
    switch (code) {
    case uint8_t(IcmpUnreachCode::net): return ENETUNREACH;
    case uint8_t(IcmpUnreachCode::host): return EHOSTUNREACH;
    default: return ECONNREFUSED;  // protocol and port unreachable
    }
}
}  // namespace

void Stack::icmp_input(Interface& iface, const Ipv4Repr& ip, size_t header_len, PacketPtr datagram) {
    if (datagram->length < header_len + kIcmpHeaderLen) return stats_.drop(Drop::icmp_too_short);
    ChecksumAccumulator acc;
    acc.add_chain(*datagram, header_len, ip.payload_len);
    if (acc.folded() != 0xFFFF) return stats_.drop(Drop::icmp_bad_checksum);
    IcmpView icmp{datagram->bytes().subspan(header_len)};

    if (icmp.type() == uint8_t(IcmpType::echo_request)) {
        // Linux's default icmp_echo_ignore_broadcasts=1: broadcast pings are a
        // smurf amplifier, not a service.
        if (ip.dst.is_broadcast() || ip.dst == iface.directed_broadcast())
            return stats_.drop(Drop::icmp_broadcast_echo);
        // Reply in place: same identifier, sequence and data (RFC 792). The checksum
        // is recomputed rather than patched (RFC 1624): a patch turns the checksum of
        // an all-zero message into 0x0000, which a receiver rejects.
        icmp.set_type(uint8_t(IcmpType::echo_reply));
        store_be16(icmp.bytes().data() + 2, 0);
        ChecksumAccumulator reply_sum;
        reply_sum.add_chain(*datagram, header_len, ip.payload_len);
        store_be16(icmp.bytes().data() + 2, reply_sum.finish());
        datagram->trim_front(header_len);
        Ipv4Send reply{.src = ip.dst, .dst = ip.src, .protocol = uint8_t(IpProtocol::icmp),
                       .ttl = config_.default_ttl, .tos = ip.tos};
        if (ipv4_output(reply, std::move(datagram)) == 0) stats_.count(Counter::icmp_echo_replies);
        return;
    }
    if (is_icmp_error(icmp.type())) {
        stats_.count(Counter::icmp_errors_rx);
        return icmp_error_input(icmp);
    }
    stats_.drop(Drop::icmp_unsupported_type);
}

// Errors about datagrams we sent: the quoted header must be ours (RFC 5927 4.1
// asks transports to check what they can; here: our source address, a transport we
// run, and enough of its header to find the socket).
void Stack::icmp_error_input(const IcmpView& icmp) {
    std::span<uint8_t> body = icmp.body();
    Ipv4View quoted{body};
    if (body.size() < kIpv4MinHeaderLen || quoted.version() != 4 || quoted.header_len() < kIpv4MinHeaderLen ||
        body.size() < quoted.header_len() + 8 || !is_local_address(quoted.src()))
        return stats_.drop(Drop::icmp_bad_embedded);
    const uint8_t* transport = body.data() + quoted.header_len();
    if (quoted.protocol() == uint8_t(IpProtocol::tcp)) {
        // TCP lowers the path MTU itself, once the quoted sequence number is believed.
        Ipv4Repr q{.src = quoted.src(), .dst = quoted.dst(), .protocol = quoted.protocol()};
        return tcp_.icmp_error(q, transport, icmp.type(), icmp.code(), icmp.next_hop_mtu());
    }
    if (icmp.type() != uint8_t(IcmpType::dest_unreachable)) return;  // time exceeded, etc.: nothing to do
    if (icmp.code() == uint8_t(IcmpUnreachCode::frag_needed)) {
        lower_path_mtu(quoted.dst(), icmp.next_hop_mtu());
        return;
    }
    if (quoted.protocol() == uint8_t(IpProtocol::udp)) {
        udp_.icmp_error(SockAddr{quoted.src(), load_be16(transport)}, SockAddr{quoted.dst(), load_be16(transport + 2)},
                        unreachable_errno(icmp.code()));
    }
}

bool Stack::lower_path_mtu(Ipv4Addr dst, uint16_t mtu) {
    const Route* route = routes_.lookup(dst);
    if (!route) return false;  // nothing we send goes there
    uint16_t link_mtu = interface(route->interface)->mtu;
    if (mtu >= path_mtu_.get(dst, link_mtu, now())) return false;  // RFC 1191 6.3: never raised by ICMP
    if (!path_mtu_.lower(dst, mtu, now())) return false;  // the cache clamps absurd values
    stats_.count(Counter::pmtu_updates);
    return true;
}

bool Stack::icmp_rate_allows(TimeNs now) {
    // A token bucket (as Linux's icmp_global_allow): rate per second, burst tokens.
    uint64_t burst_milli = uint64_t{config_.icmp_error_burst} * 1000;
    uint64_t refill = (now - icmp_refill_time_) * config_.icmp_errors_per_second / (kSecond / 1000);
    icmp_refill_time_ = now;
    icmp_tokens_milli_ = std::min(burst_milli, icmp_tokens_milli_ + refill);
    if (icmp_tokens_milli_ < 1000) return false;
    icmp_tokens_milli_ -= 1000;
    return true;
}

void Stack::icmp_send_error(uint8_t type, uint8_t code, uint32_t rest, const PacketBuffer& offending) {
    Ipv4View v{const_cast<PacketBuffer&>(offending).bytes()};
    if (offending.length < kIpv4MinHeaderLen || v.header_len() > offending.length) return;
    // RFC 1122 3.2.2: never about a non-first fragment, a broadcast or multicast
    // datagram (link or IP), a source that is not one host, or an ICMP error.
    if ((offending.meta & kMetaLinkBroadcast) || v.fragment_offset() != 0 || v.dst().is_broadcast() || v.dst().is_multicast() ||
        v.src().is_invalid_source() || !is_local_address(v.dst()))
        return;
    if (v.protocol() == uint8_t(IpProtocol::icmp)) {
        if (offending.length <= v.header_len() || is_icmp_error(offending.data()[v.header_len()]) ||
            offending.data()[v.header_len()] > uint8_t(IcmpType::parameter_problem))
            return;
    }
    if (!icmp_rate_allows(now())) return stats_.drop(Drop::icmp_rate_limited);
    PacketPtr message = pool_->alloc();
    if (!message) return stats_.drop(Drop::tx_no_buffer);
    size_t quote = std::min(offending.chain_length(), kMaxQuote);
    uint8_t* p = message->append(kIcmpHeaderLen + quote);
    IcmpView icmp{{p, kIcmpHeaderLen + quote}};
    icmp.set_type(type);
    icmp.set_code(code);
    icmp.set_rest(rest);
    offending.copy_out(0, p + kIcmpHeaderLen, quote);
    icmp.fill_checksum();
    Ipv4Send error{.src = v.dst(), .dst = v.src(), .protocol = uint8_t(IpProtocol::icmp),
                   .ttl = config_.default_ttl};
    if (ipv4_output(error, std::move(message)) == 0) stats_.count(Counter::icmp_errors_sent);
}

}  // namespace quasi
