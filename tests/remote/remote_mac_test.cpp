// The board's HMAC-SHA-256 (jit/remote/proto/sha256.cpp) against libsodium's: the
// RFC 4231 test vectors, then random keys and messages of random lengths. The
// device and the server must compute the same tag bit for bit, or no device could
// ever accept a reply.
#include "jit/remote/proto/mac.hpp"
#include "jit/remote/proto/sha256.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace quasi::remote {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes from_hex(const char* hex) {
    Bytes out;
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
    return out;
}
Bytes text(const char* s) { return Bytes(s, s + std::strlen(s)); }
Bytes repeat(uint8_t b, size_t n) { return Bytes(n, b); }

Bytes sodium_tag(const Bytes& key, const Bytes& msg) {
    // libsodium declares its pointers non-null, even for zero lengths.
    static const uint8_t none = 0;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key.empty() ? &none : key.data(), key.size());
    crypto_auth_hmacsha256_update(&st, msg.empty() ? &none : msg.data(), msg.size());
    Bytes out(32);
    crypto_auth_hmacsha256_final(&st, out.data());
    return out;
}
Bytes builtin_tag(const Bytes& key, const Bytes& msg) {
    Bytes out(32);
    hmac_sha256_builtin(key, msg, out.data());
    return out;
}

struct Vector {
    Bytes key;
    Bytes data;
    const char* tag;  // hex; test case 5 gives only the first 128 bits
};

// RFC 4231 section 4, HMAC-SHA-256 outputs of test cases 1-7.
std::vector<Vector> rfc4231() {
    Bytes key4;
    for (uint8_t i = 1; i <= 25; ++i) key4.push_back(i);
    return {
        {repeat(0x0b, 20), text("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {text("Jefe"), text("what do ya want for nothing?"),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {repeat(0xaa, 20), repeat(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {key4, repeat(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {repeat(0x0c, 20), text("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"},
        {repeat(0xaa, 131), text("Test Using Larger Than Block-Size Key - Hash Key First"),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {repeat(0xaa, 131),
         text("This is a test using a larger than block-size key and a larger than block-size data. The key needs "
              "to be hashed before being used by the HMAC algorithm."),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
}

TEST(RemoteMac, Rfc4231VectorsBuiltinAndLibsodium) {
    int n = 0;
    for (const Vector& v : rfc4231()) {
        Bytes want = from_hex(v.tag);
        Bytes b = builtin_tag(v.key, v.data);
        Bytes s = sodium_tag(v.key, v.data);
        EXPECT_EQ(Bytes(b.begin(), b.begin() + want.size()), want) << "builtin, test case " << n + 1;
        EXPECT_EQ(Bytes(s.begin(), s.begin() + want.size()), want) << "libsodium, test case " << n + 1;
        ++n;
    }
    EXPECT_EQ(n, 7);
}

// FIPS 180-4 examples through the plain hash: "abc" and the empty message.
TEST(RemoteMac, Sha256Examples) {
    auto digest = [](const Bytes& m) {
        Sha256 h;
        h.update(m.data(), m.size());
        Bytes out(32);
        h.finish(out.data());
        return out;
    };
    EXPECT_EQ(digest(text("abc")), from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    EXPECT_EQ(digest({}), from_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

// Lengths around every block and padding boundary (55/56/63/64 bytes, keys of 64
// and 65 bytes), then random lengths up to several blocks.
TEST(RemoteMac, RandomKeysAndMessagesAgreeWithLibsodium) {
    std::mt19937_64 rng(0x5eed);
    auto random_bytes = [&](size_t n) {
        Bytes b(n);
        for (auto& x : b) x = static_cast<uint8_t>(rng());
        return b;
    };
    const size_t edges[] = {0, 1, 31, 32, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129};
    for (size_t klen : edges)
        for (size_t mlen : edges) {
            Bytes k = random_bytes(klen), m = random_bytes(mlen);
            ASSERT_EQ(builtin_tag(k, m), sodium_tag(k, m)) << "key " << klen << " message " << mlen;
        }
    for (int i = 0; i < 2000; ++i) {
        Bytes k = random_bytes(rng() % 200), m = random_bytes(rng() % 3000);
        ASSERT_EQ(builtin_tag(k, m), sodium_tag(k, m)) << "key " << k.size() << " message " << m.size();
    }
}

// What the protocol uses on this build (libsodium on the host) gives the same tags.
TEST(RemoteMac, MessageMacIsHmacSha256) {
    Bytes k = repeat(0x42, 32), m = text("quasi");
    Bytes out(32);
    message_mac(k, m, out.data());
    EXPECT_EQ(out, sodium_tag(k, m));
    EXPECT_STREQ(mac_implementation(), "libsodium");
    Bytes other = out;
    other[31] ^= 1;
    EXPECT_TRUE(mac_equal(out.data(), out.data()));
    EXPECT_FALSE(mac_equal(out.data(), other.data()));
}

}  // namespace
}  // namespace quasi::remote
