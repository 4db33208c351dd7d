// Every line of the "Link, ARP, IPv4, ICMP" section of /work/shared/notes/bad-inputs.md
// (plus the UDP checksum line) against a real Stack: crafted frames go in through the
// end of a MemLink the test owns (wire_harness.hpp). Each test checks the exact drop
// reason, that nothing was delivered, sent or held, and that a valid datagram and a
// ping still get through afterwards.
#include "wire_harness.hpp"

#include <gtest/gtest.h>

namespace quasi::test {
namespace {

class BadInput : public WireHarness, public ::testing::Test {
protected:
    explicit BadInput(uint16_t mtu = 1500) : WireHarness(mtu) {}
};

// ---------------------------------------------------------------- Ethernet

TEST_F(BadInput, RuntFramesAndTruncatedVlanTags) {
    Bytes f = udp(kOpenPort, {1}).build();
    auto first = [&](size_t n) { return Bytes(f.begin(), f.begin() + static_cast<long>(n)); };
    for (size_t n : {0, 1, 6, 12, 13}) expect_drop(first(n), Drop::eth_too_short);
    store_be16(f.data() + 12, uint16_t(EtherType::vlan));
    for (size_t n : {14, 16, 17}) expect_drop(first(n), Drop::eth_too_short, "truncated 802.1Q tag");
}

TEST_F(BadInput, UnknownEtherTypes) {
    for (uint16_t type : {0x86DD, 0x88CC, 0x0000, 0x88A8, 0xFFFF}) {
        Frame f = udp(kOpenPort, {1, 2});
        f.l4 = f.build();
        f.ethertype = type;
        expect_drop(f, Drop::eth_unknown_ethertype);
    }
}

TEST_F(BadInput, FramesForOtherMacsAndFromGroupMacs) {
    for (MacAddr dst : {kOtherMac, MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}, MacAddr{{0x33, 0x33, 0, 0, 0, 1}}}) {
        Frame f = udp(kOpenPort, {1});
        f.eth_dst = dst;
        expect_drop(f, Drop::eth_not_for_us);
    }
    for (MacAddr src : {MacAddr::broadcast(), MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}}) {
        Frame f = udp(kOpenPort, {1});
        f.eth_src = src;
        expect_drop(f, Drop::eth_bad_source_mac);
    }
}

TEST_F(BadInput, VlanTaggedDroppedPriorityTaggedAccepted) {
    for (uint16_t tci : {0x0001, 0x0FFF, 0xA064}) {
        Frame f = udp(kOpenPort, {1});
        f.vlan_tci = tci;
        expect_drop(f, Drop::eth_vlan_not_ours);
    }
    Frame priority = udp(kOpenPort, {4, 5, 6});
    priority.vlan_tci = 0xA000;  // PCP 5, VID 0 (IEEE 802.1Q priority tag)
    expect_delivered(priority, {4, 5, 6});
    auto replies = exchange([&] { Frame e = echo_request({7}); e.vlan_tci = 0x2000; return e; }());
    EXPECT_EQ(count_icmp(replies, uint8_t(IcmpType::echo_reply)), 1u);
}

TEST_F(BadInput, EthernetPaddingIsNotPayload) {
    Frame f = udp(kOpenPort, {42});
    f.min_len = 60;
    expect_delivered(f, {42});
    EXPECT_EQ(stack.stats().total_drops(), 0u) << drops_of(stack.stats());
}

// ---------------------------------------------------------------- IPv4 header

TEST_F(BadInput, Ipv4BadChecksumSilentlyDropped) {
    for (uint16_t port : {kOpenPort, kClosedPort}) {  // no ICMP error either
        Frame f = udp(port, {1});
        f.bad_ip_checksum = true;
        expect_drop(f, Drop::ipv4_bad_checksum);
    }
}

TEST_F(BadInput, Ipv4BadVersionHeaderLengthAndTotalLength) {
    for (uint8_t version : {0, 6, 15}) {
        Frame f = udp(kOpenPort, {1});
        f.version = version;
        expect_drop(f, Drop::ipv4_bad_version);
    }
    for (uint8_t ihl : {0, 1, 4, 15}) {  // below 5, or 60 bytes in a 29-byte packet
        Frame f = udp(kOpenPort, {1});
        f.ihl = ihl;
        expect_drop(f, Drop::ipv4_bad_header_length);
    }
    for (uint16_t total : {0, 19, 30, 1500, 0xFFFF}) {  // below the header, beyond the frame
        Frame f = udp(kOpenPort, {1});
        f.total_len = total;
        expect_drop(f, Drop::ipv4_bad_total_length);
    }
    Frame options = udp(kOpenPort, {1});
    options.ip_options = {1, 1, 1, 0};
    options.total_len = 22;  // covers 20 bytes, not the 24-byte header
    expect_drop(options, Drop::ipv4_bad_total_length);
    Bytes header_cut = options.build();
    header_cut.resize(kEthernetHeaderLen + 19);
    expect_drop(header_cut, Drop::ipv4_too_short);
}

TEST_F(BadInput, Ipv4InvalidSources) {
    for (Ipv4Addr src : {Ipv4Addr::broadcast(), Ipv4Addr::from_octets(224, 0, 0, 1),
                         Ipv4Addr::from_octets(239, 1, 2, 3), Ipv4Addr::any(), Ipv4Addr::from_octets(0, 1, 2, 3),
                         Ipv4Addr::from_octets(240, 0, 0, 1), Ipv4Addr::from_octets(254, 255, 255, 255)}) {
        Frame f = udp(kOpenPort, {1});
        f.src = src;
        expect_drop(f, Drop::ipv4_bad_source);
    }
}

// RFC 1122 3.2.1.3: {<net>, -1} and {127, any} are never a source either; a host
// "MUST silently discard" datagrams from them (Linux: martian source).
TEST_F(BadInput, Ipv4DirectedBroadcastAndLoopbackSources) {
    for (Ipv4Addr src : {kDirected, Ipv4Addr::from_octets(127, 0, 0, 1)}) {
        Frame f = udp(kOpenPort, {1});
        f.src = src;
        expect_drop(f, Drop::ipv4_bad_source, src == kDirected ? "directed broadcast" : "loopback");
    }
}

TEST_F(BadInput, Ipv4NotForUs) {
    for (Ipv4Addr dst : {Ipv4Addr::from_octets(198, 18, 0, 3), Ipv4Addr::from_octets(224, 0, 0, 1),
                         Ipv4Addr::from_octets(127, 0, 0, 1), Ipv4Addr::from_octets(10, 0, 0, 2)}) {
        Frame f = udp(kOpenPort, {1});
        f.dst = dst;
        expect_drop(f, Drop::ipv4_not_for_us);
    }
}

TEST_F(BadInput, TtlBelowTwoIsStillAccepted) {
    for (uint8_t ttl : {1, 0}) {  // RFC 1122 3.2.1.7: a host does not drop for TTL < 2
        Frame f = udp(kOpenPort, {ttl, 9});
        f.ttl = ttl;
        expect_delivered(f, {ttl, 9});
        Frame ping = echo_request({ttl});
        ping.ttl = ttl;
        EXPECT_EQ(count_icmp(exchange(ping), uint8_t(IcmpType::echo_reply)), 1u);
    }
    EXPECT_EQ(stack.stats().total_drops(), 0u) << drops_of(stack.stats());
}

TEST_F(BadInput, NeverSendsTtlZero) {
    int ttl = 0;
    EXPECT_EQ(setsockopt(stack, fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), -EINVAL);
    ttl = 256;
    EXPECT_EQ(setsockopt(stack, fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), -EINVAL);
    ttl = -1;  // "the default"
    ASSERT_EQ(setsockopt(stack, fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl), 0);
    Bytes small(10), big(3000);
    SockAddr to{kPeer, 5555};
    ASSERT_EQ(sendto(stack, fd, small.data(), small.size(), 0, &to), 10);
    ASSERT_EQ(sendto(stack, fd, big.data(), big.size(), 0, &to), 3000);
    Frame ping = echo_request({1});
    ping.ttl = 1;
    std::vector<Bytes> sent = exchange(std::vector<Frame>{ping, udp(kClosedPort, {2})});
    // The network layer itself refuses TTL 0 from any caller.
    PacketPtr raw = pool.alloc();
    std::fill_n(raw->append(8), 8, 0);
    Stack::Ipv4Send zero_ttl{.src = {}, .dst = kPeer, .protocol = 253, .ttl = 0};
    ASSERT_EQ(stack.ipv4_output(zero_ttl, std::move(raw)), 0);
    for (Bytes& f : exchange(std::vector<Bytes>{})) sent.push_back(f);
    auto all = datagrams(sent);
    ASSERT_EQ(all.size(), 5u);  // two UDP, echo reply, port unreachable, raw
    for (const Datagram& d : all) EXPECT_EQ(d.ttl, 64) << "protocol " << int(d.protocol);
}

// ---------------------------------------------------------------- fragments

TEST_F(BadInput, TeardropOverlapDropsWholeDatagram) {
    Frame first = udp(kOpenPort, pattern(32));  // data [0, 40)
    first.mf = true;
    Frame inside = first;                       // [24, 28), claims to be last
    inside.fill_udp_checksum = false;
    inside.l4 = {1, 2, 3, 4};
    inside.frag_offset = 24;
    inside.mf = false;
    exchange(std::vector<Frame>{first, inside});
    EXPECT_EQ(stack.stats()[Drop::frag_overlap], 1u) << drops_of(stack.stats());
    EXPECT_EQ(pool.available(), baseline) << "overlap must free the datagram at once";
    Bytes got;
    EXPECT_EQ(receive(fd, got), -EAGAIN);
    expect_still_works();
}

TEST_F(BadInput, Rfc1858OverlapRewritingTheUdpHeaderDropsWholeDatagram) {
    int other = open_socket(kOpenPort + 1);
    auto parts = fragments(udp(kOpenPort, pattern(24)), 24);  // [0,24) MF, [24,32) last
    ASSERT_EQ(parts.size(), 2u);
    Frame rewrite = parts[0];  // [0,16) MF: a new UDP header for the other port
    rewrite.l4 = udp_header_and(5555, kOpenPort + 1, pattern(16));
    rewrite.l4.resize(16);
    exchange(std::vector<Frame>{parts[0], rewrite, parts[1]});
    EXPECT_EQ(stack.stats()[Drop::frag_overlap], 1u) << drops_of(stack.stats());
    Bytes got;
    EXPECT_EQ(receive(fd, got), -EAGAIN);
    EXPECT_EQ(receive(other, got), -EAGAIN);
    run_for(31 * kSecond);  // the orphaned last fragment times out
    EXPECT_EQ(stack.stats()[Drop::frag_timeout], 1u);
    EXPECT_EQ(pool.available(), baseline);
    expect_still_works();
}

TEST_F(BadInput, PingOfDeathIsDropped) {
    Frame first = echo_request(pattern(1472));
    first.mf = true;
    first.ident = 666;
    Frame beyond = first;  // ends at 65520 + 100 > 65535 - 20
    beyond.l4 = pattern(100);
    beyond.frag_offset = 65520;
    beyond.mf = false;
    std::vector<Bytes> sent = exchange(std::vector<Frame>{first, beyond});
    EXPECT_EQ(stack.stats()[Drop::frag_too_big], 1u) << drops_of(stack.stats());
    EXPECT_EQ(count_icmp(sent, uint8_t(IcmpType::echo_reply)), 0u);
    EXPECT_EQ(pool.available(), baseline);
    beyond.ident = 667;  // alone, too
    expect_drop(beyond, Drop::frag_too_big);
    // Every fragment within 65535 - 20, but 40 bytes of options in the first make the
    // reassembled datagram 65575 bytes: caught at assembly.
    auto parts = fragments(echo_request(pattern(65515 - 8)), 1440);
    parts[0].ip_options.assign(40, 1);  // NOPs
    sent = exchange(parts);
    EXPECT_EQ(stack.stats()[Drop::frag_too_big], 3u) << drops_of(stack.stats());
    EXPECT_EQ(count_icmp(sent, uint8_t(IcmpType::echo_reply)), 0u);
    EXPECT_EQ(pool.available(), baseline);
}

TEST_F(BadInput, FragmentFloodIsBoundedAndTimesOut) {
    const Stack::Config config = stack_config();
    std::vector<Frame> flood;
    for (uint16_t i = 0; i < 200; ++i) flood.push_back(fragment8(static_cast<uint16_t>(1000 + i), 0));
    exchange(flood);
    EXPECT_EQ(baseline - pool.available(), config.reassembly.max_datagrams);
    EXPECT_EQ(stack.stats()[Drop::frag_table_full], 200 - config.reassembly.max_datagrams);
    run_for(config.reassembly.timeout + kSecond);
    EXPECT_EQ(stack.stats()[Drop::frag_timeout], config.reassembly.max_datagrams);
    EXPECT_EQ(pool.available(), baseline) << "timed-out fragments must go back to the pool";
    Bytes big = pattern(3000), got;
    exchange(fragments(udp(kOpenPort, big), 1480));
    EXPECT_EQ(receive(fd, got), ssize_t(big.size()));
    EXPECT_EQ(got, big);
}

TEST_F(BadInput, FragmentMemoryIsCapped) {
    const Reassembler::Config rc = stack_config().reassembly;
    const size_t cap = rc.max_bytes / pool.data_room();
    size_t most_held = 0;
    for (uint16_t round = 0; round < 8; ++round) {  // 32 datagrams x 8 fragments, interleaved
        std::vector<Frame> wave;
        for (uint16_t d = 0; d < rc.max_datagrams; ++d)
            wave.push_back(fragment8(static_cast<uint16_t>(2000 + d), 8 * round, static_cast<uint8_t>(round)));
        exchange(wave);
        most_held = std::max(most_held, baseline - pool.available());
    }
    EXPECT_LE(most_held, cap);
    EXPECT_GT(stack.stats()[Drop::frag_memory_full], 0u);
    run_for(rc.timeout + kSecond);
    EXPECT_EQ(pool.available(), baseline);
    expect_still_works();
}

TEST_F(BadInput, FragmentsPerDatagramAreCapped) {
    const size_t cap = stack_config().reassembly.max_fragments_per_datagram;
    std::vector<Frame> many;
    for (size_t i = 0; i <= cap; ++i) many.push_back(fragment8(1, 8 * i, static_cast<uint8_t>(i)));
    exchange(many);
    EXPECT_EQ(stack.stats()[Drop::frag_too_many_fragments], 1u) << drops_of(stack.stats());
    EXPECT_EQ(pool.available(), baseline);
    expect_still_works();
}

// ---------------------------------------------------------------- ARP

TEST_F(BadInput, ArpUnsolicitedReplyCreatesNoEntry) {
    const Ipv4Addr stranger = Ipv4Addr::from_octets(198, 18, 0, 77);
    size_t entries = stack.interface(0)->arp().entries();
    expect_drop(arp(ArpOp::reply, kOtherMac, stranger, kUs, kOtherMac, kStackMac), Drop::arp_unsolicited_reply);
    EXPECT_EQ(stack.interface(0)->arp().state_of(stranger), ArpCache::State::free);
    EXPECT_EQ(stack.interface(0)->arp().entries(), entries);
}

TEST_F(BadInput, ArpSenderClaimingOurAddressIsAConflict) {
    const Stats before = stack.stats();
    std::vector<Bytes> sent = exchange({arp(ArpOp::request, kOtherMac, kUs, kUs, kOtherMac)});
    EXPECT_EQ(stack.stats()[Drop::arp_address_conflict], before[Drop::arp_address_conflict] + 1);
    ASSERT_EQ(sent.size(), 1u);  // RFC 5227 2.4 (b): one defensive announcement
    ArpRepr defence = ArpRepr::parse(ArpView{EthernetView{sent[0]}.payload()});
    EXPECT_EQ(defence.sender_ip, kUs);
    EXPECT_EQ(defence.sender_mac, kStackMac);
    clock.advance(kSecond);
    sent = exchange({arp(ArpOp::reply, kOtherMac, kUs, kUs, kOtherMac, kStackMac)});
    EXPECT_EQ(stack.stats()[Drop::arp_address_conflict], before[Drop::arp_address_conflict] + 2);
    EXPECT_TRUE(sent.empty()) << "at most one defence per DEFEND_INTERVAL";
    EXPECT_EQ(stack.interface(0)->arp().state_of(kUs), ArpCache::State::free);
    expect_still_works();
}

// The subnet's directed broadcast address is nobody's: an ARP packet claiming it is
// dropped, nothing is learnt and nothing answered.
TEST_F(BadInput, ArpFromTheSubnetBroadcastAddressRejected) {
    std::vector<Bytes> sent = exchange({arp(ArpOp::request, kOtherMac, kDirected, kUs, kOtherMac)});
    EXPECT_TRUE(sent.empty());
    EXPECT_GE(stack.stats()[Drop::arp_bad_sender], 1u);
    MacAddr learnt;
    EXPECT_FALSE(stack.interface(0)->arp().lookup(kDirected, learnt));
    expect_still_works();
}

TEST_F(BadInput, ArpGroupSenderMacRejected) {
    for (MacAddr bad : {MacAddr::broadcast(), MacAddr{{0x01, 0x00, 0x5e, 0, 0, 9}}, MacAddr{}}) {
        expect_drop(arp(ArpOp::request, bad, kPeer, kUs), Drop::arp_bad_sender);
        MacAddr learnt;
        ASSERT_TRUE(stack.interface(0)->arp().lookup(kPeer, learnt));
        EXPECT_EQ(learnt, kTestMac) << "a rejected packet must not overwrite the mapping";
    }
}

TEST_F(BadInput, ArpCacheAndPendingQueueAreBounded) {
    ArpCache& cache = stack.interface(0)->arp();
    const ArpCache::Config ac = stack_config().arp;
    std::vector<Bytes> requests;
    for (int i = 0; i < 300; ++i)
        requests.push_back(arp(ArpOp::request, MacAddr{{0x02, 1, 0, 0, uint8_t(i >> 8), uint8_t(i)}},
                               Ipv4Addr::from_octets(10, 1, uint8_t(i >> 8), uint8_t(i)), kUs));
    exchange(requests);
    EXPECT_LE(cache.entries(), ac.max_entries);
    EXPECT_EQ(stack.stats()[Counter::arp_replies_sent], 301u);  // still answered (RFC 826)
    // Datagrams to 20 silent neighbours: 100 frames wait for resolution, at most 64 may.
    Bytes one{1};
    for (uint8_t host = 10; host < 30; ++host)
        for (int k = 0; k < 5; ++k) {
            SockAddr to{Ipv4Addr::from_octets(198, 18, 0, host), 9};
            ASSERT_EQ(sendto(stack, fd, one.data(), 1, 0, &to), 1);
        }
    EXPECT_LE(cache.pending_frames(), ac.max_pending_total);
    EXPECT_GE(stack.stats()[Drop::arp_queue_full], 100 - ac.max_pending_total);
    run_for(10 * kSecond);  // resolution gives up and frees what waited
    EXPECT_EQ(cache.pending_frames(), 0u);
    EXPECT_EQ(pool.available(), baseline);
    expect_still_works();
}

// ---------------------------------------------------------------- ICMP

// Builds an IPv4 datagram (no Ethernet) in a pool buffer, for Stack::icmp_send_error.
PacketPtr datagram_buffer(BufferPool& pool, const Frame& f) {
    Bytes b = f.build();
    PacketPtr p = pool.alloc();
    std::copy(b.begin() + kEthernetHeaderLen, b.end(), p->append(b.size() - kEthernetHeaderLen));
    return p;
}

TEST_F(BadInput, NoIcmpErrorAboutIcmpErrorsOrNonFirstFragments) {
    auto errors_for = [&](const Frame& offending) {
        PacketPtr p = datagram_buffer(pool, offending);
        stack.icmp_send_error(uint8_t(IcmpType::dest_unreachable), uint8_t(IcmpUnreachCode::protocol), 0, *p);
        return count_icmp(exchange(std::vector<Bytes>{}), uint8_t(IcmpType::dest_unreachable));
    };
    const Bytes quote = quoted_udp(kUs, kPeer, kOpenPort, 53);
    for (uint8_t type : {3, 4, 5, 11, 12})
        EXPECT_EQ(errors_for(icmp(type, 0, 0, quote)), 0u) << "about ICMP type " << int(type);
    Frame later = udp(kClosedPort, pattern(16));
    later.frag_offset = 8;
    EXPECT_EQ(errors_for(later), 0u) << "about a non-first fragment";
    EXPECT_EQ(errors_for(echo_request({1})), 1u) << "control: an echo request may be reported";
    Frame first = udp(kClosedPort, pattern(16));
    first.mf = true;
    EXPECT_EQ(errors_for(first), 1u) << "control: a first fragment may be reported";
    // End to end: an ICMP error to us draws no error back.
    EXPECT_TRUE(exchange(icmp(3, 3, 0, quote)).empty());
}

TEST_F(BadInput, NoIcmpErrorAboutBroadcasts) {
    for (Ipv4Addr dst : {Ipv4Addr::broadcast(), kDirected}) {
        Frame f = udp(kClosedPort, {1});
        f.dst = dst;
        f.eth_dst = MacAddr::broadcast();
        expect_drop(f, Drop::udp_no_socket);
    }
    // RFC 1122 3.2.2: nor about a datagram sent as a link-layer broadcast (Linux:
    // icmp_send ignores skbs that are not PACKET_HOST).
    Frame link_broadcast = udp(kClosedPort, {1});
    link_broadcast.eth_dst = MacAddr::broadcast();
    expect_drop(link_broadcast, Drop::udp_no_socket, "link-layer broadcast");
}

TEST_F(BadInput, IcmpErrorsAreRateLimited) {
    const Stack::Config config = stack_config();
    std::vector<Frame> closed;
    for (uint16_t i = 0; i < 200; ++i)
        closed.push_back(udp(kClosedPort, {uint8_t(i)}, static_cast<uint16_t>(10000 + i)));
    std::vector<Bytes> sent = exchange(closed);  // all within one virtual instant
    EXPECT_EQ(count_icmp(sent, 3, 3), config.icmp_error_burst);
    EXPECT_EQ(stack.stats()[Drop::icmp_rate_limited], 200 - config.icmp_error_burst);
    EXPECT_EQ(stack.stats()[Drop::udp_no_socket], 200u);
    clock.advance(kSecond);  // the bucket refills
    EXPECT_EQ(count_icmp(exchange(udp(kClosedPort, {1})), 3, 3), 1u);
    EXPECT_EQ(pool.available(), baseline);
}

TEST_F(BadInput, IcmpErrorsWithGarbageEmbeddedHeaders) {
    const Bytes good = quoted_udp(kUs, kPeer, kOpenPort, 53);
    auto with = [&](size_t offset, uint8_t value) {
        Bytes q = good;
        q[offset] = value;
        return q;
    };
    const std::vector<Bytes> garbage = {
        {},                                             // nothing quoted
        Bytes(good.begin(), good.begin() + 19),          // less than a header
        Bytes(good.begin(), good.begin() + 24),          // header but only 4 transport bytes
        with(0, 0x65),                                   // version 6
        with(0, 0x44),                                   // IHL 4
        with(0, 0x4F),                                   // IHL 15: options past the quote
        quoted_udp(Ipv4Addr::from_octets(198, 18, 0, 9), kPeer, kOpenPort, 53),  // not from us
    };
    for (const Bytes& body : garbage) {
        expect_drop(icmp(3, 3, 0, body), Drop::icmp_bad_embedded);
        expect_drop(icmp(3, 4, 576, body), Drop::icmp_bad_embedded, "fragmentation needed");
        expect_drop(icmp(11, 0, 0, body), Drop::icmp_bad_embedded, "time exceeded");
    }
}

TEST_F(BadInput, MalformedIcmpMessages) {
    Frame short_one = icmp(8, 0, 0, {});
    short_one.l4.resize(4);
    expect_drop(short_one, Drop::icmp_too_short);
    Frame corrupt = echo_request(pattern(20));
    corrupt.l4[12] ^= 0x80;
    expect_drop(corrupt, Drop::icmp_bad_checksum);
    for (uint8_t type : {0, 13, 17, 42, 255}) expect_drop(icmp(type, 0, 0, pattern(8)), Drop::icmp_unsupported_type);
}

// A report not below the current estimate (the link MTU here) changes nothing: no
// entry, no version bump that would make specialized handles re-specialize.
TEST_F(BadInput, PathMtuReportAtOrAboveTheLinkMtuIsIgnored) {
    const uint64_t version = stack.path_mtu().version;
    for (uint16_t mtu : {1500, 1501, 9000, 65535}) {
        exchange(icmp(3, 4, mtu, quoted_udp(kUs, kPeer, kOpenPort, 5555)));
        EXPECT_EQ(stack.path_mtu().get(kPeer, 9000, clock.now()), 9000) << mtu;
    }
    EXPECT_EQ(uint64_t(stack.path_mtu().version), version);
    EXPECT_EQ(stack.stats()[Counter::pmtu_updates], 0u);
}

// RFC 1191 6.3: never raised by ICMP. Lowered to 1000 by a report about a UDP
// datagram, a later report of 1400 (below the link MTU) changes nothing: no version
// bump, and datagrams are still cut to 1000.
TEST_F(BadInput, PathMtuLoweredByUdpReportIsNotRaisedByALaterLargerOne) {
    exchange(icmp(3, 4, 1000, quoted_udp(kUs, kPeer, kOpenPort, 5555)));
    ASSERT_EQ(stack.path_mtu().get(kPeer, 1500, clock.now()), 1000);
    const uint64_t version = stack.path_mtu().version;
    exchange(icmp(3, 4, 1400, quoted_udp(kUs, kPeer, kOpenPort, 5555)));
    EXPECT_EQ(stack.path_mtu().get(kPeer, 1500, clock.now()), 1000);
    EXPECT_EQ(uint64_t(stack.path_mtu().version), version);
    EXPECT_EQ(stack.stats()[Counter::pmtu_updates], 1u);
    Bytes data = pattern(1300);
    SockAddr to{kPeer, 5555};
    ASSERT_EQ(sendto(stack, fd, data.data(), data.size(), 0, &to), ssize_t(data.size()));
    auto sent = datagrams(exchange(std::vector<Bytes>{}));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].fragments, 2u);
    EXPECT_LE(sent[0].largest_packet, 1000u);
    EXPECT_EQ(Bytes(sent[0].payload.begin() + 8, sent[0].payload.end()), data);
}

TEST_F(BadInput, AbsurdPathMtuIsClampedAndUdpStillFragmentsToFit) {
    for (uint16_t mtu : {0, 20, 67}) {
        exchange(icmp(3, 4, mtu, quoted_udp(kUs, kPeer, kOpenPort, 5555)));
        EXPECT_EQ(stack.path_mtu().get(kPeer, 1500, clock.now()), PathMtuCache::kMinMtu) << mtu;
    }
    EXPECT_EQ(stack.stats()[Counter::pmtu_updates], 1u);
    Bytes data = pattern(200);
    SockAddr to{kPeer, 5555};
    ASSERT_EQ(sendto(stack, fd, data.data(), data.size(), 0, &to), ssize_t(data.size()));
    auto sent = datagrams(exchange(std::vector<Bytes>{}));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_LE(sent[0].largest_packet, PathMtuCache::kMinMtu);
    EXPECT_GE(sent[0].fragments, 5u);
    ASSERT_EQ(sent[0].payload.size(), 8 + data.size());
    EXPECT_EQ(Bytes(sent[0].payload.begin() + 8, sent[0].payload.end()), data);
}

TEST_F(BadInput, UnknownProtocolGetsProtocolUnreachable) {
    Frame f = udp(kOpenPort, {1});
    f.protocol = 132;  // SCTP
    std::vector<Bytes> sent = exchange(f);
    EXPECT_EQ(stack.stats()[Drop::ipv4_unknown_protocol], 1u);
    EXPECT_EQ(count_icmp(sent, 3, 2), 1u);
    f.dst = kDirected;
    f.eth_dst = MacAddr::broadcast();
    expect_drop(f, Drop::ipv4_unknown_protocol, "to broadcast: no error");
}

// ---------------------------------------------------------------- UDP

TEST_F(BadInput, UdpBadChecksumSilentlyDropped) {
    for (uint16_t port : {kOpenPort, kClosedPort}) {  // and no port unreachable
        Frame f = udp(port, pattern(11));
        f.bad_udp_checksum = true;
        expect_drop(f, Drop::udp_bad_checksum);
    }
    Frame unchecked = udp(kOpenPort, {5, 6});
    unchecked.fill_udp_checksum = false;  // zero: "not computed" (RFC 768)
    expect_delivered(unchecked, {5, 6});
}

TEST_F(BadInput, UdpLengthFieldInconsistentWithIpPayload) {
    for (uint16_t length : {0, 7, 12, 0xFFFF}) {  // IP payload is 11 bytes
        Frame f = udp(kOpenPort, {1, 2, 3});
        f.fill_udp_checksum = false;
        store_be16(f.l4.data() + 4, length);
        expect_drop(f, Drop::udp_bad_length);
    }
    Frame runt = udp(kOpenPort, {});
    runt.l4.resize(4);
    expect_drop(runt, Drop::udp_too_short);
    Frame trailing = udp(kOpenPort, {1, 2, 3});
    trailing.l4.insert(trailing.l4.end(), {9, 9, 9});  // past the UDP length: ignored
    expect_delivered(trailing, {1, 2, 3});
}

// ---------------------------------------------------------------- echo

TEST_F(BadInput, EchoReplyIsByteIdentical) {
    for (size_t size : {0, 1, 56, 57, 1472}) {
        Bytes data = pattern(size, static_cast<uint8_t>(size));
        Frame request = echo_request(data, 0x1234, static_cast<uint16_t>(size));
        request.tos = 0x10;
        auto replies = datagrams(exchange(request));
        ASSERT_EQ(replies.size(), 1u) << size;
        const Datagram& r = replies[0];
        EXPECT_EQ(r.src, kUs);
        EXPECT_EQ(r.dst, kPeer);
        Bytes expected = request.l4;
        expected[0] = uint8_t(IcmpType::echo_reply);
        store_be16(expected.data() + 2, 0);
        store_be16(expected.data() + 2, internet_checksum(expected));
        EXPECT_EQ(r.payload, expected) << size;
    }
}

TEST_F(BadInput, FragmentedEchoReassemblesToTheSameData) {
    Bytes data = pattern(4000, 3);
    Frame request = echo_request(data, 7, 9);
    auto replies = datagrams(exchange(fragments(request, 1480)));
    ASSERT_EQ(replies.size(), 1u) << drops_of(stack.stats());
    EXPECT_GE(replies[0].fragments, 3u);
    ASSERT_EQ(replies[0].payload.size(), 8 + data.size());
    EXPECT_EQ(replies[0].payload[0], uint8_t(IcmpType::echo_reply));
    EXPECT_EQ(load_be32(replies[0].payload.data() + 4), (7u << 16) | 9u);
    EXPECT_EQ(Bytes(replies[0].payload.begin() + 8, replies[0].payload.end()), data);
    EXPECT_EQ(internet_checksum(replies[0].payload), 0);
    EXPECT_EQ(pool.available(), baseline);
}

TEST_F(BadInput, BroadcastEchoIgnored) {
    for (Ipv4Addr dst : {Ipv4Addr::broadcast(), kDirected}) {
        Frame f = echo_request({1, 2});
        f.dst = dst;
        f.eth_dst = MacAddr::broadcast();
        expect_drop(f, Drop::icmp_broadcast_echo);
    }
}

// ---------------------------------------------------------------- garbage

class Garbage : public BadInput {
protected:
    Garbage() : BadInput(2000 - 18) {}  // frames up to 2000 bytes pass the link
};

TEST_F(Garbage, TwentyThousandMutatedFramesNeverCrashNorLeak) {
    Random r(20000);
    std::vector<Bytes> templates = {udp(kOpenPort, pattern(40)).build(), udp(kClosedPort, pattern(3)).build(),
                                    echo_request(pattern(64)).build(), arp(ArpOp::request, kTestMac, kPeer, kUs),
                                    icmp(3, 4, 1000, quoted_udp(kUs, kPeer, kOpenPort, 1)).build(),
                                    icmp(3, 3, 0, quoted_udp(kUs, kPeer, kOpenPort, 1)).build()};
    for (const Frame& f : fragments(udp(kOpenPort, pattern(3000)), 1480)) templates.push_back(f.build());
    // TCP too: a SYN with every option to a listener, to a closed port, and data.
    int listener = socket(stack, kAfInet, kSockStream);
    ASSERT_EQ(bind(stack, listener, SockAddr{Ipv4Addr{}, 8000}), 0);
    ASSERT_EQ(listen(stack, listener, 8), 0);
    TcpOptions all{.has_mss = true, .mss = 1460, .has_window_scale = true, .window_scale = 7,
                   .sack_permitted = true, .has_timestamps = true, .ts_val = 1, .ts_ecr = 0};
    auto segment = [](uint16_t port, uint8_t flags, const TcpOptions& options, const Bytes& data = {}) {
        return tcp({.src_port = 4000, .dst_port = port, .seq = 1, .ack = 7, .flags = flags, .window = 65535,
                    .urgent = 0, .options = options}, data).build();
    };
    templates.push_back(segment(8000, tcp_flags::syn, all));
    templates.push_back(segment(8001, tcp_flags::syn, {}));
    templates.push_back(segment(8000, tcp_flags::ack, {}, pattern(100)));
    Frame tagged = udp(kOpenPort, pattern(5));
    tagged.vlan_tci = 0;
    tagged.ip_options = {1, 1, 1, 1};
    templates.push_back(tagged.build());
    size_t sent_frames = 0;
    auto check_sent = [&](std::vector<Bytes> frames) {
        for (Bytes& f : frames) {
            ++sent_frames;
            EthernetView eth{f};
            ASSERT_FALSE(eth.check());
            EXPECT_EQ(eth.src(), kStackMac);
            if (eth.ethertype() != uint16_t(EtherType::ipv4)) continue;
            Ipv4View ip{eth.payload()};
            ASSERT_FALSE(ip.check());
            EXPECT_TRUE(ip.checksum_ok());
            EXPECT_NE(ip.ttl(), 0);
            EXPECT_TRUE(stack.is_local_address(ip.src()));
        }
    };
    Bytes sink;
    for (int i = 0; i < 20000; ++i) {
        Bytes f = mutated(r, templates);
        inject(f);
        if (i % 16 == 15) {
            pump();
            check_sent(drain());
        }
        if (i % 500 == 499) {
            clock.advance(r.below(3000) * kMillisecond);
            while (receive(fd, sink) >= 0) {
            }
        }
    }
    pump();
    check_sent(drain());
    // The noise reached every layer, not just the first checks.
    for (Counter c : {Counter::udp_rx, Counter::ipv4_reassembled, Counter::icmp_echo_replies,
                      Counter::icmp_errors_sent, Counter::icmp_errors_rx, Counter::arp_replies_sent,
                      Counter::tcp_segments_rx, Counter::tcp_resets_sent})
        EXPECT_GT(stack.stats()[c], 0u) << name(c);
    EXPECT_GT(sent_frames, 0u);
    run_for(65 * kSecond);  // reassembly, ARP retries and everything else times out
    while (receive(fd, sink) >= 0) {
    }
    exchange({arp(ArpOp::request, kTestMac, kPeer, kUs)});  // re-teach our MAC if noise changed it
    expect_still_works();
    EXPECT_EQ(pool.available(), baseline) << "leaked buffers; drops: " << drops_of(stack.stats());
}

}  // namespace
}  // namespace quasi::test
