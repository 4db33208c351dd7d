// The remote protocol's codec (jit/remote/proto/messages.hpp): round trips of every
// message, and every refusal a decoder makes: a bad MAC, a wrong key, truncation at
// every length, oversize, a bad header, and each field out of its range (edited,
// then resealed with a valid MAC so the field check is what refuses it).
#include "tests/remote/proto_samples.hpp"

#include <gtest/gtest.h>

#include <string>

namespace quasi::remote {
namespace {

using test::encoded;
using test::kKey;
using test::kOtherKey;
using test::reseal;
using Bytes = std::vector<uint8_t>;

// Offsets in the sample request and reply (README.md's layout; the target is 18 bytes).
constexpr size_t kReqTargetLen = 28, kReqPath = 47, kReqPointer = 48, kReqContextLen = 53, kReqCodeAddress = 115,
                 kReqCapacity = 123, kReqSymbolCount = 127, kReqFirstSymbol = 128;
constexpr size_t kRepStatus = 28, kRepTarget = 32, kRepEntry = 59, kRepCodeLen = 71;

void put_be32(Bytes& m, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) m.at(at + i) = static_cast<uint8_t>(v >> (24 - 8 * i));
}

TEST(RemoteProto, SpecRequestRoundTrip) {
    test::Samples s;
    SpecRequest in = s.request();
    Bytes m = encoded(in);
    ASSERT_FALSE(m.empty());
    EXPECT_EQ(message_length(m), m.size());
    Header h;
    ASSERT_EQ(peek_header(m, h), ProtoError::ok);
    EXPECT_EQ(h.type, MessageType::spec_request);
    EXPECT_EQ(h.device_id, in.device_id);
    SpecRequest out;
    ASSERT_EQ(decode(m, kKey, out), ProtoError::ok);
    EXPECT_EQ(out.device_id, in.device_id);
    EXPECT_EQ(out.nonce, in.nonce);
    EXPECT_EQ(out.target, in.target);
    EXPECT_EQ(out.path, in.path);
    EXPECT_EQ(out.pointer_bytes, 4);
    EXPECT_EQ(out.layout_tag, in.layout_tag);
    EXPECT_TRUE(std::equal(out.context.begin(), out.context.end(), in.context.begin(), in.context.end()));
    EXPECT_EQ(out.code_address, in.code_address);
    EXPECT_EQ(out.code_capacity, in.code_capacity);
    ASSERT_EQ(out.symbol_count, 3);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(out.symbols[i].name, in.symbols[i].name);
        EXPECT_EQ(out.symbols[i].address, in.symbols[i].address);
    }
    EXPECT_EQ(symbol_table_hash(out.symbol_table()), symbol_table_hash(in.symbol_table()));
    // Canonical: what decodes encodes to the same bytes.
    EXPECT_EQ(encoded(out), m);
    // The documented offsets this file's edits rely on.
    EXPECT_EQ(m[kReqTargetLen], 18);
    EXPECT_EQ(m[kReqPath], 1);
    EXPECT_EQ(m[kReqPointer], 4);
    EXPECT_EQ(m[kReqContextLen + 1], 60);
    EXPECT_EQ(m[kReqSymbolCount], 3);
}

TEST(RemoteProto, SpecReplyRoundTripAndErrorReply) {
    test::Samples s;
    SpecReply in = s.reply();
    Bytes m = encoded(in);
    ASSERT_FALSE(m.empty());
    SpecReply out;
    ASSERT_EQ(decode(m, kKey, out), ProtoError::ok);
    EXPECT_EQ(out.nonce, in.nonce);
    EXPECT_EQ(out.status, Status::ok);
    EXPECT_EQ(out.entry_offset, 16u);
    EXPECT_EQ(out.symbol_hash, 0xABCDEFu);
    EXPECT_EQ(out.code.size(), s.code.size());
    EXPECT_TRUE(std::equal(out.code.begin(), out.code.end(), s.code.begin()));
    EXPECT_EQ(encoded(out), m);
    EXPECT_EQ(m[kRepTarget - 1], 18);
    EXPECT_EQ(m[kRepCodeLen + 3], s.code.size() & 0xFF);

    SpecReply err = in;
    err.status = Status::unknown_target;
    err.message = "no bitcode for target thumbv7m-none-eabi";
    err.code = {};
    err.entry_offset = 0;
    Bytes e = encoded(err);
    ASSERT_FALSE(e.empty());
    ASSERT_EQ(decode(e, kKey, out), ProtoError::ok);
    EXPECT_EQ(out.status, Status::unknown_target);
    EXPECT_EQ(out.message, err.message);
    EXPECT_TRUE(out.code.empty());
}

TEST(RemoteProto, StatsRoundTrip) {
    test::Samples s;
    StatsRequest q{.device_id = 5, .nonce = 6};
    Bytes mq = encoded(q);
    StatsRequest q2;
    ASSERT_EQ(decode(mq, kKey, q2), ProtoError::ok);
    EXPECT_EQ(q2.nonce, 6u);
    EXPECT_EQ(mq.size(), kMinMessageBytes);
    Bytes mr = encoded(s.stats_reply());
    StatsReply r;
    ASSERT_EQ(decode(mr, kKey, r), ProtoError::ok);
    ASSERT_EQ(r.stat_count, 2);
    EXPECT_EQ(r.stats[0].name, "requests");
    EXPECT_EQ(r.stats[1].value, 9u);
}

// Any flipped bit anywhere, header, body or the MAC itself, fails the MAC; so does
// the right message under another device's key.
TEST(RemoteProto, EveryFlippedByteFailsTheMac) {
    test::Samples s;
    Bytes good = encoded(s.reply());
    SpecReply out;
    for (size_t i = 4; i < good.size(); ++i) {
        Bytes m = good;
        m[i] ^= 0x01;
        ProtoError e = decode(m, kKey, out);
        EXPECT_NE(e, ProtoError::ok) << "byte " << i;
        // Magic, version, type and flags (bytes 4-11) are refused by peek_header first;
        // device id, nonce, body and MAC by the MAC.
        if (i >= 12) {
            EXPECT_EQ(e, ProtoError::bad_mac) << "byte " << i;
        }
        EXPECT_TRUE(out.code.empty());
    }
    EXPECT_EQ(decode(good, kOtherKey, out), ProtoError::bad_mac);
    EXPECT_EQ(decode(good, std::span<const uint8_t>(kKey.data(), 8), out), ProtoError::bad_key);
}

TEST(RemoteProto, TruncatedAtEveryLengthIsRefused) {
    test::Samples s;
    Bytes good = encoded(s.request());
    SpecRequest out;
    for (size_t n = 0; n < good.size(); ++n) {
        Bytes m(good.begin(), good.begin() + n);
        ProtoError e = decode(m, kKey, out);
        EXPECT_EQ(e, ProtoError::truncated) << "length " << n;
    }
    EXPECT_EQ(message_length(std::span<const uint8_t>(good.data(), 3)), 0u);
}

TEST(RemoteProto, OversizedIsRefused) {
    test::Samples s;
    Bytes good = encoded(s.request());
    SpecRequest out;
    Bytes longer = good;
    longer.push_back(0);
    EXPECT_EQ(decode(longer, kKey, out), ProtoError::oversized);  // more bytes than its length says
    Bytes huge = good;
    put_be32(huge, 0, kMaxMessageBytes + 1);
    EXPECT_EQ(decode(huge, kKey, out), ProtoError::oversized);
    EXPECT_EQ(message_length(huge), 0u);
    Bytes beyond(kMaxMessageBytes + 1, 0);
    EXPECT_EQ(decode(beyond, kKey, out), ProtoError::oversized);
    // A length field below the minimum cannot frame a message.
    Bytes tiny = good;
    put_be32(tiny, 0, 10);
    EXPECT_EQ(message_length(tiny), 0u);
}

TEST(RemoteProto, BadHeadersAreRefused) {
    test::Samples s;
    Bytes good = encoded(s.request());
    SpecRequest out;
    SpecReply reply;
    Bytes m = good;
    m[4] = 'X';
    EXPECT_EQ(decode(m, kKey, out), ProtoError::bad_magic);
    m = good;
    m[8] = 2;
    reseal(m);
    EXPECT_EQ(decode(m, kKey, out), ProtoError::bad_version);
    m = good;
    m[11] = 1;
    reseal(m);
    EXPECT_EQ(decode(m, kKey, out), ProtoError::bad_flags);
    m = good;
    m[9] = 9;
    reseal(m);
    EXPECT_EQ(decode(m, kKey, out), ProtoError::bad_type);
    // A request (with a valid MAC) is not a reply: no reflection of a device's own request.
    EXPECT_EQ(decode(good, kKey, reply), ProtoError::bad_type);
}

// One field at a time made invalid, the MAC recomputed: the field check refuses.
TEST(RemoteProto, RequestFieldsOutOfRangeAreRefused) {
    test::Samples s;
    Bytes good = encoded(s.request());
    auto refused = [&](auto edit, ProtoError want, const char* what) {
        Bytes m = good;
        edit(m);
        reseal(m);
        SpecRequest out;
        EXPECT_EQ(decode(m, kKey, out), want) << what;
        EXPECT_EQ(out.symbol_count, 0) << what;
        EXPECT_TRUE(out.context.empty()) << what;
    };
    refused([](Bytes& m) { m[kReqTargetLen + 1] = ' '; }, ProtoError::bad_field, "space in target");
    refused([](Bytes& m) { m[kReqTargetLen + 1] = 'T'; }, ProtoError::bad_field, "upper case in target");
    refused([](Bytes& m) { m[kReqPath] = 3; }, ProtoError::bad_field, "unknown send path");
    refused([](Bytes& m) { m[kReqPointer] = 5; }, ProtoError::bad_field, "pointer size 5");
    refused([](Bytes& m) { m[kReqContextLen + 1] = 0; m.erase(m.begin() + kReqContextLen + 2, m.begin() + kReqContextLen + 62); },
            ProtoError::bad_field, "empty context");
    refused([](Bytes& m) { m[kReqContextLen + 1] = 200; }, ProtoError::truncated, "context longer than the message");
    refused([](Bytes& m) { std::fill(m.begin() + kReqCodeAddress, m.begin() + kReqCodeAddress + 8, 0); },
            ProtoError::bad_field, "code address 0");
    refused([](Bytes& m) { m[kReqCodeAddress + 3] = 1; }, ProtoError::bad_field, "64-bit code address, 32-bit target");
    refused([](Bytes& m) { put_be32(m, kReqCodeAddress + 4, 0xFFFFF001); }, ProtoError::bad_field,
            "code buffer past the 32-bit address space");
    refused([](Bytes& m) { put_be32(m, kReqCapacity, 0); }, ProtoError::bad_field, "capacity 0");
    refused([](Bytes& m) { m[kReqSymbolCount] = kMaxSymbols + 1; }, ProtoError::bad_field, "33 symbols");
    refused([](Bytes& m) { m[kReqSymbolCount] = 4; }, ProtoError::truncated, "symbol count past the end");
    refused([](Bytes& m) { m[kReqFirstSymbol + 1] = '-'; }, ProtoError::bad_field, "'-' in a symbol name");
    refused([](Bytes& m) { m[kReqFirstSymbol] = 0; m.erase(m.begin() + kReqFirstSymbol + 1, m.begin() + kReqFirstSymbol + 25); },
            ProtoError::bad_field, "empty symbol name");
    refused([](Bytes& m) { m.insert(m.end() - kMacBytes, 0); }, ProtoError::trailing, "a byte after the last field");
}

TEST(RemoteProto, DuplicateSymbolNamesAreRefused) {
    test::Samples s;
    SpecRequest r = s.request();
    r.symbols[1].name = r.symbols[0].name;
    size_t size = 0;
    Bytes out(kMaxMessageBytes);
    EXPECT_EQ(encode(r, kKey, out, size), ProtoError::bad_field);
    EXPECT_EQ(size, 0u);
}

TEST(RemoteProto, ReplyFieldsOutOfRangeAreRefused) {
    test::Samples s;
    Bytes good = encoded(s.reply());
    auto refused = [&](auto edit, ProtoError want, const char* what) {
        Bytes m = good;
        edit(m);
        reseal(m);
        SpecReply out;
        EXPECT_EQ(decode(m, kKey, out), want) << what;
        EXPECT_TRUE(out.code.empty()) << what;
    };
    refused([](Bytes& m) { put_be32(m, kRepEntry, 300); }, ProtoError::bad_field, "entry offset at the code's end");
    refused([](Bytes& m) { put_be32(m, kRepEntry, 0xFFFFFFFF); }, ProtoError::bad_field, "entry offset far out");
    refused([](Bytes& m) { m[kRepStatus] = kMaxStatus + 1; }, ProtoError::bad_field, "unknown status");
    refused([](Bytes& m) { m[kRepStatus] = 3; }, ProtoError::bad_field, "an error reply carrying code");
    refused([](Bytes& m) { put_be32(m, kRepCodeLen, 0); m.erase(m.begin() + kRepCodeLen + 4, m.end() - kMacBytes); },
            ProtoError::bad_field, "ok without code");
    refused([](Bytes& m) { put_be32(m, kRepCodeLen, 301); }, ProtoError::truncated, "code longer than the message");
    refused([](Bytes& m) { m[kRepTarget] = '\n'; }, ProtoError::bad_field, "newline in target");
    // More code than any device takes (kMaxCodeBytes), though the message frames it.
    Bytes big = good;
    put_be32(big, kRepCodeLen, kMaxCodeBytes + 1);
    big.insert(big.end() - kMacBytes, kMaxCodeBytes + 1 - 300, 0x00);
    reseal(big);
    SpecReply out;
    EXPECT_EQ(decode(big, kKey, out), ProtoError::bad_field);
}

TEST(RemoteProto, EncodeRefusesWhatDecodeRefuses) {
    test::Samples s;
    Bytes out(kMaxMessageBytes);
    size_t size = 0;
    SpecReply r = s.reply();
    r.entry_offset = static_cast<uint32_t>(s.code.size());
    EXPECT_EQ(encode(r, kKey, out, size), ProtoError::bad_field);
    r = s.reply();
    r.message = "line\nbreak";
    EXPECT_EQ(encode(r, kKey, out, size), ProtoError::bad_field);
    SpecRequest q = s.request();
    q.target = "";
    EXPECT_EQ(encode(q, kKey, out, size), ProtoError::bad_field);
    q = s.request();
    EXPECT_EQ(encode(q, std::span<const uint8_t>(kKey.data(), 15), out, size), ProtoError::bad_key);
    Bytes small(100);
    EXPECT_EQ(encode(q, kKey, small, size), ProtoError::no_room);
    EXPECT_EQ(size, 0u);
}

TEST(RemoteProto, SymbolTableHashAndLayoutTag) {
    test::Samples s;
    SpecRequest a = s.request();
    SpecRequest b = a;
    std::swap(b.symbols[0], b.symbols[1]);
    EXPECT_NE(symbol_table_hash(a.symbol_table()), symbol_table_hash(b.symbol_table()));
    b = a;
    b.symbols[2].address += 4;
    EXPECT_NE(symbol_table_hash(a.symbol_table()), symbol_table_hash(b.symbol_table()));
    EXPECT_EQ(symbol_table_hash(a.symbol_table()), symbol_table_hash(s.request().symbol_table()));
    // FNV-1a 32 of no bytes is its offset basis; of 0x00000000 a fixed value.
    EXPECT_EQ(layout_tag({}), 2166136261u);
    const uint32_t words[] = {60, 0, 6};
    const uint32_t moved[] = {60, 0, 8};
    EXPECT_NE(layout_tag(words), layout_tag(moved));
    static_assert(layout_tag(std::span<const uint32_t>{}) == 2166136261u);
}

}  // namespace
}  // namespace quasi::remote
