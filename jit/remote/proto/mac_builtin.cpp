// message_mac where libsodium is not available: the hand-written HMAC-SHA-256.
#include "jit/remote/proto/mac.hpp"
#include "jit/remote/proto/sha256.hpp"

namespace quasi::remote {

void message_mac(std::span<const uint8_t> key, std::span<const uint8_t> message, uint8_t out[kMacBytes]) {
    hmac_sha256_builtin(key, message, out);
}

// Every byte is compared whatever the first difference (no early exit).
bool mac_equal(const uint8_t* a, const uint8_t* b) {
    uint8_t diff = 0;
    for (size_t i = 0; i < kMacBytes; ++i) diff |= static_cast<uint8_t>(a[i] ^ b[i]);
    return diff == 0;
}

const char* mac_implementation() { return "builtin"; }

}  // namespace quasi::remote
