#include "jit/remote/proto/sha256.hpp"

#include <algorithm>
#include <cstring>

namespace quasi::remote {

namespace {
constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
}  // namespace

void Sha256::reset() {
    static constexpr uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::memcpy(state_, kInit, sizeof state_);
    fill_ = 0;
    length_ = 0;
}

void Sha256::update(const uint8_t* data, size_t len) {
    length_ += len;
    if (fill_ != 0) {
        size_t take = std::min(len, sizeof block_ - fill_);
        std::memcpy(block_ + fill_, data, take);
        fill_ += take;
        data += take;
        len -= take;
        if (fill_ < sizeof block_) return;
        compress(block_);
        fill_ = 0;
    }
    for (; len >= sizeof block_; data += sizeof block_, len -= sizeof block_) compress(data);
    if (len != 0) std::memcpy(block_, data, len);
    fill_ = len;
}

// FIPS 180-4 5.1.1: a 1 bit, zeros to 56 mod 64 bytes, the length in bits (64-bit BE).
void Sha256::finish(uint8_t out[kSha256Bytes]) {
    uint64_t bits = length_ * 8;
    uint8_t pad[72] = {0x80};
    size_t pad_len = (fill_ < 56 ? 56 : 120) - fill_;
    for (int i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    update(pad, pad_len + 8);
    for (int i = 0; i < 8; ++i) {
        out[4 * i] = static_cast<uint8_t>(state_[i] >> 24);
        out[4 * i + 1] = static_cast<uint8_t>(state_[i] >> 16);
        out[4 * i + 2] = static_cast<uint8_t>(state_[i] >> 8);
        out[4 * i + 3] = static_cast<uint8_t>(state_[i]);
    }
}

void Sha256::compress(const uint8_t* p) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
        w[i] = uint32_t{p[4 * i]} << 24 | uint32_t{p[4 * i + 1]} << 16 | uint32_t{p[4 * i + 2]} << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
    uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
    for (int i = 0; i < 64; ++i) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRound[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    state_[0] += a;
    state_[1] += b;
    state_[2] += c;
    state_[3] += d;
    state_[4] += e;
    state_[5] += f;
    state_[6] += g;
    state_[7] += h;
}

// RFC 2104 section 2: H(K ^ opad, H(K ^ ipad, text)), K zero-padded to the block.
void hmac_sha256_builtin(std::span<const uint8_t> key, std::span<const uint8_t> message,
                         uint8_t out[kSha256Bytes]) {
    uint8_t block_key[64] = {};
    Sha256 h;
    if (key.size() > sizeof block_key) {
        h.update(key.data(), key.size());
        h.finish(block_key);
        h.reset();
    } else if (!key.empty()) {
        std::memcpy(block_key, key.data(), key.size());
    }
    uint8_t pad[64];
    for (size_t i = 0; i < sizeof pad; ++i) pad[i] = block_key[i] ^ 0x36;
    h.update(pad, sizeof pad);
    if (!message.empty()) h.update(message.data(), message.size());
    uint8_t inner[kSha256Bytes];
    h.finish(inner);
    h.reset();
    for (size_t i = 0; i < sizeof pad; ++i) pad[i] = block_key[i] ^ 0x5c;
    h.update(pad, sizeof pad);
    h.update(inner, sizeof inner);
    h.finish(out);
}

}  // namespace quasi::remote
