// SHA-256 of a stream, as hex, through libsodium (crypto_hash_sha256): the interop
// clients digest what they send and receive, and the scripts compare the digests with
// the ones the kernel-side peers (tcp_peer.py, spec_peer.py) compute with hashlib.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace quasi::app {

class Sha256Digest {
public:
    // sodium_init: 0, or 1 when already done, -1 when libsodium cannot start (then the
    // digest reads as an error and never matches a peer's).
    Sha256Digest() : ready_(sodium_init() >= 0) { crypto_hash_sha256_init(&state_); }
    void update(const uint8_t* data, size_t len) { crypto_hash_sha256_update(&state_, data, len); }
    // The digest of everything updated so far; ends the stream.
    std::string hex() {
        if (!ready_) return "libsodium-failed-to-initialize";
        unsigned char digest[crypto_hash_sha256_BYTES];
        char text[2 * crypto_hash_sha256_BYTES + 1];
        crypto_hash_sha256_final(&state_, digest);
        return sodium_bin2hex(text, sizeof text, digest, sizeof digest);
    }

private:
    bool ready_;
    crypto_hash_sha256_state state_;
};

}  // namespace quasi::app
