// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), small and self-contained: the
// MAC of the remote protocol on targets without a crypto library (the bare-metal
// board, the AArch64 cross build). The host uses libsodium's HMAC-SHA-256 instead
// (mac.hpp); remote_mac_test proves both give the same tags (RFC 4231 vectors and
// random keys and messages).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi::remote {

inline constexpr size_t kSha256Bytes = 32;

class Sha256 {
public:
    Sha256() { reset(); }
    void reset();
    void update(const uint8_t* data, size_t len);
    void finish(uint8_t out[kSha256Bytes]);  // the digest; the object must be reset() to be used again

private:
    void compress(const uint8_t* block);

    uint32_t state_[8];
    uint8_t block_[64];
    size_t fill_ = 0;
    uint64_t length_ = 0;
};

// HMAC-SHA-256 of `message` under `key` (any length: a key longer than the 64-byte
// block is hashed first, RFC 2104 section 2).
void hmac_sha256_builtin(std::span<const uint8_t> key, std::span<const uint8_t> message,
                         uint8_t out[kSha256Bytes]);

}  // namespace quasi::remote
