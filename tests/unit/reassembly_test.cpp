// IPv4 reassembly driven by crafted fragments (lwIP tcp_helper style builders): every
// order, every defence of bad-inputs.md, and a seeded randomized property test.
#include "stack/reassembly.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace quasi {
namespace {

constexpr Ipv4Addr kSrc = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kDst = Ipv4Addr::from_octets(198, 18, 0, 2);

struct Original {
    Ipv4Repr repr;  // the unfragmented datagram
    std::vector<uint8_t> payload;
};

struct Piece {
    size_t offset;
    size_t len;
    bool more;
};

Original make_original(std::mt19937& rng, size_t size, uint16_t ident, uint8_t protocol = 17) {
    Original o{{.src = kSrc, .dst = kDst, .protocol = protocol, .ident = ident}, std::vector<uint8_t>(size)};
    o.repr.payload_len = static_cast<uint16_t>(size);
    for (auto& b : o.payload) b = static_cast<uint8_t>(rng());
    return o;
}

// One fragment of `o` as it would arrive: header from Ipv4Repr::emit, data (junk past
// the original's end, for hostile offsets), then optional link padding.
PacketPtr build(BufferPool& pool, const Original& o, Piece p, size_t padding = 0) {
    PacketPtr f = pool.alloc();
    uint8_t* d = f->append(kIpv4MinHeaderLen + p.len + padding);
    Ipv4Repr r = o.repr;
    r.fragment_offset = static_cast<uint16_t>(p.offset);
    r.payload_len = static_cast<uint16_t>(p.len);
    r.more_fragments = p.more;
    r.emit(d);
    std::memset(d + kIpv4MinHeaderLen, 0xAB, p.len + padding);
    if (p.offset < o.payload.size()) {
        std::memcpy(d + kIpv4MinHeaderLen, o.payload.data() + p.offset,
                    std::min(p.len, o.payload.size() - p.offset));
    }
    return f;
}

// The receive path's parse, then the reassembler.
PacketPtr feed(Reassembler& r, PacketPtr f, TimeNs now) {
    Ipv4View v(f->bytes());
    EXPECT_FALSE(v.check());
    Ipv4Repr repr;
    EXPECT_FALSE(Ipv4Repr::parse(v, repr));
    return r.add(std::move(f), repr, now);
}

// Random cut points on 8-byte boundaries: every piece <= max_piece, at most max_count.
std::vector<Piece> split(std::mt19937& rng, size_t size, size_t max_piece, size_t max_count) {
    if (size <= 8) return {{0, size, false}};
    const size_t min_n = std::max<size_t>(2, (size + max_piece - 1) / max_piece);
    const size_t n = std::uniform_int_distribution<size_t>(min_n, std::min(max_count, (size + 7) / 8))(rng);
    std::vector<Piece> pieces;
    size_t offset = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
        const size_t remaining = size - offset, after = n - 1 - i;
        const size_t lo = std::max<size_t>(8, remaining > max_piece * after ? remaining - max_piece * after : 0);
        const size_t hi = std::min(max_piece, remaining - 8 * after + 7);
        const size_t len = 8 * std::uniform_int_distribution<size_t>((lo + 7) / 8, hi / 8)(rng);
        pieces.push_back({offset, len, true});
        offset += len;
    }
    pieces.push_back({offset, size - offset, false});
    return pieces;
}

std::vector<Piece> even_split(size_t size, size_t piece) {
    std::vector<Piece> pieces;
    for (size_t off = 0; off < size; off += piece) pieces.push_back({off, std::min(piece, size - off), true});
    pieces.back().more = false;
    return pieces;
}

void expect_intact(const PacketPtr& whole, const Original& o) {
    ASSERT_TRUE(whole);
    std::vector<uint8_t> expected(kIpv4MinHeaderLen + o.payload.size());
    o.repr.emit(expected.data());
    std::copy(o.payload.begin(), o.payload.end(), expected.begin() + kIpv4MinHeaderLen);
    std::vector<uint8_t> got(whole->chain_length());
    whole->copy_out(0, got.data(), got.size());
    EXPECT_EQ(got, expected);
    EXPECT_TRUE(Ipv4View(whole->bytes()).checksum_ok());
    for (const PacketBuffer* s = whole.get(); s; s = s->next_segment) EXPECT_GT(s->length, 0u);
}

class ReassemblyTest : public ::testing::Test {
protected:
    BufferPool pool{{.count = 256, .data_room = 2048, .headroom = 128}};
    Stats stats;
    std::mt19937 rng{1};
    TimeNs now = kSecond;
    std::unique_ptr<Reassembler> reasm = std::make_unique<Reassembler>(Reassembler::Config{}, stats);

    void configure(const Reassembler::Config& c) { reasm = std::make_unique<Reassembler>(c, stats); }
    PacketPtr send(const Original& o, Piece p, size_t padding = 0) {
        return feed(*reasm, build(pool, o, p, padding), now);
    }
    // Sends pieces in the given order; only the last may complete the datagram.
    PacketPtr send_all(const Original& o, const std::vector<Piece>& pieces) {
        for (size_t i = 0; i + 1 < pieces.size(); ++i) EXPECT_FALSE(send(o, pieces[i]));
        return send(o, pieces.back());
    }
    void expect_nothing_held() {
        EXPECT_EQ(reasm->datagrams_in_progress(), 0u);
        EXPECT_EQ(reasm->bytes_held(), 0u);
        EXPECT_EQ(pool.available(), pool.capacity());
    }
    // The destructor must hand back whatever is still held.
    void TearDown() override {
        reasm.reset();
        EXPECT_EQ(pool.available(), pool.capacity());
    }
};

TEST_F(ReassemblyTest, InOrder) {
    const Original o = make_original(rng, 4000, 1);
    PacketPtr whole = send_all(o, even_split(4000, 1480));
    expect_intact(whole, o);
    EXPECT_EQ(whole->length, kIpv4MinHeaderLen + 1480);  // first fragment, header kept
    EXPECT_EQ(whole->next_segment->length, 1480u);      // later ones: payload only
    EXPECT_EQ(whole->next_segment->next_segment->length, 1040u);
    EXPECT_EQ(stats[Counter::ipv4_reassembled], 1u);
    EXPECT_EQ(stats.total_drops(), 0u);
    whole.reset();
    expect_nothing_held();
}

TEST_F(ReassemblyTest, ReverseOrder) {
    const Original o = make_original(rng, 5001, 2);
    auto pieces = even_split(5001, 1000);
    std::reverse(pieces.begin(), pieces.end());
    expect_intact(send_all(o, pieces), o);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, RandomOrderSeveralSeeds) {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        std::mt19937 r(seed);
        const size_t size = std::uniform_int_distribution<size_t>(9, 30000)(r);
        const Original o = make_original(r, size, static_cast<uint16_t>(seed));
        auto pieces = split(r, size, 1480, 64);
        std::shuffle(pieces.begin(), pieces.end(), r);
        expect_intact(send_all(o, pieces), o);
        expect_nothing_held();
    }
}

TEST_F(ReassemblyTest, ExactDuplicateIsIgnoredNotOverlap) {
    const Original o = make_original(rng, 3000, 3);
    auto pieces = even_split(3000, 1000);
    EXPECT_FALSE(send(o, pieces[0]));
    EXPECT_FALSE(send(o, pieces[0]));
    EXPECT_FALSE(send(o, pieces[2]));
    EXPECT_FALSE(send(o, pieces[2]));  // a duplicated last fragment too
    expect_intact(send(o, pieces[1]), o);
    EXPECT_EQ(stats[Drop::frag_duplicate], 2u);
    EXPECT_EQ(stats[Drop::frag_overlap], 0u);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, PartialOverlapDropsWholeDatagram) {
    const Original o = make_original(rng, 24, 4);
    EXPECT_FALSE(send(o, {0, 16, true}));
    EXPECT_FALSE(send(o, {8, 16, false}));  // RFC 1858: rewrites bytes 8..15
    EXPECT_EQ(stats[Drop::frag_overlap], 1u);
    expect_nothing_held();
    EXPECT_FALSE(send(o, {16, 8, false}));  // the rest alone starts a new, incomplete datagram
    EXPECT_EQ(stats[Counter::ipv4_reassembled], 0u);
}

TEST_F(ReassemblyTest, TeardropContainedOverlap) {
    const Original o = make_original(rng, 48, 5);
    EXPECT_FALSE(send(o, {0, 48, true}));
    EXPECT_FALSE(send(o, {24, 8, false}));  // ends inside the first: the teardrop shape
    EXPECT_EQ(stats[Drop::frag_overlap], 1u);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, PingOfDeathIsTooBig) {
    const Original o = make_original(rng, 1480, 6);
    EXPECT_FALSE(send(o, {0, 1480, true}));
    EXPECT_FALSE(send(o, {65528, 100, false}));
    EXPECT_EQ(stats[Drop::frag_too_big], 1u);
    EXPECT_EQ(stats[Counter::ipv4_reassembled], 0u);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, FirstHeaderOptionsKeptAndCountedInSize) {
    for (size_t size : {3000u, 65515u}) {  // 24-byte header + 65515 > 65535
        const Original o = make_original(rng, size, 7);
        auto pieces = even_split(size, 1896);
        PacketPtr first = build(pool, o, pieces[0]);
        first->append(4);
        uint8_t* h = first->data();
        std::memmove(h + 24, h + 20, pieces[0].len);
        const uint8_t options[] = {1, 1, 1, 0};  // NOP NOP NOP EOL (RFC 791)
        std::memcpy(h + 20, options, 4);
        Ipv4View v(first->bytes());
        h[0] = 0x46;
        v.set_total_len(static_cast<uint16_t>(24 + pieces[0].len));
        v.fill_checksum();
        EXPECT_FALSE(feed(*reasm, std::move(first), now));
        pieces.erase(pieces.begin());
        PacketPtr whole = send_all(o, pieces);
        if (size == 65515) {
            EXPECT_FALSE(whole);
            EXPECT_EQ(stats[Drop::frag_too_big], 1u);
            break;
        }
        ASSERT_TRUE(whole);
        Ipv4View w(whole->bytes());
        EXPECT_EQ(w.header_len(), 24u);
        EXPECT_EQ(w.total_len(), 24 + size);
        EXPECT_TRUE(w.checksum_ok());
        EXPECT_FALSE(w.is_fragment());
        EXPECT_EQ(0, std::memcmp(whole->data() + 20, options, 4));
        std::vector<uint8_t> payload(size);
        whole->copy_out(24, payload.data(), size);
        EXPECT_EQ(payload, o.payload);
    }
    expect_nothing_held();
}

TEST_F(ReassemblyTest, TimeoutFreesAndCounts) {
    const Original o = make_original(rng, 16, 8);
    EXPECT_FALSE(send(o, {0, 8, true}));
    reasm->expire(now + 30 * kSecond - 1);
    EXPECT_EQ(reasm->datagrams_in_progress(), 1u);
    reasm->expire(now + 30 * kSecond);
    EXPECT_EQ(stats[Drop::frag_timeout], 1u);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, LateFragmentAfterTimeoutStartsAfresh) {
    const Original o = make_original(rng, 16, 9);
    EXPECT_FALSE(send(o, {0, 8, true}));
    now += 30 * kSecond;  // no expire() call: add() notices on its own
    EXPECT_FALSE(send(o, {8, 8, false}));
    EXPECT_EQ(stats[Drop::frag_timeout], 1u);
    EXPECT_EQ(reasm->datagrams_in_progress(), 1u);
    EXPECT_EQ(reasm->bytes_held(), 2048u);
}

TEST_F(ReassemblyTest, MemoryCapDropsDatagramThatCannotFit) {
    configure({.max_bytes = size_t{3} * 2048});
    const Original a = make_original(rng, 24, 10), b = make_original(rng, 24, 11);
    EXPECT_FALSE(send(a, {0, 8, true}));
    EXPECT_FALSE(send(a, {16, 8, false}));
    EXPECT_FALSE(send(b, {0, 8, true}));
    EXPECT_EQ(reasm->bytes_held(), 3 * 2048u);
    EXPECT_FALSE(send(b, {8, 8, true}));
    EXPECT_EQ(stats[Drop::frag_memory_full], 1u);
    EXPECT_EQ(reasm->datagrams_in_progress(), 1u);  // b freed, a untouched
    expect_intact(send(a, {8, 8, true}), a);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, MemoryCapExpiresStaleDatagramsFirst) {
    configure({.max_bytes = size_t{2} * 2048});
    const Original a = make_original(rng, 24, 12), b = make_original(rng, 16, 13);
    EXPECT_FALSE(send(a, {0, 8, true}));
    EXPECT_FALSE(send(a, {16, 8, false}));
    now += 30 * kSecond;
    EXPECT_FALSE(send(b, {0, 8, true}));
    EXPECT_EQ(stats[Drop::frag_timeout], 1u);
    EXPECT_EQ(stats[Drop::frag_memory_full], 0u);
    expect_intact(send(b, {8, 8, false}), b);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, FragmentCountCap) {
    configure({.max_fragments_per_datagram = 4});
    const Original ok = make_original(rng, 32, 14), flood = make_original(rng, 48, 15);
    expect_intact(send_all(ok, even_split(32, 8)), ok);  // exactly the cap
    auto pieces = even_split(48, 8);
    for (size_t i = 0; i < 4; ++i) EXPECT_FALSE(send(flood, pieces[i]));
    EXPECT_FALSE(send(flood, pieces[5]));
    EXPECT_EQ(stats[Drop::frag_too_many_fragments], 1u);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, TableCapRefusesNewDatagrams) {
    configure({.max_datagrams = 2});
    Original o[4];
    for (uint16_t i = 0; i < 4; ++i) o[i] = make_original(rng, 16, i);
    EXPECT_FALSE(send(o[0], {0, 8, true}));
    EXPECT_FALSE(send(o[1], {0, 8, true}));
    EXPECT_FALSE(send(o[2], {0, 8, true}));
    EXPECT_EQ(stats[Drop::frag_table_full], 1u);
    EXPECT_EQ(reasm->datagrams_in_progress(), 2u);
    expect_intact(send(o[0], {8, 8, false}), o[0]);  // held datagrams still complete
    now += 30 * kSecond;
    EXPECT_FALSE(send(o[2], {0, 8, true}));
    EXPECT_FALSE(send(o[3], {0, 8, true}));  // o[1] timed out: room again
    EXPECT_EQ(stats[Drop::frag_timeout], 1u);
    EXPECT_EQ(stats[Drop::frag_table_full], 1u);
    EXPECT_EQ(reasm->datagrams_in_progress(), 2u);
}

TEST_F(ReassemblyTest, BadLengthMiddleAndEmptyFragments) {
    const Original o = make_original(rng, 40, 16);
    EXPECT_FALSE(send(o, {0, 16, true}));
    EXPECT_FALSE(send(o, {16, 12, true}));  // not a multiple of 8
    EXPECT_EQ(stats[Drop::frag_bad_length], 1u);
    expect_nothing_held();
    EXPECT_FALSE(send(o, {16, 0, true}));
    EXPECT_FALSE(send(o, {16, 0, false}));
    EXPECT_EQ(stats[Drop::frag_bad_length], 3u);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, InconsistentLastFragment) {
    const Original o = make_original(rng, 40, 17);
    const Piece cases[][2] = {
        {{16, 8, false}, {32, 8, false}},  // a second end
        {{16, 8, false}, {24, 8, true}},   // data past the known end
        {{32, 8, true}, {8, 8, false}},    // an end before data held
    };
    for (const auto& c : cases) {
        EXPECT_FALSE(send(o, c[0]));
        EXPECT_FALSE(send(o, c[1]));
        expect_nothing_held();
    }
    EXPECT_EQ(stats[Drop::frag_inconsistent], 3u);
    EXPECT_EQ(stats.total_drops(), 3u);
}

TEST_F(ReassemblyTest, TinyFirstFragmentStillReassembles) {
    const Original o = make_original(rng, 1008, 18);
    EXPECT_FALSE(send(o, {0, 8, true}));
    PacketPtr whole = send(o, {8, 1000, false});
    expect_intact(whole, o);
    EXPECT_EQ(whole->length, kIpv4MinHeaderLen + 8);
}

TEST_F(ReassemblyTest, UnfragmentedIsReturnedUnchanged) {
    const Original o = make_original(rng, 100, 19);
    PacketPtr p = build(pool, o, {0, 100, false});
    const PacketBuffer* raw = p.get();
    PacketPtr out = feed(*reasm, std::move(p), now);
    EXPECT_EQ(out.get(), raw);
    EXPECT_EQ(stats[Counter::ipv4_reassembled], 0u);
    EXPECT_EQ(reasm->datagrams_in_progress(), 0u);
}

TEST_F(ReassemblyTest, LinkPaddingIsCutOff) {
    const Original o = make_original(rng, 30, 20);
    EXPECT_FALSE(send(o, {0, 8, true}, 26));  // Ethernet pads a 28-byte packet to 46
    expect_intact(send(o, {8, 22, false}, 4), o);
}

TEST_F(ReassemblyTest, ChainedFragmentWithPaddingSegment) {
    const Original o = make_original(rng, 1600, 21);
    PacketPtr first = build(pool, o, {0, 1000, true});
    Ipv4Repr repr;
    ASSERT_FALSE(Ipv4Repr::parse(Ipv4View(first->bytes()), repr));
    PacketPtr rest = pool.alloc(), padding = pool.alloc();
    std::memcpy(rest->append(700), first->data() + 320, 700);  // payload bytes 300..999
    first->truncate(320);
    std::memset(padding->append(10), 0xEE, 10);
    chain_append(*first, std::move(rest));
    chain_append(*first, std::move(padding));
    EXPECT_FALSE(reasm->add(std::move(first), repr, now));
    EXPECT_EQ(reasm->bytes_held(), 2 * 2048u);  // the padding-only segment was freed
    expect_intact(send(o, {1000, 600, false}), o);
    expect_nothing_held();
}

TEST_F(ReassemblyTest, KeyIncludesProtocol) {
    const Original udp = make_original(rng, 16, 22, 17), tcp = make_original(rng, 16, 22, 6);
    EXPECT_FALSE(send(udp, {0, 8, true}));
    EXPECT_FALSE(send(tcp, {8, 8, false}));
    expect_intact(send(tcp, {0, 8, true}), tcp);
    expect_intact(send(udp, {8, 8, false}), udp);
}

// 200 datagrams of 1..65515 bytes, cut at random 8-byte boundaries, their fragments
// shuffled together eight datagrams at a time: every one must arrive intact, once.
TEST(ReassemblyProperty, RandomDatagramsInterleaved) {
    BufferPool pool{{.count = 600, .data_room = 4096, .headroom = 128}};
    Stats stats;
    Reassembler reasm({.max_datagrams = 8, .max_bytes = size_t{8} * 64 * 4096}, stats);
    std::mt19937 rng(20240601);
    constexpr size_t kBatch = 8, kMaxPiece = 4096 - 128 - kIpv4MinHeaderLen;
    size_t fragmented = 0;
    for (size_t batch = 0; batch < 200 / kBatch; ++batch) {
        std::vector<Original> originals;
        std::vector<std::pair<size_t, Piece>> fragments;
        for (size_t i = 0; i < kBatch; ++i) {
            const size_t max = rng() % 2 ? 65515 : 3000;  // half small, for many tiny cases
            const size_t size = std::uniform_int_distribution<size_t>(1, max)(rng);
            originals.push_back(make_original(rng, size, static_cast<uint16_t>(batch * kBatch + i)));
            const auto pieces = split(rng, size, kMaxPiece / 8 * 8, 64);
            fragmented += pieces.size() > 1;
            for (const Piece& p : pieces) fragments.push_back({i, p});
        }
        std::shuffle(fragments.begin(), fragments.end(), rng);
        std::vector<int> delivered(kBatch, 0);
        for (const auto& [i, p] : fragments) {
            PacketPtr whole = feed(reasm, build(pool, originals[i], p), kSecond);
            if (!whole) continue;
            ++delivered[i];
            expect_intact(whole, originals[i]);
        }
        EXPECT_EQ(delivered, std::vector<int>(kBatch, 1));
        EXPECT_EQ(reasm.datagrams_in_progress(), 0u);
    }
    EXPECT_EQ(stats[Counter::ipv4_reassembled], fragmented);
    EXPECT_EQ(stats.total_drops(), 0u);
    EXPECT_EQ(reasm.bytes_held(), 0u);
    EXPECT_EQ(pool.available(), pool.capacity());
}

}  // namespace
}  // namespace quasi
