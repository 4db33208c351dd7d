// Writes the seed corpus of frame_fuzzer: one file per scenario, each a sequence of
// records (frame_records.hpp) built with the wire reprs of stack/wire/.
//
//   make_corpus <directory>
//
// Most scenarios are fixed frames. TCP conversations are played against the very
// harness the fuzzer uses (frame_harness.hpp): the generator reads the stack's
// SYN-ACKs and data to learn its sequence numbers and timestamps, and since the
// harness is deterministic the recorded frames replay to the same conversation.
//
// The output is committed under tests/fuzz/corpus/frame/; rerun this (the
// `fuzz_corpus` target) after changing a scenario, the record format or anything
// that changes the stack's sequence numbers (the ISN function, the seed).
#include "frame_harness.hpp"
#include "frame_records.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace quasi::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;

// The harness's addresses: we are A (the fuzzer's end), the stack under test is B.
constexpr MacAddr kMacA = kPeerMac;
constexpr MacAddr kMacB = kOurMac;
constexpr Ipv4Addr kAddrA = kPeerAddress;
constexpr Ipv4Addr kAddrB = kOurAddress;
constexpr uint8_t kNow = 0;  // record time: no delay
constexpr uint8_t kThirtyOneSeconds = kFirstSecondsTime + 30;
constexpr uint8_t kThreeSeconds = kFirstSecondsTime + 2;

Bytes pattern(size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + 3);
    return b;
}

Bytes ethernet(const MacAddr& dst, EtherType type, const Bytes& payload, bool vlan = false, uint16_t tci = 0) {
    EthernetRepr eth{dst, kMacA, uint16_t(type), vlan, tci};
    Bytes frame(eth.header_len() + payload.size());
    eth.emit(frame.data());
    std::copy(payload.begin(), payload.end(), frame.begin() + long(eth.header_len()));
    return frame;
}

Bytes arp(ArpOp op, const MacAddr& sender_mac, Ipv4Addr sender_ip, const MacAddr& target_mac, Ipv4Addr target_ip) {
    Bytes body(kArpLen);
    ArpRepr{op, sender_mac, sender_ip, target_mac, target_ip}.emit(body.data());
    return body;
}

// An IPv4 packet (20-byte header) around `payload`, which may be one fragment's share.
Bytes ipv4(Ipv4Repr header, const Bytes& payload) {
    header.payload_len = static_cast<uint16_t>(payload.size());
    Bytes packet(header.buffer_len());
    header.emit(packet.data());
    std::copy(payload.begin(), payload.end(), packet.begin() + long(header.header_len()));
    return packet;
}

Ipv4Repr header(Ipv4Addr src, Ipv4Addr dst, IpProtocol protocol, uint16_t ident = 0x1234) {
    return Ipv4Repr{.src = src, .dst = dst, .protocol = uint8_t(protocol), .ttl = 64, .ident = ident};
}

Bytes icmp(uint8_t type, uint8_t code, uint32_t rest, const Bytes& body) {
    Bytes message(kIcmpHeaderLen + body.size());
    IcmpView view{message};
    view.set_type(type);
    view.set_code(code);
    view.set_rest(rest);
    std::copy(body.begin(), body.end(), message.begin() + long(kIcmpHeaderLen));
    view.fill_checksum();
    return message;
}

Bytes echo_request(uint16_t ident, uint16_t seq, const Bytes& data) {
    return icmp(uint8_t(IcmpType::echo_request), 0, (uint32_t{ident} << 16) | seq, data);
}

Bytes udp(Ipv4Addr src, Ipv4Addr dst, uint16_t src_port, uint16_t dst_port, const Bytes& data) {
    UdpRepr repr{src_port, dst_port, static_cast<uint16_t>(data.size())};
    Bytes datagram(repr.buffer_len());
    repr.emit(datagram.data());
    std::copy(data.begin(), data.end(), datagram.begin() + long(kUdpHeaderLen));
    ChecksumAccumulator acc;
    add_pseudo_header(acc, src, dst, uint8_t(IpProtocol::udp), static_cast<uint16_t>(datagram.size()));
    acc.add(datagram.data(), datagram.size());
    store_be16(datagram.data() + 6, UdpRepr::finish_checksum(acc));
    return datagram;
}

// A TCP segment from A to B with a correct checksum.
Bytes tcp_segment(const TcpRepr& repr, const Bytes& data = {}) {
    Bytes segment(repr.header_len() + data.size());
    repr.emit(segment.data());
    std::copy(data.begin(), data.end(), segment.begin() + long(repr.header_len()));
    ChecksumAccumulator acc;
    add_pseudo_header(acc, kAddrA, kAddrB, uint8_t(IpProtocol::tcp), static_cast<uint16_t>(segment.size()));
    acc.add(segment.data(), segment.size());
    store_be16(segment.data() + 16, acc.finish());
    return segment;
}

// A SYN with the options Linux sends: MSS, SACK permitted, timestamps, window scale.
TcpRepr syn_repr(uint16_t src_port, uint16_t dst_port, uint32_t seq, uint32_t ts_val) {
    TcpRepr repr;
    repr.src_port = src_port;
    repr.dst_port = dst_port;
    repr.seq = seq;
    repr.flags = tcp_flags::syn;
    repr.window = 65535;
    repr.options.has_mss = true;
    repr.options.mss = 1460;
    repr.options.has_window_scale = true;
    repr.options.window_scale = 7;
    repr.options.sack_permitted = true;
    repr.options.has_timestamps = true;
    repr.options.ts_val = ts_val;
    return repr;
}

Bytes tcp_syn(uint16_t src_port, uint16_t dst_port) {
    return tcp_segment(syn_repr(src_port, dst_port, 0x01020304, 1));
}

// The IPv4 frames carrying `datagram` (a transport header and payload), cut into
// fragments of at most `max_fragment` payload bytes (a multiple of 8) as RFC 791 does.
std::vector<Bytes> fragments(const Ipv4Repr& h, const Bytes& datagram, size_t max_fragment) {
    std::vector<Bytes> frames;
    for (size_t offset = 0; offset < datagram.size(); offset += max_fragment) {
        size_t n = std::min(max_fragment, datagram.size() - offset);
        Ipv4Repr f = h;
        f.fragment_offset = static_cast<uint16_t>(offset);
        f.more_fragments = offset + n < datagram.size();
        Bytes share(datagram.begin() + long(offset), datagram.begin() + long(offset + n));
        frames.push_back(ethernet(kMacB, EtherType::ipv4, ipv4(f, share)));
    }
    return frames;
}

Bytes frame_ipv4(const Ipv4Repr& h, const Bytes& payload) {
    return ethernet(kMacB, EtherType::ipv4, ipv4(h, payload));
}

Bytes arp_request_for_b() {
    return ethernet(MacAddr::broadcast(), EtherType::arp, arp(ArpOp::request, kMacA, kAddrA, MacAddr{}, kAddrB));
}

// The datagram B's connected socket sent (B:5000 -> A:9), as an ICMP error quotes it:
// its IPv4 header and the first 8 bytes of the UDP datagram.
Bytes quoted_udp_from_b() {
    Bytes datagram = ipv4(header(kAddrB, kAddrA, IpProtocol::udp, 0x4321),
                          udp(kAddrB, kAddrA, kConnectedPort, kDiscardPort, {'h', 'e', 'l', 'l', 'o'}));
    datagram.resize(kIpv4MinHeaderLen + kUdpHeaderLen);
    return datagram;
}

struct Seed {
    Seed(std::string n, std::vector<Bytes> f, std::vector<uint8_t> t = {})
        : name(std::move(n)), frames(std::move(f)), times(std::move(t)) {}
    std::string name;
    std::vector<Bytes> frames;
    std::vector<uint8_t> times;  // per frame; missing entries are kNow
};

std::vector<Seed> seeds() {
    std::vector<Seed> out;
    const Bytes ping_data = pattern(56);

    out.push_back({"arp_request", {arp_request_for_b()}});
    // Answers the request B sent for A at start-up: the queued datagram goes out.
    out.push_back(
        {"arp_reply_solicited", {ethernet(kMacB, EtherType::arp, arp(ArpOp::reply, kMacA, kAddrA, kMacB, kAddrB))}});
    out.push_back({"arp_reply_unsolicited",
                   {ethernet(kMacB, EtherType::arp,
                             arp(ArpOp::reply, kMacA, Ipv4Addr::from_octets(198, 18, 0, 77), kMacB, kAddrB))}});
    out.push_back(
        {"arp_conflict",
         {ethernet(MacAddr::broadcast(), EtherType::arp, arp(ArpOp::request, kMacA, kAddrB, MacAddr{}, kAddrB))}});

    out.push_back(
        {"icmp_echo_request", {frame_ipv4(header(kAddrA, kAddrB, IpProtocol::icmp), echo_request(1, 1, ping_data))}});
    out.push_back(
        {"arp_then_echo",
         {arp_request_for_b(), frame_ipv4(header(kAddrA, kAddrB, IpProtocol::icmp), echo_request(1, 2, ping_data))}});
    out.push_back(
        {"icmp_echo_broadcast",
         {ethernet(MacAddr::broadcast(), EtherType::ipv4,
                   ipv4(header(kAddrA, kSubnetBroadcast, IpProtocol::icmp), echo_request(1, 3, ping_data)))}});

    // A 4000-byte echo in three fragments (1480 + 1480 + 1048 payload bytes).
    const Bytes big_echo = echo_request(2, 1, pattern(4000));
    const Ipv4Repr big_header = header(kAddrA, kAddrB, IpProtocol::icmp, 0x2000);
    std::vector<Bytes> big = fragments(big_header, big_echo, 1480);
    {
        Seed s{"echo_4000_fragmented", {arp_request_for_b()}};
        s.frames.insert(s.frames.end(), big.begin(), big.end());
        out.push_back(s);
    }
    out.push_back({"echo_4000_fragments_reversed", {big[2], big[1], big[0]}});
    // The datagram never completes within the 30 s reassembly timeout.
    out.push_back({"fragment_timeout", {big[0], big[1], big[2]}, {kNow, kNow, kThirtyOneSeconds}});
    out.push_back({"fragment_duplicate", {big[0], big[0], big[1], big[2]}});

    // Teardrop (RFC 1858): the second fragment starts inside the first.
    {
        const Bytes datagram = udp(kAddrA, kAddrB, 4000, kEchoPort, pattern(64));
        Ipv4Repr first = header(kAddrA, kAddrB, IpProtocol::udp, 0x3000);
        first.more_fragments = true;
        Ipv4Repr second = first;
        second.more_fragments = false;
        second.fragment_offset = 24;
        out.push_back({"fragments_overlapping",
                       {frame_ipv4(first, Bytes(datagram.begin(), datagram.begin() + 40)),
                        frame_ipv4(second, Bytes(datagram.begin() + 24, datagram.end()))}});
    }
    // Ping of death: a last fragment ending past 65535.
    {
        Ipv4Repr last = header(kAddrA, kAddrB, IpProtocol::icmp, 0x3100);
        last.fragment_offset = 65528;
        out.push_back({"fragment_past_65535", {frame_ipv4(last, pattern(100))}});
    }

    out.push_back({"udp_echo_port7",
                   {arp_request_for_b(), frame_ipv4(header(kAddrA, kAddrB, IpProtocol::udp),
                                                    udp(kAddrA, kAddrB, 4000, kEchoPort, pattern(32)))}});
    {
        const Bytes datagram = udp(kAddrA, kAddrB, 4001, kEchoPort, pattern(3000));
        Seed s{"udp_echo_3000_fragmented", {arp_request_for_b()}};
        for (Bytes& f : fragments(header(kAddrA, kAddrB, IpProtocol::udp, 0x2100), datagram, 1480))
            s.frames.push_back(f);
        out.push_back(s);
    }
    out.push_back({"udp_to_connected_socket",
                   {frame_ipv4(header(kAddrA, kAddrB, IpProtocol::udp),
                               udp(kAddrA, kAddrB, kDiscardPort, kConnectedPort, pattern(16)))}});
    out.push_back(
        {"udp_closed_port",
         {frame_ipv4(header(kAddrA, kAddrB, IpProtocol::udp), udp(kAddrA, kAddrB, 4000, 9999, pattern(20)))}});
    out.push_back({"udp_closed_port_broadcast",
                   {ethernet(MacAddr::broadcast(), EtherType::ipv4,
                             ipv4(header(kAddrA, kSubnetBroadcast, IpProtocol::udp),
                                  udp(kAddrA, kSubnetBroadcast, 4000, 9999, pattern(20))))}});

    // ICMP errors about the datagram B's connected socket sent to A:9.
    out.push_back({"icmp_port_unreachable",
                   {frame_ipv4(header(kAddrA, kAddrB, IpProtocol::icmp),
                               icmp(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::port), 0,
                                    quoted_udp_from_b()))}});
    out.push_back({"icmp_frag_needed",
                   {frame_ipv4(header(kAddrA, kAddrB, IpProtocol::icmp),
                               icmp(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::frag_needed), 576,
                                    quoted_udp_from_b())),
                    // then a large echo, whose reply must now be cut to 576
                    arp_request_for_b(),
                    frame_ipv4(header(kAddrA, kAddrB, IpProtocol::icmp), echo_request(3, 1, pattern(1200)))}});
    out.push_back({"icmp_time_exceeded",
                   {frame_ipv4(header(kAddrA, kAddrB, IpProtocol::icmp),
                               icmp(uint8_t(IcmpType::time_exceeded), 0, 0, quoted_udp_from_b()))}});

    // 802.1Q: a priority tag (VID 0) is ours, VID 5 is not.
    out.push_back(
        {"vlan_priority_tagged_echo",
         {ethernet(kMacB, EtherType::ipv4,
                   ipv4(header(kAddrA, kAddrB, IpProtocol::icmp), echo_request(4, 1, ping_data)), true, 0x6000)}});
    out.push_back(
        {"vlan_5_echo",
         {ethernet(kMacB, EtherType::ipv4,
                   ipv4(header(kAddrA, kAddrB, IpProtocol::icmp), echo_request(4, 2, ping_data)), true, 0x0005)}});

    // No listener on port 80: a RST.
    out.push_back({"tcp_syn_closed_port", {frame_ipv4(header(kAddrA, kAddrB, IpProtocol::tcp), tcp_syn(40000, 80))}});
    return out;
}

// ---- TCP conversations, played against the harness ----

struct TcpSeen {
    TcpRepr seg;
    size_t payload_len = 0;
};

// One side of a TCP connection as A, talking to B through a live FrameHarness.
class Conversation {
public:
    explicit Conversation(std::string name) : name_(std::move(name)) {}

    const std::string& name() const { return name_; }
    const std::vector<uint8_t>& input() const { return input_; }

    // Delivers a frame after `time` (a record time byte), records it, and returns
    // what the stack sent in answer.
    std::vector<Bytes> deliver(const Bytes& frame, uint8_t time = kNow) {
        append_record(input_, frame, time, true);
        const size_t before = harness_.output().size();
        harness_.receive(Record{frame, record_time(time), true});
        return {harness_.output().begin() + long(before), harness_.output().end()};
    }

    // A segment from A's port `local` to B's port `remote`, with our next sequence
    // number, an ACK of everything B sent, and timestamps once negotiated.
    std::vector<Bytes> segment(uint8_t flags, const Bytes& data = {}, uint8_t time = kNow, uint16_t window = 65535) {
        return acknowledge(rcv_nxt_, {}, flags, data, time, window);
    }

    // A segment acknowledging `ack` only (not everything B sent), with SACK blocks.
    std::vector<Bytes> acknowledge(uint32_t ack, std::vector<SackBlock> sacks, uint8_t flags = 0,
                                   const Bytes& data = {}, uint8_t time = kNow, uint16_t window = 65535) {
        TcpRepr r;
        r.src_port = local_;
        r.dst_port = remote_;
        r.seq = snd_nxt_;
        r.ack = ack;
        r.flags = flags | tcp_flags::ack;
        r.window = window;
        if (timestamps_) {
            r.options.has_timestamps = true;
            r.options.ts_val = ++ts_val_;
            r.options.ts_ecr = ts_recent_;
        }
        for (const SackBlock& b : sacks) r.options.sacks[r.options.sack_count++] = b;
        snd_nxt_ += static_cast<uint32_t>(data.size()) + ((flags & tcp_flags::fin) ? 1 : 0);
        return learn(deliver(frame_ipv4(header(kAddrA, kAddrB, IpProtocol::tcp), tcp_segment(r, data)), time));
    }

    // B's data segments among `frames`, as [seq, seq + length) blocks.
    std::vector<SackBlock> data_from_b(const std::vector<Bytes>& frames) const {
        std::vector<SackBlock> out;
        for (const Bytes& f : frames) {
            std::optional<TcpSeen> s = find({f}, local_, remote_, 0);
            if (s && s->payload_len) out.push_back({s->seg.seq, s->seg.seq + uint32_t(s->payload_len)});
        }
        return out;
    }

    // Passive open at B: our SYN, B's SYN-ACK, our ACK.
    void connect(uint16_t local, uint16_t remote) {
        local_ = local;
        remote_ = remote;
        snd_nxt_ = 1000;
        learn(deliver(frame_ipv4(header(kAddrA, kAddrB, IpProtocol::tcp),
                                 tcp_segment(syn_repr(local, remote, snd_nxt_, ++ts_val_)))));
        ++snd_nxt_;
        need(synchronized_, "no SYN-ACK");
        segment(0);
    }

    // Active open from B (its SYN already seen in `sent`): our SYN-ACK, B's ACK.
    void answer_syn(const std::vector<Bytes>& sent, uint16_t local) {
        local_ = local;
        std::optional<TcpSeen> syn = find(sent, local, 0, tcp_flags::syn);
        need(syn.has_value(), "no SYN from B");
        remote_ = syn->seg.src_port;
        rcv_nxt_ = syn->seg.seq + 1;
        ts_recent_ = syn->seg.options.ts_val;
        TcpRepr r = syn_repr(local_, remote_, 5000, ++ts_val_);
        r.flags |= tcp_flags::ack;
        r.ack = rcv_nxt_;
        r.options.ts_ecr = ts_recent_;
        snd_nxt_ = 5001;
        timestamps_ = true;
        learn(deliver(frame_ipv4(header(kAddrA, kAddrB, IpProtocol::tcp), tcp_segment(r))));
    }

    uint32_t snd_nxt() const { return snd_nxt_; }
    uint32_t rcv_nxt() const { return rcv_nxt_; }
    void set_snd_nxt(uint32_t seq) { snd_nxt_ = seq; }
    FrameHarness& harness() { return harness_; }

private:
    static void need(bool ok, const char* what) {
        if (ok) return;
        std::fprintf(stderr, "make_corpus: conversation went wrong: %s\n", what);
        std::exit(1);
    }

    // The last segment B sent from port `from` (0: any) to port `to` with `flags` set.
    static std::optional<TcpSeen> find(const std::vector<Bytes>& frames, uint16_t to, uint16_t from, uint8_t flags) {
        std::optional<TcpSeen> found;
        for (const Bytes& f : frames) {
            Bytes copy = f;
            EthernetView eth{copy};
            if (eth.check() || eth.ethertype() != uint16_t(EtherType::ipv4)) continue;
            Ipv4View ip{eth.payload()};
            if (ip.check() || ip.protocol() != uint8_t(IpProtocol::tcp) || ip.is_fragment()) continue;
            TcpView tcp{ip.payload()};
            TcpRepr seg;
            if (tcp.check() || TcpRepr::parse(tcp, seg)) continue;
            if (seg.dst_port != to || (from && seg.src_port != from) || (seg.flags & flags) != flags) continue;
            found = TcpSeen{seg, tcp.payload().size()};
        }
        return found;
    }

    // Follows B's side: its ISN from a SYN-ACK, its data and FIN, its timestamps.
    std::vector<Bytes> learn(std::vector<Bytes> sent) {
        for (const Bytes& f : sent) {
            std::optional<TcpSeen> s = find({f}, local_, remote_, 0);
            if (!s) continue;
            const TcpRepr& seg = s->seg;
            if ((seg.flags & tcp_flags::syn) && (seg.flags & tcp_flags::ack)) {
                rcv_nxt_ = seg.seq + 1;
                synchronized_ = true;
                timestamps_ = seg.options.has_timestamps;
            }
            uint32_t end = seg.seq + static_cast<uint32_t>(s->payload_len) + ((seg.flags & tcp_flags::fin) ? 1 : 0);
            if (!(seg.flags & tcp_flags::syn) && static_cast<int32_t>(end - rcv_nxt_) > 0) rcv_nxt_ = end;
            if (seg.options.has_timestamps) ts_recent_ = seg.options.ts_val;
        }
        return sent;
    }

    std::string name_;
    FrameHarness harness_{true};
    std::vector<uint8_t> input_;
    uint16_t local_ = 0;
    uint16_t remote_ = 0;
    uint32_t snd_nxt_ = 0;
    uint32_t rcv_nxt_ = 0;
    uint32_t ts_val_ = 100;
    uint32_t ts_recent_ = 0;
    bool timestamps_ = false;
    bool synchronized_ = false;
};

Bytes text(const char* s) {
    return Bytes(s, s + std::strlen(s));
}

// Handshake, data echoed back, our FIN, B's FIN (the echo service closes at EOF).
void echo_session(Conversation& c) {
    using namespace tcp_flags;
    c.deliver(arp_request_for_b());
    c.connect(40000, kEchoPort);
    c.segment(psh, text("hello over tcp\n"));
    c.segment(0);
    c.segment(fin);
    c.segment(0);
}

// Data out of order: the second half first (B answers with SACK), then the first.
void out_of_order_sack(Conversation& c) {
    using namespace tcp_flags;
    c.deliver(arp_request_for_b());
    c.connect(40001, kEchoPort);
    const uint32_t start = c.snd_nxt();
    c.set_snd_nxt(start + 100);
    c.segment(psh, pattern(100));
    c.set_snd_nxt(start);
    c.segment(0, pattern(100));
    c.set_snd_nxt(start + 200);
    c.segment(0);
    c.segment(fin);
    c.segment(0);
}

// Our window closes while B has data to echo: B probes, then we open it again.
void zero_window(Conversation& c) {
    c.deliver(arp_request_for_b());
    c.connect(40002, kEchoPort);
    c.segment(tcp_flags::psh, pattern(300), kNow, 0);
    c.segment(0, {}, kThreeSeconds, 0);
    c.segment(0, {}, kThreeSeconds);
    c.segment(0);
}

// B's echo goes unacknowledged: it retransmits; we acknowledge late, then reset.
void retransmit_then_rst(Conversation& c) {
    c.deliver(arp_request_for_b());
    c.connect(40003, kEchoPort);
    c.segment(tcp_flags::psh, pattern(64));
    c.deliver(arp_request_for_b(), kThreeSeconds);  // time passes; B retransmits
    c.segment(0);
    c.segment(tcp_flags::rst);
}

// B's own connection to A:80, answered: SYN-ACK, data both ways, a RST.
void active_open(Conversation& c) {
    std::vector<Bytes> sent =
        c.deliver(ethernet(kMacB, EtherType::arp, arp(ArpOp::reply, kMacA, kAddrA, kMacB, kAddrB)));
    c.answer_syn(sent, kTcpClientRemotePort);
    c.segment(tcp_flags::psh, text("HTTP/1.0 200 OK\r\n\r\n"));
    c.segment(0);
    c.segment(tcp_flags::rst);
}

// A SYN flood past the SYN backlog: B answers with cookies; one handshake completes.
void syn_cookies(Conversation& c) {
    c.deliver(arp_request_for_b());
    for (uint16_t port = 41000; port < 41005; ++port)
        c.deliver(frame_ipv4(header(kAddrA, kAddrB, IpProtocol::tcp),
                             tcp_segment(syn_repr(port, kEchoPort, 7000u + port, 1))));
    c.connect(41005, kEchoPort);
    c.segment(tcp_flags::psh, text("cookie"));
}

// B echoes 4000 bytes in several segments; we lose the first: duplicate ACKs with
// SACK blocks for the rest bring a fast retransmit (RFC 6675), then all is acknowledged.
void peer_sack(Conversation& c) {
    using namespace tcp_flags;
    c.deliver(arp_request_for_b());
    c.connect(40004, kEchoPort);
    const uint32_t first = c.rcv_nxt();  // none of B's echo is acknowledged below
    std::vector<Bytes> sent;
    for (size_t size : {1400, 1400, 1200}) {
        std::vector<Bytes> more = c.acknowledge(first, {}, psh, pattern(size));
        sent.insert(sent.end(), more.begin(), more.end());
    }
    std::vector<SackBlock> blocks = c.data_from_b(sent);
    if (blocks.size() >= 2) {
        SackBlock rest{blocks[1].left, blocks.back().right};
        for (int i = 0; i < 3; ++i) c.acknowledge(first, {rest});
    }
    c.segment(0);
    c.segment(fin);
    c.segment(0);
}

// ICMP errors about B's SYN to A:80: fragmentation needed (PMTU 1200), then port
// unreachable (a hard error in SYN-SENT, RFC 1122 4.2.3.9).
void tcp_icmp_errors(Conversation& c) {
    std::vector<Bytes> sent =
        c.deliver(ethernet(kMacB, EtherType::arp, arp(ArpOp::reply, kMacA, kAddrA, kMacB, kAddrB)));
    Bytes quote;
    for (const Bytes& f : sent) {
        Bytes copy = f;
        EthernetView eth{copy};
        if (eth.check() || eth.ethertype() != uint16_t(EtherType::ipv4)) continue;
        Ipv4View ip{eth.payload()};
        if (ip.check() || ip.protocol() != uint8_t(IpProtocol::tcp)) continue;
        quote.assign(eth.payload().begin(), eth.payload().begin() + long(ip.header_len() + 8));
    }
    if (quote.empty()) {
        std::fprintf(stderr, "make_corpus: no SYN from B to quote\n");
        std::exit(1);
    }
    const Ipv4Repr h = header(kAddrA, kAddrB, IpProtocol::icmp);
    c.deliver(
        frame_ipv4(h, icmp(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::frag_needed), 1200, quote)));
    c.deliver(frame_ipv4(h, icmp(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::port), 0, quote)));
}

struct Script {
    const char* name;
    void (*play)(Conversation&);
};
constexpr Script kConversations[] = {
    {"tcp_echo_session", echo_session}, {"tcp_out_of_order_sack", out_of_order_sack},
    {"tcp_zero_window", zero_window},   {"tcp_retransmit_then_rst", retransmit_then_rst},
    {"tcp_active_open", active_open},   {"tcp_syn_cookies", syn_cookies},
    {"tcp_peer_sack", peer_sack},       {"tcp_icmp_errors", tcp_icmp_errors},
};

}  // namespace
}  // namespace quasi::fuzz

int main(int argc, char** argv) {
    using namespace quasi::fuzz;
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <output directory>\n", argv[0]);
        return 2;
    }
    auto write = [&](const std::string& name, const std::vector<uint8_t>& input) {
        std::string path = std::string(argv[1]) + "/" + name;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f || std::fwrite(input.data(), 1, input.size(), f) != input.size() || std::fclose(f) != 0) {
            std::fprintf(stderr, "make_corpus: cannot write %s\n", path.c_str());
            std::exit(1);
        }
    };
    for (const Seed& seed : seeds()) {
        std::vector<uint8_t> input;
        for (size_t i = 0; i < seed.frames.size(); ++i)
            append_record(input, seed.frames[i], i < seed.times.size() ? seed.times[i] : kNow, true);
        write(seed.name, input);
    }
    // One at a time: each harness needs the whole shared pool.
    for (const Script& script : kConversations) {
        Conversation c(script.name);
        script.play(c);
        c.harness().finish();
        write(c.name(), c.input());
    }
    return 0;
}
