// Byte-array build/parse tests for every header in stack/wire/ (STYLE.md item 12):
// known vectors from the RFCs, round trips through view and repr, and every length
// check of every view with the drop reason it must name.
#include "stack/buffer.hpp"
#include "stack/random.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quasi {
namespace {

using Bytes = std::vector<uint8_t>;

const MacAddr kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};
const MacAddr kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};
constexpr Ipv4Addr kIpA = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kIpB = Ipv4Addr::from_octets(198, 18, 0, 2);

// The RFC 1071 definition, written the slow obvious way, as the reference.
uint16_t reference_sum(const Bytes& b) {
    uint32_t sum = 0;
    for (size_t i = 0; i < b.size(); i += 2) sum += (uint32_t{b[i]} << 8) | (i + 1 < b.size() ? b[i + 1] : 0);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

Bytes random_bytes(Random& r, size_t n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(r.next());
    return b;
}

// `b` with byte `offset` set to `value`.
Bytes with(Bytes b, size_t offset, uint8_t value) {
    b[offset] = value;
    return b;
}

template <class View>
WireError check_of(Bytes b) {
    return View{b}.check();
}

// Every prefix of `good` shorter than `min` fails View::check() with `reason`.
template <class View>
void expect_prefixes_rejected(Bytes good, size_t min, Drop reason) {
    for (size_t n = 0; n < min; ++n) EXPECT_EQ(View(std::span(good).first(n)).check(), reason) << n << " bytes";
}

// ---------------------------------------------------------------- checksums

TEST(Checksum, Rfc1071Section3Example) {
    const Bytes b{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    ChecksumAccumulator acc;
    acc.add(b.data(), b.size());
    EXPECT_EQ(acc.folded(), 0xddf2);
    EXPECT_EQ(acc.finish(), 0x220d);
    EXPECT_EQ(internet_checksum(b), 0x220d);
}

TEST(Checksum, KnownIpv4HeaderVector) {
    Bytes h{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
            0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(internet_checksum(h), 0xb861);
    store_be16(h.data() + 10, 0xb861);
    ChecksumAccumulator acc;
    acc.add(h);
    EXPECT_EQ(acc.folded(), 0xFFFF);  // a header that verifies sums to all ones
    EXPECT_TRUE(Ipv4View{h}.checksum_ok());
}

TEST(Checksum, OddLengthsAndPiecewiseSumsMatchReference) {
    Random r(11);
    for (int round = 0; round < 300; ++round) {
        Bytes b = random_bytes(r, round < 64 ? size_t(round) : 1 + r.below(300));
        ChecksumAccumulator whole, pieces;
        whole.add(b);
        for (size_t at = 0; at < b.size();) {  // pieces of 1..7 bytes: most cut a word
            size_t n = std::min<size_t>(b.size() - at, 1 + r.below(7));
            pieces.add(b.data() + at, n);
            at += n;
        }
        EXPECT_EQ(whole.folded(), reference_sum(b)) << b.size();
        EXPECT_EQ(pieces.folded(), reference_sum(b)) << b.size();
    }
    EXPECT_EQ(internet_checksum(Bytes{0x00, 0x01, 0xf2}), static_cast<uint16_t>(~0xf201));
    // add16 after an odd number of bytes lands where those bytes would have.
    const Bytes b{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde};
    ChecksumAccumulator acc;
    acc.add(b.data(), 3);
    acc.add16(load_be16(b.data() + 3));
    acc.add(b.data() + 5, 2);
    EXPECT_EQ(acc.folded(), reference_sum(b));
}

// add_copy (the fused copy-and-sum kernel, 64-bit words) against the byte-wise
// reference: every length to 300 and long ones (the 32-byte loop), ranges starting at
// odd and even offsets, all-zero and all-ones data (0x0000 vs 0xFFFF), and the copy.
TEST(Checksum, CopyAndSumMatchesReferenceAndCopies) {
    Random r(12);
    for (int round = 0; round < 600; ++round) {
        size_t n = round < 300 ? size_t(round) : 1 + r.below(4000);
        Bytes b = random_bytes(r, n);
        if (round % 7 == 3) std::fill(b.begin(), b.end(), uint8_t{0});
        if (round % 7 == 5) std::fill(b.begin(), b.end(), uint8_t{0xFF});
        Bytes copy(n + 1, 0xA5);
        ChecksumAccumulator acc;
        for (size_t at = 0; at < n;) {  // copied pieces of 1..40 bytes, some summed in place
            size_t k = std::min<size_t>(n - at, 1 + r.below(40));
            if (r.below(3) == 0) {
                std::memcpy(copy.data() + at, b.data() + at, k);
                acc.add(b.data() + at, k);
            } else {
                acc.add_copy(copy.data() + at, b.data() + at, k);
            }
            at += k;
        }
        ASSERT_EQ(acc.folded(), reference_sum(b)) << n;
        ASSERT_TRUE(std::equal(b.begin(), b.end(), copy.begin())) << n;
        ASSERT_EQ(copy[n], 0xA5) << "wrote past the end, " << n;
        ChecksumAccumulator whole;
        Bytes one(n);
        whole.add_copy(one.data(), b.data(), n);
        ASSERT_EQ(whole.folded(), reference_sum(b)) << n;
    }
}

// The kernel's bulk loops (64-bit words; 64-byte vector turns where the CPU has
// AVX2) over long ranges at every source and destination alignment, and the
// two-destination copy of the TCP send path (checksum_copy2): same sum, both copies
// whole, nothing written past either end.
TEST(Checksum, LongRangesAtEveryAlignmentAndTheTwoDestinationCopy) {
    Random r(14);
    for (int round = 0; round < 400; ++round) {
        size_t n = round < 200 ? 56 + size_t(round) : 1 + r.below(3000);
        size_t src_at = r.below(8), dst_at = r.below(8), dst2_at = r.below(8);
        Bytes src = random_bytes(r, src_at + n);
        if (round % 5 == 1) std::fill(src.begin() + src_at, src.end(), uint8_t{0xFF});
        const Bytes b(src.begin() + src_at, src.end());
        Bytes one(dst_at + n + 1, 0xA5), two(dst2_at + n + 1, 0x5A), three(dst_at + n + 1, 0xA5);
        ChecksumAccumulator summed, copied, copied2;
        summed.add(src.data() + src_at, n);
        copied.add_copy(three.data() + dst_at, src.data() + src_at, n);
        copied2.add_copy2(one.data() + dst_at, two.data() + dst2_at, src.data() + src_at, n);
        ASSERT_EQ(summed.folded(), reference_sum(b)) << n;
        ASSERT_EQ(copied.folded(), reference_sum(b)) << n;
        ASSERT_EQ(copied2.folded(), reference_sum(b)) << n;
        ASSERT_TRUE(std::equal(b.begin(), b.end(), three.begin() + dst_at)) << n;
        ASSERT_TRUE(std::equal(b.begin(), b.end(), one.begin() + dst_at)) << n;
        ASSERT_TRUE(std::equal(b.begin(), b.end(), two.begin() + dst2_at)) << n;
        ASSERT_EQ(one.back(), 0xA5) << "wrote past the end, " << n;
        ASSERT_EQ(two.back(), 0x5A) << "wrote past the end, " << n;
        ASSERT_EQ(three.back(), 0xA5) << "wrote past the end, " << n;
    }
}

// The IPv4 header checksum is summed from the fields: a header emitted from random
// fields verifies.
TEST(Checksum, Ipv4HeaderFromFieldsVerifies) {
    Random r(13);
    for (int round = 0; round < 2000; ++round) {
        Bytes h(kIpv4MinHeaderLen);
        Ipv4Repr{.src = Ipv4Addr{uint32_t(r.next())},
                 .dst = Ipv4Addr{uint32_t(r.next())},
                 .protocol = uint8_t(r.next()),
                 .ttl = uint8_t(r.next()),
                 .tos = uint8_t(r.next()),
                 .ident = uint16_t(r.next()),
                 .dont_fragment = r.below(2) == 1,
                 .more_fragments = r.below(2) == 1,
                 .fragment_offset = uint16_t(r.below(8192) * 8),
                 .payload_len = uint16_t(r.below(65515))}
            .emit(h.data());
        ASSERT_EQ(reference_sum(h), 0xFFFF) << round;
        ASSERT_TRUE(Ipv4View{h}.checksum_ok()) << round;
    }
}

TEST(Checksum, PacketBufferChainEqualsContiguous) {
    BufferPool pool{{.count = 16, .data_room = 256, .headroom = 16}};
    Random r(3);
    for (int round = 0; round < 100; ++round) {
        Bytes all = random_bytes(r, 40 + r.below(200));
        // Segments of odd lengths so that most boundaries split a 16-bit word.
        PacketPtr head;
        for (size_t at = 0; at < all.size();) {
            size_t n = std::min<size_t>(all.size() - at, 1 + 2 * r.below(20));
            PacketPtr seg = pool.alloc();
            std::copy_n(all.data() + at, n, seg->append(n));
            if (head) chain_append(*head, std::move(seg));
            else head = std::move(seg);
            at += n;
        }
        ASSERT_EQ(head->chain_length(), all.size());
        ChecksumAccumulator chained;
        chained.add_chain(*head, 0, all.size());
        EXPECT_EQ(chained.folded(), reference_sum(all));
        size_t off = r.below(20), len = all.size() - off - r.below(20);
        ChecksumAccumulator part;
        part.add_chain(*head, off, len);
        EXPECT_EQ(part.folded(), reference_sum(Bytes(all.begin() + off, all.begin() + off + len)));
    }
    EXPECT_EQ(pool.available(), pool.capacity());
}

TEST(Checksum, Rfc1624ExampleWhereEqn2WouldFail) {
    // RFC 1624 section 4: sum of the other words 0xCD7A, m = 0x5555 -> m' = 0x3285.
    // The true new checksum is ~(0xCD7A + 0x3285) = ~0xFFFF = 0x0000; eqn 2 gave 0xFFFF.
    auto checksum_with = [](uint16_t m) {
        ChecksumAccumulator acc;
        acc.add16(0xCD7A);
        acc.add16(m);
        return acc.finish();
    };
    ASSERT_EQ(checksum_with(0x5555), 0xDD2F);
    ASSERT_EQ(checksum_with(0x3285), 0x0000);
    EXPECT_EQ(checksum_update16(0xDD2F, 0x5555, 0x3285), 0x0000);
    EXPECT_EQ(checksum_update16(0x0000, 0x3285, 0x5555), 0xDD2F);  // and back
}

uint16_t header_checksum(Bytes h) {
    store_be16(h.data() + 10, 0);
    return internet_checksum(h);
}

TEST(Checksum, IncrementalUpdateEqualsRecomputationOverRandomHeaders) {
    Random r(1624);
    const uint16_t corners[] = {0x0000, 0xFFFF, 0x0001, 0xFFFE, 0x8000};  // the RFC 1624 section 3 cases
    auto corner_or_random = [&](bool corner) { return corner ? corners[r.below(5)] : static_cast<uint16_t>(r.next()); };
    for (int round = 0; round < 20000; ++round) {
        Bytes h = random_bytes(r, 20);
        h[0] = 0x45;  // a real header is never all zero, the one case eqn 3 cannot mirror
        size_t word = 2 + 2 * r.below(9);
        if (word == 10) word = 8;  // not the checksum field itself
        store_be16(h.data() + word, corner_or_random(round % 3 == 0));
        store_be16(h.data() + 10, header_checksum(h));
        if (round % 2) {  // one 16-bit word
            uint16_t old_word = load_be16(h.data() + word), new_word = corner_or_random(round % 4 == 1);
            uint16_t incremental = checksum_update16(load_be16(h.data() + 10), old_word, new_word);
            store_be16(h.data() + word, new_word);
            ASSERT_EQ(incremental, header_checksum(h)) << "round " << round << " word " << word;
        } else {  // a 32-bit address, as NAT rewrites it
            uint32_t old_src = load_be32(h.data() + 12);
            uint32_t new_src = (uint32_t{corner_or_random(round % 4 == 0)} << 16) | corner_or_random(round % 8 == 0);
            uint16_t incremental = checksum_update32(load_be16(h.data() + 10), old_src, new_src);
            store_be32(h.data() + 12, new_src);
            ASSERT_EQ(incremental, header_checksum(h)) << "round " << round;
        }
    }
}

TEST(Checksum, PseudoHeaderMatchesRfc768Layout) {
    Bytes pseudo(12);
    kIpA.store_to(pseudo.data());
    kIpB.store_to(pseudo.data() + 4);
    pseudo[9] = 17;
    store_be16(pseudo.data() + 10, 1234);
    ChecksumAccumulator acc;
    add_pseudo_header(acc, kIpA, kIpB, 17, 1234);
    EXPECT_EQ(acc.folded(), reference_sum(pseudo));
}

// ---------------------------------------------------------------- addresses

TEST(Addresses, ParseAndFormat) {
    Ipv4Addr a = kIpB;
    ASSERT_TRUE(parse_ipv4("198.18.0.1", a));
    EXPECT_EQ(a.value, 0xC6120001u);
    ASSERT_TRUE(parse_ipv4("255.255.255.255", a));
    EXPECT_TRUE(a.is_broadcast());
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "a.b.c.d",
                            "1.2.3.-4", "0001.2.3.4", "1.2.3.4."}) {
        a = kIpB;
        EXPECT_FALSE(parse_ipv4(bad, a)) << bad;
        EXPECT_EQ(a, kIpB) << "a failed parse must not write: " << bad;
    }
    char buf[18];
    EXPECT_STREQ(format(Ipv4Addr::broadcast(), buf, sizeof buf), "255.255.255.255");
    EXPECT_STREQ(format(kIpA, buf, sizeof buf), "198.18.0.1");
    MacAddr m;
    ASSERT_TRUE(parse_mac("02:00:00:00:00:0a", m));
    EXPECT_EQ(m, kMacA);
    ASSERT_TRUE(parse_mac("FF:ff:Ff:fF:ff:ff", m));
    EXPECT_TRUE(m.is_broadcast());
    for (const char* bad : {"", "02:00:00:00:00", "02:00:00:00:00:0a:", "02-00-00-00-00-0a", "0g:00:00:00:00:00",
                            "2:00:00:00:00:0a", "02:00:00:00:00:0a0"})
        EXPECT_FALSE(parse_mac(bad, m)) << bad;
    EXPECT_STREQ(format(MacAddr{{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}}, buf, sizeof buf), "de:ad:be:ef:00:01");
    EXPECT_TRUE((MacAddr{{0x01, 0x00, 0x5e, 0, 0, 1}}).is_multicast());
    EXPECT_FALSE(kMacA.is_multicast());
}

// ---------------------------------------------------------------- Ethernet

TEST(Ethernet, RoundTripWithAndWithout8021QTag) {
    for (bool tagged : {false, true}) {
        EthernetRepr r{kMacB, kMacA, uint16_t(EtherType::arp), tagged, 0xA00F};  // PCP 5, VID 15
        Bytes f(r.header_len() + 2, 0xEE);
        r.emit(f.data());
        Bytes tail = tagged ? Bytes{0x81, 0x00, 0xA0, 0x0F, 0x08, 0x06} : Bytes{0x08, 0x06};
        EXPECT_EQ(Bytes(f.begin() + 12, f.end() - 2), tail);
        EXPECT_EQ(Bytes(f.begin(), f.begin() + 12), (Bytes{2, 0, 0, 0, 0, 0x0b, 2, 0, 0, 0, 0, 0x0a}));
        EthernetView v{f};
        ASSERT_FALSE(v.check());
        EXPECT_EQ(v.header_len(), tagged ? 18u : 14u);
        EXPECT_EQ(v.payload().size(), 2u);
        EthernetRepr back = EthernetRepr::parse(v);
        EXPECT_EQ(back.dst, kMacB);
        EXPECT_EQ(back.src, kMacA);
        EXPECT_EQ(back.ethertype, 0x0806);
        EXPECT_EQ(back.vlan, tagged);
        EXPECT_EQ(back.vlan_tci, tagged ? 0xA00F : 0);
    }
}

TEST(Ethernet, CheckRejectsShortFrames) {
    Bytes tagged(18);
    EthernetRepr{kMacB, kMacA, 0x0800, true, 1}.emit(tagged.data());
    expect_prefixes_rejected<EthernetView>(tagged, 18, Drop::eth_too_short);  // 14..17 for the tag
    EXPECT_FALSE(EthernetView{tagged}.check());
}

// ---------------------------------------------------------------- ARP

TEST(Arp, EmitMatchesRfc826LayoutAndParsesBack) {
    Bytes b(kArpLen);
    ArpRepr{ArpOp::request, kMacA, kIpA, MacAddr{}, kIpB}.emit(b.data());
    EXPECT_EQ(b, (Bytes{0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, 0x02, 0, 0, 0, 0, 0x0a, 198, 18, 0, 1, 0, 0, 0, 0, 0,
                        0, 198, 18, 0, 2}));
    ArpView v{b};
    ASSERT_FALSE(v.check());
    ArpRepr r = ArpRepr::parse(v);
    EXPECT_EQ(r.op, ArpOp::request);
    EXPECT_EQ(r.sender_mac, kMacA);
    EXPECT_EQ(r.sender_ip, kIpA);
    EXPECT_TRUE(r.target_mac.is_zero());
    EXPECT_EQ(r.target_ip, kIpB);
}

TEST(Arp, CheckRejectsEachBadField) {
    Bytes good(kArpLen);
    ArpRepr{ArpOp::reply, kMacA, kIpA, kMacB, kIpB}.emit(good.data());
    expect_prefixes_rejected<ArpView>(good, kArpLen, Drop::arp_too_short);
    EXPECT_EQ(check_of<ArpView>(with(good, 1, 6)), Drop::arp_unsupported);     // hardware type 6 (IEEE 802)
    EXPECT_EQ(check_of<ArpView>(with(good, 2, 0x86)), Drop::arp_unsupported);  // protocol type 0x8600
    EXPECT_EQ(check_of<ArpView>(with(good, 4, 8)), Drop::arp_unsupported);     // hardware length
    EXPECT_EQ(check_of<ArpView>(with(good, 5, 16)), Drop::arp_unsupported);    // protocol length
    EXPECT_EQ(check_of<ArpView>(with(good, 7, 0)), Drop::arp_bad_opcode);
    EXPECT_EQ(check_of<ArpView>(with(good, 7, 3)), Drop::arp_bad_opcode);      // RARP request
    Bytes padded = good;
    padded.resize(46, 0);  // Ethernet minimum-size padding is fine
    EXPECT_FALSE(ArpView{padded}.check());
}

// ---------------------------------------------------------------- IPv4

TEST(Ipv4, EmitReproducesKnownHeaderAndParsesBack) {
    Ipv4Repr r{.src = Ipv4Addr::from_octets(192, 168, 0, 1), .dst = Ipv4Addr::from_octets(192, 168, 0, 199),
               .protocol = 17, .ttl = 64, .ident = 0, .dont_fragment = true, .payload_len = 0x73 - 20};
    Bytes h(r.buffer_len());
    r.emit(h.data());
    EXPECT_EQ(Bytes(h.begin(), h.begin() + 20), (Bytes{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                                       0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}));
    Ipv4Repr back;
    ASSERT_FALSE(Ipv4View{h}.check());
    ASSERT_FALSE(Ipv4Repr::parse(Ipv4View{h}, back));
    EXPECT_EQ(back.src, r.src);
    EXPECT_EQ(back.dst, r.dst);
    EXPECT_EQ(back.protocol, 17);
    EXPECT_EQ(back.ttl, 64);
    EXPECT_TRUE(back.dont_fragment);
    EXPECT_FALSE(back.more_fragments);
    EXPECT_EQ(back.payload_len, 0x73 - 20);
    // Fragment fields, TOS and identification too.
    r = {.src = kIpA, .dst = kIpB, .protocol = 1, .ttl = 1, .tos = 0xb8, .ident = 0xBEEF, .more_fragments = true,
         .fragment_offset = 8 * 8191, .payload_len = 8};
    h.assign(r.buffer_len(), 0);
    r.emit(h.data());
    Ipv4View v{h};
    EXPECT_EQ(v.fragment_offset(), 65528u);
    EXPECT_TRUE(v.more_fragments() && v.is_fragment() && !v.dont_fragment());
    EXPECT_EQ(v.ident(), 0xBEEF);
    EXPECT_EQ(v.tos(), 0xb8);
    ASSERT_FALSE(Ipv4Repr::parse(v, back));
    EXPECT_EQ(back.fragment_offset, 65528);
    EXPECT_TRUE(back.more_fragments);
    EXPECT_EQ(back.ttl, 1);
}

TEST(Ipv4, HeaderWithOptions) {
    // IHL 7: a Record Route option (type 7, length 7, pointer 4, one slot) + EOL,
    // 3 bytes of payload and 2 of link padding.
    Bytes h = {0x47, 0, 0, 31, 0, 1, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, 7, 7, 4, 0, 0, 0, 0, 0,
               0xAB, 0xAB, 0xAB, 0xEE, 0xEE};
    Ipv4View v{h};
    v.fill_checksum();
    ASSERT_FALSE(v.check());
    EXPECT_EQ(v.header_len(), 28u);
    EXPECT_EQ(v.header().size(), 28u);
    EXPECT_EQ(v.payload().size(), 3u);  // link padding cut off
    Ipv4Repr r;
    ASSERT_FALSE(Ipv4Repr::parse(v, r));
    EXPECT_EQ(r.payload_len, 3);
    h[21] ^= 1;  // an option byte is covered by the checksum
    EXPECT_EQ(Ipv4Repr::parse(v, r), Drop::ipv4_bad_checksum);
    EXPECT_FALSE(Ipv4Repr::parse(v, r, /*verify_checksum=*/false));
}

Bytes valid_ipv4(size_t payload = 4) {
    Bytes h(20 + payload);
    Ipv4Repr{.src = kIpA, .dst = kIpB, .protocol = 17, .payload_len = static_cast<uint16_t>(payload)}.emit(h.data());
    return h;
}

TEST(Ipv4, CheckRejectsEachBadLength) {
    Bytes good = valid_ipv4();  // 24 bytes
    expect_prefixes_rejected<Ipv4View>(good, 20, Drop::ipv4_too_short);
    for (uint8_t version : {0, 1, 5, 6, 15})
        EXPECT_EQ(check_of<Ipv4View>(with(good, 0, uint8_t(version << 4 | 5))), Drop::ipv4_bad_version) << int(version);
    for (uint8_t ihl : {0, 1, 4, 7, 15})  // below 5, or beyond the 24 bytes there are
        EXPECT_EQ(check_of<Ipv4View>(with(good, 0, uint8_t(0x40 | ihl))), Drop::ipv4_bad_header_length) << int(ihl);
    for (uint16_t total : {0, 19, 25, 0xFFFF}) {  // below the header, beyond the bytes
        Bytes b = good;
        store_be16(b.data() + 2, total);
        EXPECT_EQ(Ipv4View{b}.check(), Drop::ipv4_bad_total_length) << total;
    }
    Bytes options = with(valid_ipv4(8), 0, 0x46);
    store_be16(options.data() + 2, 22);  // covers the 20-byte base but not IHL 6
    EXPECT_EQ(Ipv4View{options}.check(), Drop::ipv4_bad_total_length);
    Bytes header_only = valid_ipv4(0);
    EXPECT_FALSE(Ipv4View{header_only}.check());
}

TEST(Ipv4, ParseRejectsBadChecksumAndEveryInvalidSource) {
    Bytes good = valid_ipv4();
    Ipv4Repr r;
    for (size_t byte = 0; byte < 20; ++byte) {
        if (byte == 0 || byte == 2 || byte == 3) continue;  // would fail check() first
        Bytes b = good;
        b[byte] ^= 0x10;
        EXPECT_EQ(Ipv4Repr::parse(Ipv4View{b}, r), Drop::ipv4_bad_checksum) << byte;
    }
    for (Ipv4Addr src : {Ipv4Addr::broadcast(), Ipv4Addr::from_octets(224, 0, 0, 251),
                         Ipv4Addr::from_octets(239, 255, 255, 250), Ipv4Addr::from_octets(0, 0, 0, 0),
                         Ipv4Addr::from_octets(0, 9, 9, 9), Ipv4Addr::from_octets(240, 0, 0, 1),
                         Ipv4Addr::from_octets(254, 1, 2, 3)}) {
        Bytes b = good;
        Ipv4View v{b};
        v.set_src(src);
        v.fill_checksum();
        EXPECT_EQ(Ipv4Repr::parse(v, r), Drop::ipv4_bad_source) << src.value;
    }
}

// ---------------------------------------------------------------- ICMP

TEST(Icmp, EchoAndFragmentationNeededFields) {
    Bytes m{8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 'h', 'e', 'l', 'l', 'o'};
    IcmpView v{m};
    ASSERT_FALSE(v.check());
    v.fill_checksum();
    EXPECT_TRUE(v.checksum_ok());
    EXPECT_EQ(v.checksum(), internet_checksum(Bytes{8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 'h', 'e', 'l', 'l', 'o'}));
    EXPECT_EQ(v.type(), uint8_t(IcmpType::echo_request));
    EXPECT_EQ(v.echo_ident(), 0x1234);
    EXPECT_EQ(v.echo_seq(), 7);
    EXPECT_EQ(v.body().size(), 5u);
    m.back() ^= 0xFF;
    EXPECT_FALSE(v.checksum_ok());
    Bytes e(8 + 28, 0);
    IcmpView err{e};
    err.set_type(uint8_t(IcmpType::dest_unreachable));
    err.set_code(uint8_t(IcmpUnreachCode::frag_needed));
    err.set_rest(1400);
    err.fill_checksum();
    EXPECT_EQ(err.next_hop_mtu(), 1400);  // RFC 1191 4: low 16 bits of the second word
    EXPECT_TRUE(err.checksum_ok());
    EXPECT_EQ(err.body().size(), 28u);
}

TEST(Icmp, ErrorTypesAndShortMessages) {
    for (uint8_t t : {3, 4, 5, 11, 12}) EXPECT_TRUE(is_icmp_error(t)) << int(t);
    for (uint8_t t : {0, 8, 13, 14, 255}) EXPECT_FALSE(is_icmp_error(t)) << int(t);
    expect_prefixes_rejected<IcmpView>(Bytes(8), kIcmpHeaderLen, Drop::icmp_too_short);
}

// ---------------------------------------------------------------- UDP

// The sum of a transport segment from kIpA to kIpB with its pseudo-header.
ChecksumAccumulator transport_sum(const Bytes& d, uint8_t protocol = 17) {
    ChecksumAccumulator acc;
    add_pseudo_header(acc, kIpA, kIpB, protocol, static_cast<uint16_t>(d.size()));
    acc.add(d);
    return acc;
}

Bytes udp_datagram(const Bytes& payload, uint16_t sport = 5000, uint16_t dport = 6000) {
    UdpRepr r{sport, dport, static_cast<uint16_t>(payload.size())};
    Bytes d(r.buffer_len());
    r.emit(d.data());
    std::copy(payload.begin(), payload.end(), d.begin() + 8);
    store_be16(d.data() + 6, UdpRepr::finish_checksum(transport_sum(d)));
    return d;
}

TEST(Udp, RoundTripWithChecksum) {
    Bytes d = udp_datagram({1, 2, 3, 4, 5});
    EXPECT_EQ(Bytes(d.begin(), d.begin() + 6), (Bytes{0x13, 0x88, 0x17, 0x70, 0x00, 0x0d}));
    UdpView v{d};
    ASSERT_FALSE(v.check());
    EXPECT_EQ(v.src_port(), 5000);
    EXPECT_EQ(v.dst_port(), 6000);
    EXPECT_EQ(v.length(), 13);
    EXPECT_EQ(v.payload().size(), 5u);
    EXPECT_TRUE(v.checksum_ok(kIpA, kIpB));
    EXPECT_FALSE(v.checksum_ok(kIpA, Ipv4Addr::from_octets(198, 18, 0, 3)));  // pseudo-header counts
    d[9] ^= 0x40;
    EXPECT_FALSE(v.checksum_ok(kIpA, kIpB));
    store_be16(d.data() + 6, 0);  // RFC 768: zero means "not computed"
    EXPECT_TRUE(v.checksum_ok(kIpA, kIpB));
}

TEST(Udp, ComputedZeroChecksumIsSentAsAllOnes) {
    // Choose the last payload word so the one's-complement sum is 0xFFFF: the
    // computed checksum is then 0, which RFC 768 transmits as 0xFFFF.
    Bytes d = udp_datagram({0, 0});
    store_be16(d.data() + 6, 0);
    store_be16(d.data() + 8, static_cast<uint16_t>(~transport_sum(d).folded()));
    ASSERT_EQ(transport_sum(d).finish(), 0);
    EXPECT_EQ(UdpRepr::finish_checksum(transport_sum(d)), 0xFFFF);
    store_be16(d.data() + 6, 0xFFFF);
    EXPECT_TRUE(UdpView{d}.checksum_ok(kIpA, kIpB));
}

TEST(Udp, CheckRejectsEachBadLength) {
    Bytes d = udp_datagram({9, 9, 9, 9});
    expect_prefixes_rejected<UdpView>(d, kUdpHeaderLen, Drop::udp_too_short);
    for (uint16_t len : {0, 7, 13, 0xFFFF}) {
        Bytes b = d;
        store_be16(b.data() + 4, len);
        EXPECT_EQ(UdpView{b}.check(), Drop::udp_bad_length) << len;
    }
    Bytes longer = d;
    longer.resize(d.size() + 6, 0xEE);  // IP payload longer than the UDP length: bytes ignored
    UdpView v{longer};
    ASSERT_FALSE(v.check());
    EXPECT_EQ(v.payload().size(), 4u);
    EXPECT_TRUE(v.checksum_ok(kIpA, kIpB));
}

// ---------------------------------------------------------------- TCP

TcpOptions all_options() {
    return {.has_mss = true, .mss = 1460, .has_window_scale = true, .window_scale = 7, .sack_permitted = true,
            .has_timestamps = true, .ts_val = 0x01020304, .ts_ecr = 0xA0B0C0D0};
}

// Same options: what emit() writes for them is the same.
void expect_same(const TcpOptions& a, const TcpOptions& b) {
    Bytes ea(a.emitted_len()), eb(b.emitted_len());
    a.emit(ea.data());
    b.emit(eb.data());
    EXPECT_EQ(ea, eb);
}

Bytes emit_segment(const TcpRepr& r, size_t payload = 0) {
    Bytes s(r.header_len() + payload, 0x5A);
    r.emit(s.data());
    return s;
}

TEST(Tcp, SynOptionsEmitLikeLinuxAndParseBack) {
    TcpRepr r{.src_port = 40000, .dst_port = 80, .seq = 0x11223344, .ack = 0, .flags = tcp_flags::syn,
              .window = 64240, .urgent = 0, .options = all_options()};
    ASSERT_EQ(r.header_len(), 40u);
    Bytes s = emit_segment(r);
    EXPECT_EQ(Bytes(s.begin() + 20, s.end()),
              (Bytes{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD0}));
    TcpView v{s};
    ASSERT_FALSE(v.check());
    EXPECT_EQ(v.header_len(), 40u);
    EXPECT_EQ(v.flags(), tcp_flags::syn);
    TcpRepr back;
    ASSERT_FALSE(TcpRepr::parse(v, back));
    EXPECT_EQ(back.src_port, 40000);
    EXPECT_EQ(back.dst_port, 80);
    EXPECT_EQ(back.seq, 0x11223344u);
    EXPECT_EQ(back.window, 64240);
    expect_same(back.options, r.options);
}

TEST(Tcp, EveryOptionCombinationRoundTrips) {
    for (unsigned mask = 0; mask < 32; ++mask) {
        TcpOptions o{.has_mss = bool(mask & 1), .mss = 536, .has_window_scale = bool(mask & 2), .window_scale = 14,
                     .sack_permitted = bool(mask & 4), .has_timestamps = bool(mask & 8), .ts_val = 77, .ts_ecr = 88};
        if (mask & 16) {
            // RFC 2018: 3 blocks fit beside timestamps, 4 without.
            o.sack_count = o.has_timestamps || o.has_mss || o.has_window_scale ? 2 : 4;
            for (uint8_t i = 0; i < o.sack_count; ++i) o.sacks[i] = {1000u * i, 1000u * i + 500};
        }
        EXPECT_EQ(o.emitted_len() % 4, 0u) << mask;
        TcpRepr r{.src_port = 1, .dst_port = 2, .seq = 3, .ack = 4, .flags = tcp_flags::ack, .options = o};
        Bytes s = emit_segment(r, 3);
        TcpView v{s};
        ASSERT_FALSE(v.check()) << mask;
        EXPECT_EQ(v.payload().size(), 3u);
        TcpRepr back;
        ASSERT_FALSE(TcpRepr::parse(v, back)) << mask;
        expect_same(back.options, o);
    }
}

TEST(Tcp, HeaderNeverExceedsSixtyBytes) {
    // Timestamps plus four SACK blocks need 48 option bytes; only 40 fit (RFC 2018 3:
    // at most 3 blocks beside timestamps). emit must not write an unencodable header.
    TcpRepr r{.flags = tcp_flags::ack, .options = all_options()};
    r.options.sack_count = 4;
    EXPECT_LE(r.header_len(), kTcpMaxHeaderLen) << "BUG: options need " << r.options.emitted_len() << " bytes";
    Bytes s(80, 0);
    r.emit(s.data());
    EXPECT_EQ(TcpView{s}.header_len(), r.header_len()) << "data offset field cannot hold the header length";
}

TEST(Tcp, ChecksumOverPseudoHeader) {
    TcpRepr r{.src_port = 5, .dst_port = 6, .seq = 7, .flags = tcp_flags::ack | tcp_flags::psh, .window = 100,
              .options = {}};
    Bytes s = emit_segment(r, 5);
    store_be16(s.data() + 16, transport_sum(s, 6).finish());
    TcpView v{s};
    EXPECT_TRUE(v.checksum_ok(kIpA, kIpB));
    EXPECT_FALSE(v.checksum_ok(kIpA, Ipv4Addr::from_octets(198, 18, 0, 3)));
    s.back() ^= 1;
    EXPECT_FALSE(v.checksum_ok(kIpA, kIpB));
}

TEST(Tcp, CheckRejectsShortSegmentsAndBadDataOffset) {
    Bytes s = emit_segment(TcpRepr{.flags = tcp_flags::syn, .options = {}});
    expect_prefixes_rejected<TcpView>(s, kTcpMinHeaderLen, Drop::tcp_too_short);
    for (uint8_t offset : {0, 1, 4, 6, 15})  // below 5, or past the 20 bytes there are
        EXPECT_EQ(check_of<TcpView>(with(s, 12, uint8_t(offset << 4))), Drop::tcp_bad_data_offset) << int(offset);
}

WireError parse_options(Bytes opts, TcpOptions& out) { return TcpOptions::parse(opts, out); }

TEST(Tcp, MalformedOptionsAreRejectedWithoutLooping) {
    TcpOptions o;
    const std::vector<Bytes> bad = {
        {2, 0, 0, 0}, {2, 1, 0, 0},     // length 0 (a naive parser loops forever here) and 1
        {0x1e, 0, 1, 1}, {0xfe, 1},     // unknown kinds with length 0 and 1
        {1, 1, 1, 2},                   // a kind with no room for its length byte
        {8, 10, 0, 0}, {1, 2, 40, 0},   // running past the end
        {2, 3, 5, 1}, {2, 5, 5, 0xb4, 0}, {3, 2, 1, 1}, {3, 4, 7, 0}, {4, 3, 0, 1},  // MSS, WS, SACK-OK lengths
        {5, 9, 0, 0, 0, 0, 0, 0, 0}, {8, 9, 0, 0, 0, 0, 0, 0, 0},  // SACK not 2 + 8n, timestamps not 10
    };
    for (const Bytes& b : bad) EXPECT_EQ(parse_options(b, o), Drop::tcp_bad_option) << int(b[0]) << "," << int(b[1]);
    // Through the segment parser too: a SYN whose only option has length 0.
    Bytes s = {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 6 << 4, tcp_flags::syn, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0};
    TcpRepr r;
    EXPECT_EQ(TcpRepr::parse(TcpView{s}, r), Drop::tcp_bad_option);
}

TEST(Tcp, UnknownOptionsSkippedAndEndOfListStopsParsing) {
    TcpOptions o;
    ASSERT_FALSE(parse_options({30, 4, 0xAA, 0xBB, 2, 4, 0x02, 0x18}, o));  // unknown kind 30
    EXPECT_TRUE(o.has_mss);
    EXPECT_EQ(o.mss, 536);
    ASSERT_FALSE(parse_options({1, 1, 0, 2, 0, 0xFF}, o));  // EOL: the garbage after it is padding
    EXPECT_FALSE(o.has_mss);
    ASSERT_FALSE(parse_options({}, o));
    ASSERT_FALSE(parse_options({1, 1, 1, 1}, o));
}

TEST(Tcp, SackBlocksParsedAndCappedAtFour) {
    Bytes opts{1, 1, 5, 34};
    opts.resize(36);
    for (uint32_t i = 0; i < 4; ++i) {
        store_be32(opts.data() + 4 + 8 * i, 100 * i);
        store_be32(opts.data() + 8 + 8 * i, 100 * i + 50);
    }
    TcpOptions o;
    ASSERT_FALSE(parse_options(opts, o));
    ASSERT_EQ(o.sack_count, 4);
    EXPECT_EQ(o.sacks[3].left, 300u);
    EXPECT_EQ(o.sacks[3].right, 350u);
    // Two SACK options: blocks beyond the fourth are ignored, not written out of bounds.
    Bytes twice = Bytes(opts.begin() + 2, opts.end());
    twice.insert(twice.end(), {5, 10, 0, 0, 0, 1, 0, 0, 0, 2});
    ASSERT_FALSE(parse_options(twice, o));
    EXPECT_EQ(o.sack_count, 4);
}

TEST(Tcp, WindowScaleAbove14IsClamped) {
    for (unsigned shift : {0u, 7u, 14u, 15u, 16u, 100u, 255u}) {
        TcpOptions o;
        ASSERT_FALSE(parse_options({3, 3, static_cast<uint8_t>(shift), 1}, o)) << shift;
        EXPECT_TRUE(o.has_window_scale);
        EXPECT_EQ(o.window_scale, std::min(shift, 14u)) << shift;
    }
    TcpOptions o;  // MSS 0 parses as 0: clamping it is the connection's job
    ASSERT_FALSE(parse_options({2, 4, 0, 0}, o));
    EXPECT_TRUE(o.has_mss && o.mss == 0);
}

}  // namespace
}  // namespace quasi
