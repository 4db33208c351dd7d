// Crafted-frame tests of a whole Stack (lwIP test/unit style): a frame builder with
// every field right by default and one knob per way to break it, a reader that puts
// the stack's fragmented output back together, and a harness that owns one end of a
// MemLink (the "peer", 198.18.0.1) with a Stack on the other (198.18.0.2/24).
#pragma once

#include "stack_pair.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <vector>

namespace quasi::test {

using Bytes = std::vector<uint8_t>;

inline const MacAddr kTestMac = MemLink::Config{}.mac_a;   // the endpoint the test drives
inline const MacAddr kStackMac = MemLink::Config{}.mac_b;  // the stack's interface
inline const MacAddr kOtherMac{{0x02, 0, 0, 0, 0, 0x0c}};
constexpr Ipv4Addr kPeer = Ipv4Addr::from_octets(198, 18, 0, 1);  // the test's address
constexpr Ipv4Addr kUs = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr Ipv4Addr kDirected = Ipv4Addr::from_octets(198, 18, 0, 255);
constexpr uint16_t kOpenPort = 7000;
constexpr uint16_t kClosedPort = 9999;

inline Bytes pattern(size_t n, uint8_t seed = 0) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
    return b;
}

// ---------------------------------------------------------------- frame builders

// An Ethernet frame carrying IPv4 (or, with another ethertype, `l4` as raw payload).
// Every field is right by default; each knob breaks one thing.
struct Frame {
    MacAddr eth_dst = kStackMac;
    MacAddr eth_src = kTestMac;
    std::optional<uint16_t> vlan_tci;
    uint16_t ethertype = uint16_t(EtherType::ipv4);
    uint8_t version = 4;
    std::optional<uint8_t> ihl;  // default: 5 + options
    Bytes ip_options;
    uint8_t tos = 0;
    uint16_t ident = 1;
    bool df = false;
    bool mf = false;
    uint16_t frag_offset = 0;  // bytes
    uint8_t ttl = 64;
    uint8_t protocol = uint8_t(IpProtocol::udp);
    Ipv4Addr src = kPeer;
    Ipv4Addr dst = kUs;
    std::optional<uint16_t> total_len;
    bool bad_ip_checksum = false;
    Bytes l4;                // transport header and data
    bool fill_udp_checksum = true;
    bool bad_udp_checksum = false;
    size_t min_len = 0;      // pad the frame, as Ethernet pads to 60

    // l4 with its UDP checksum filled in (for UDP, unfragmented or before fragmenting).
    Bytes finished_l4() const {
        Bytes t = l4;
        if (protocol != uint8_t(IpProtocol::udp) || !fill_udp_checksum || t.size() < kUdpHeaderLen) return t;
        size_t len = std::min<size_t>(load_be16(t.data() + 4), t.size());
        store_be16(t.data() + 6, 0);
        ChecksumAccumulator acc;
        add_pseudo_header(acc, src, dst, uint8_t(IpProtocol::udp), static_cast<uint16_t>(len));
        acc.add(t.data(), len);
        uint16_t c = UdpRepr::finish_checksum(acc);
        if (bad_udp_checksum) c = c == 0xFFFF ? 1 : static_cast<uint16_t>(c + 1);
        store_be16(t.data() + 6, c);
        return t;
    }

    Bytes build() const {
        EthernetRepr eth{eth_dst, eth_src, ethertype, vlan_tci.has_value(), vlan_tci.value_or(0)};
        Bytes f(eth.header_len());
        eth.emit(f.data());
        if (ethertype != uint16_t(EtherType::ipv4)) {
            f.insert(f.end(), l4.begin(), l4.end());
        } else {
            const size_t hl = kIpv4MinHeaderLen + ip_options.size();
            const Bytes t = finished_l4();
            Bytes ip(hl + t.size());
            ip[0] = static_cast<uint8_t>((version << 4) | ihl.value_or(static_cast<uint8_t>(hl / 4)));
            ip[1] = tos;
            store_be16(ip.data() + 2, total_len.value_or(static_cast<uint16_t>(ip.size())));
            store_be16(ip.data() + 4, ident);
            store_be16(ip.data() + 6, static_cast<uint16_t>((df ? kIpv4FlagDf : 0) | (mf ? kIpv4FlagMf : 0) |
                                                            frag_offset / 8));
            ip[8] = ttl;
            ip[9] = protocol;
            src.store_to(ip.data() + 12);
            dst.store_to(ip.data() + 16);
            std::copy(ip_options.begin(), ip_options.end(), ip.begin() + 20);
            store_be16(ip.data() + 10, internet_checksum({ip.data(), hl}));
            if (bad_ip_checksum) ip[11] ^= 0x01;
            std::copy(t.begin(), t.end(), ip.begin() + static_cast<long>(hl));
            f.insert(f.end(), ip.begin(), ip.end());
        }
        if (f.size() < min_len) f.resize(min_len, 0);
        return f;
    }
};

// Header and body sized at once, then filled: appending to a vector as short as a
// header makes GCC 12 at -O3 warn falsely (-Warray-bounds) on the reallocation.
inline Bytes udp_header_and(uint16_t sport, uint16_t dport, const Bytes& payload) {
    Bytes t(kUdpHeaderLen + payload.size());
    UdpRepr{sport, dport, static_cast<uint16_t>(payload.size())}.emit(t.data());
    std::copy(payload.begin(), payload.end(), t.begin() + kUdpHeaderLen);
    return t;
}

inline Frame udp(uint16_t dport, const Bytes& payload, uint16_t sport = 5555) {
    Frame f;
    f.l4 = udp_header_and(sport, dport, payload);
    return f;
}

inline Bytes icmp_message(uint8_t type, uint8_t code, uint32_t rest, const Bytes& body) {
    Bytes m(kIcmpHeaderLen + body.size());
    std::copy(body.begin(), body.end(), m.begin() + kIcmpHeaderLen);
    IcmpView v{m};
    v.set_type(type);
    v.set_code(code);
    v.set_rest(rest);
    v.fill_checksum();
    return m;
}

inline Frame icmp(uint8_t type, uint8_t code, uint32_t rest, const Bytes& body) {
    Frame f;
    f.protocol = uint8_t(IpProtocol::icmp);
    f.l4 = icmp_message(type, code, rest, body);
    return f;
}

inline Frame echo_request(const Bytes& data, uint16_t id = 0x4242, uint16_t seq = 1) {
    return icmp(uint8_t(IcmpType::echo_request), 0, (uint32_t{id} << 16) | seq, data);
}

// A TCP segment from kPeer to kUs with its checksum.
inline Frame tcp(const TcpRepr& header, const Bytes& payload = {}) {
    Frame f;
    f.protocol = uint8_t(IpProtocol::tcp);
    f.l4.resize(header.header_len());
    header.emit(f.l4.data());
    f.l4.insert(f.l4.end(), payload.begin(), payload.end());
    ChecksumAccumulator acc;
    add_pseudo_header(acc, f.src, f.dst, f.protocol, static_cast<uint16_t>(f.l4.size()));
    acc.add(f.l4);
    store_be16(f.l4.data() + 16, acc.finish());
    return f;
}

// The IPv4 header and first 8 transport bytes of a datagram `src` sent, as ICMP quotes it.
inline Bytes quoted_udp(Ipv4Addr src, Ipv4Addr dst, uint16_t sport, uint16_t dport) {
    Frame q = udp(dport, pattern(100), sport);
    q.src = src;
    q.dst = dst;
    Bytes f = q.build();
    return Bytes(f.begin() + kEthernetHeaderLen, f.begin() + kEthernetHeaderLen + 28);
}

inline std::vector<Frame> fragments(const Frame& whole, size_t chunk) {
    const Bytes t = whole.finished_l4();
    std::vector<Frame> out;
    for (size_t off = 0; off < t.size(); off += chunk) {
        Frame f = whole;
        f.fill_udp_checksum = false;
        f.l4.assign(t.begin() + static_cast<long>(off), t.begin() + static_cast<long>(std::min(t.size(), off + chunk)));
        f.frag_offset = static_cast<uint16_t>(off);
        f.mf = off + chunk < t.size();
        out.push_back(f);
    }
    return out;
}

// A fragment of 8 payload bytes at `offset` of datagram `ident`, more to follow.
inline Frame fragment8(uint16_t ident, size_t offset, uint8_t seed = 0) {
    Frame f;
    f.fill_udp_checksum = false;
    f.ident = ident;
    f.frag_offset = static_cast<uint16_t>(offset);
    f.mf = true;
    f.l4 = pattern(8, seed);
    return f;
}

inline Bytes arp(ArpOp op, MacAddr smac, Ipv4Addr sip, Ipv4Addr tip, MacAddr eth_src = kTestMac,
          MacAddr eth_dst = MacAddr::broadcast()) {
    Frame f;
    f.eth_src = eth_src;
    f.eth_dst = eth_dst;
    f.ethertype = uint16_t(EtherType::arp);
    f.l4.resize(kArpLen);
    ArpRepr{op, smac, sip, op == ArpOp::reply ? kStackMac : MacAddr{}, tip}.emit(f.l4.data());
    return f.build();
}

// A frame for fuzzing: noise (half of it addressed to us as IPv4 or ARP), or one of
// `templates` with a few bit flips (half the time in the headers, with the IPv4
// checksum made right again so the flips reach the layers above), or cut or extended
// to a random length up to 2000 bytes.
inline Bytes mutated(Random& r, const std::vector<Bytes>& templates) {
    Bytes f = templates[r.below(static_cast<uint32_t>(templates.size()))];
    switch (r.below(4)) {
    case 0:
        f.resize(r.below(2001));
        for (auto& b : f) b = static_cast<uint8_t>(r.next());
        if (f.size() >= 14 && r.below(2)) {
            kStackMac.store_to(f.data());
            store_be16(f.data() + 12, r.below(2) ? 0x0800 : 0x0806);
        }
        return f;
    case 1:
    case 2: {
        size_t reach = std::min<size_t>(f.size(), r.below(2) ? 64 : f.size());
        for (uint32_t k = 1 + r.below(6); k > 0; --k)
            f[r.below(static_cast<uint32_t>(reach))] ^= uint8_t(1u << r.below(8));
        EthernetView eth{f};
        if (r.below(2) && !eth.check() && eth.payload().size() >= kIpv4MinHeaderLen) {
            Ipv4View ip{eth.payload()};
            if (ip.header_len() >= kIpv4MinHeaderLen && ip.header_len() <= eth.payload().size()) ip.fill_checksum();
        }
        return f;
    }
    default:
        f.resize(r.below(2001), static_cast<uint8_t>(r.next()));
        return f;
    }
}

// ---------------------------------------------------------------- reading what the stack sent

struct Datagram {
    Ipv4Addr src, dst;
    uint8_t protocol = 0, ttl = 0;
    size_t fragments = 0;
    size_t largest_packet = 0;  // total length of the biggest fragment
    Bytes payload;
};

// The IPv4 datagrams in `frames`, fragments put back together.
inline std::vector<Datagram> datagrams(std::vector<Bytes> frames) {
    std::vector<Datagram> out;
    std::map<uint32_t, std::map<size_t, std::pair<Bytes, bool>>> parts;  // ident -> offset -> data, mf
    std::map<uint32_t, Datagram> heads;
    for (Bytes& f : frames) {
        EthernetView eth{f};
        if (eth.check() || eth.ethertype() != uint16_t(EtherType::ipv4)) continue;
        Ipv4View v{eth.payload()};
        if (v.check()) continue;
        Datagram d{v.src(), v.dst(), v.protocol(), v.ttl(), 1, v.total_len(), {}};
        Bytes data(v.payload().begin(), v.payload().end());
        if (!v.is_fragment()) {
            d.payload = data;
            out.push_back(d);
            continue;
        }
        uint32_t key = (uint32_t{v.ident()} << 8) | v.protocol();
        parts[key][v.fragment_offset()] = {data, v.more_fragments()};
        auto [it, fresh] = heads.emplace(key, d);
        if (!fresh) it->second.largest_packet = std::max(it->second.largest_packet, d.largest_packet);
    }
    for (auto& [key, pieces] : parts) {
        Datagram d = heads[key];
        d.fragments = pieces.size();
        bool complete = true;
        for (auto& [offset, piece] : pieces) {
            complete = complete && offset == d.payload.size();
            d.payload.insert(d.payload.end(), piece.first.begin(), piece.first.end());
        }
        if (complete && !pieces.rbegin()->second.second) out.push_back(d);
    }
    return out;
}

inline size_t count_icmp(const std::vector<Bytes>& frames, uint8_t type, int code = -1) {
    size_t n = 0;
    for (const Datagram& d : datagrams(frames))
        n += d.protocol == uint8_t(IpProtocol::icmp) && d.payload.size() >= 8 && d.payload[0] == type &&
             (code < 0 || d.payload[1] == code);
    return n;
}

// ---------------------------------------------------------------- the link's far end

// Puts `frame` on the link at `end` (the stack receives it), in a buffer from `pool`.
inline void put_frame(BufferPool& pool, MemLink::Endpoint& end, const Bytes& frame) {
    PacketPtr p = pool.alloc();
    ASSERT_NE(p, nullptr);
    if (frame.size() > p->tailroom()) p->reset(0);
    std::copy(frame.begin(), frame.end(), p->append(frame.size()));
    PacketPtr one[1] = {std::move(p)};
    ASSERT_EQ(end.tx_burst(one), 1u) << "frame of " << frame.size() << " bytes refused by the link";
}

// Every frame waiting at `end` (what the stack sent), copied out; the buffers go back.
inline std::vector<Bytes> take_frames(MemLink::Endpoint& end) {
    std::vector<Bytes> out;
    PacketPtr burst[kBurstSize];
    while (size_t n = end.rx_burst(burst)) {
        for (size_t i = 0; i < n; ++i) {
            Bytes f(burst[i]->chain_length());
            burst[i]->copy_out(0, f.data(), f.size());
            out.push_back(std::move(f));
            burst[i].reset();
        }
    }
    return out;
}

// ---------------------------------------------------------------- the harness

inline Stack::Config stack_config() {
    Stack::Config c;
    c.seed = 77;
    return c;
}

class WireHarness {
public:
    explicit WireHarness(uint16_t mtu = 1500) : link(MemLink::Config{.mtu = mtu}), stack(stack_config(), clock, &pool) {
        EXPECT_EQ(stack.add_interface(link.b(), kUs, 24), 0);
        fd = open_socket(kOpenPort);
        exchange({arp(ArpOp::request, kTestMac, kPeer, kUs)});  // the stack learns us as a neighbour would
        baseline = pool.available();
    }

    int open_socket(uint16_t port) {
        int s = socket(stack, kAfInet, kSockDgram);
        EXPECT_EQ(bind(stack, s, SockAddr{Ipv4Addr{}, port}), 0);
        return s;
    }

    void inject(const Bytes& frame) { put_frame(pool, link.a(), frame); }

    void pump() {
        for (int i = 0; i < 100000; ++i)
            if (stack.poll() == 0 && link.b().rx_pending() == 0) return;
    }

    std::vector<Bytes> drain() { return take_frames(link.a()); }

    // Injects frames, runs the stack and returns what it sent, answering its ARP
    // requests for kPeer the way the peer would.
    std::vector<Bytes> exchange(const std::vector<Bytes>& frames) {
        for (const Bytes& f : frames) inject(f);
        std::vector<Bytes> all;
        for (int round = 0; round < 4; ++round) {
            pump();
            bool asked = false;
            for (Bytes& f : drain()) {
                EthernetView eth{f};
                if (!eth.check() && eth.ethertype() == uint16_t(EtherType::arp) && !ArpView{eth.payload()}.check()) {
                    ArpRepr a = ArpRepr::parse(ArpView{eth.payload()});
                    if (a.op == ArpOp::request && a.target_ip == kPeer && a.sender_ip != a.target_ip) {
                        inject(arp(ArpOp::reply, kTestMac, kPeer, a.sender_ip, kTestMac, kStackMac));
                        asked = true;
                        continue;
                    }
                }
                all.push_back(std::move(f));
            }
            if (!asked) break;
        }
        return all;
    }
    std::vector<Bytes> exchange(const std::vector<Frame>& frames) {
        std::vector<Bytes> built;
        for (const Frame& f : frames) built.push_back(f.build());
        return exchange(built);
    }
    std::vector<Bytes> exchange(const Frame& f) { return exchange(std::vector<Bytes>{f.build()}); }

    void run_for(TimeNs duration) {
        for (TimeNs t = 0; t < duration; t += 100 * kMillisecond) {
            clock.advance(100 * kMillisecond);
            pump();
            drain();
        }
    }

    ssize_t receive(int s, Bytes& out) {
        out.assign(70000, 0);
        ssize_t n = recv(stack, s, out.data(), out.size());
        out.resize(n > 0 ? static_cast<size_t>(n) : 0);
        return n;
    }

    // A datagram to the open socket and a ping both still work.
    void expect_still_works() {
        Bytes data = pattern(33, static_cast<uint8_t>(++probes));
        exchange(udp(kOpenPort, data));
        Bytes got;
        ASSERT_EQ(receive(fd, got), ssize_t(data.size())) << "stack no longer delivers: " << drops_of(stack.stats());
        EXPECT_EQ(got, data);
        Bytes ping = pattern(24, 99);
        auto replies = datagrams(exchange(echo_request(ping)));
        ASSERT_EQ(replies.size(), 1u);
        EXPECT_EQ(Bytes(replies[0].payload.begin() + 8, replies[0].payload.end()), ping);
    }

    // `frame` is dropped for exactly `reason`: one drop, nothing delivered, sent or
    // held, and the stack still works.
    void expect_drop(const Bytes& frame, Drop reason, const char* what = "") {
        SCOPED_TRACE(std::string(name(reason)) + " " + what);
        const Stats before = stack.stats();
        std::vector<Bytes> sent = exchange({frame});
        EXPECT_EQ(stack.stats()[reason], before[reason] + 1) << drops_of(stack.stats());
        EXPECT_EQ(stack.stats().total_drops(), before.total_drops() + 1) << drops_of(stack.stats());
        EXPECT_TRUE(sent.empty()) << sent.size() << " frames sent in response";
        Bytes got;
        EXPECT_EQ(receive(fd, got), -EAGAIN) << "delivered";
        EXPECT_EQ(stack.stats()[Counter::udp_rx], before[Counter::udp_rx]);
        EXPECT_EQ(pool.available(), baseline) << "buffers held";
        expect_still_works();
    }
    void expect_drop(const Frame& f, Drop reason, const char* what = "") { expect_drop(f.build(), reason, what); }

    // Delivered to the open socket with exactly `data`.
    void expect_delivered(const Frame& f, const Bytes& data) {
        exchange(f);
        Bytes got;
        ASSERT_EQ(receive(fd, got), ssize_t(data.size())) << drops_of(stack.stats());
        EXPECT_EQ(got, data);
    }

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 4096}};
    MemLink link;
    Stack stack;
    int fd = -1;           // a socket bound to kOpenPort
    size_t baseline = 0;   // pool.available() once set up: nothing held
    int probes = 0;
};

}  // namespace quasi::test
