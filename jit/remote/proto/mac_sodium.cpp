// message_mac on the host: libsodium's HMAC-SHA-256. The init/update/final form
// takes keys of any length (crypto_auth_hmacsha256() itself wants exactly 32 bytes).
#include "jit/remote/proto/mac.hpp"

#include <sodium.h>

namespace quasi::remote {

void message_mac(std::span<const uint8_t> key, std::span<const uint8_t> message, uint8_t out[kMacBytes]) {
    static_assert(crypto_auth_hmacsha256_BYTES == kMacBytes);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key.data(), key.size());
    crypto_auth_hmacsha256_update(&state, message.data(), message.size());
    crypto_auth_hmacsha256_final(&state, out);
}

bool mac_equal(const uint8_t* a, const uint8_t* b) { return sodium_memcmp(a, b, kMacBytes) == 0; }

const char* mac_implementation() { return "libsodium"; }

}  // namespace quasi::remote
