// The message authentication code of the remote protocol: HMAC-SHA-256 (RFC 2104,
// FIPS 180-4) under the device's key, the full 32-byte tag. On the host it is
// libsodium's (crypto_auth_hmacsha256_*); on targets built without libsodium (the
// bare-metal board, the AArch64 cross build) it is sha256.hpp's, which
// remote_mac_test checks against libsodium. Which one a build uses is fixed at
// configure time (jit/remote/proto/CMakeLists.txt); callers see one function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi::remote {

inline constexpr size_t kMacBytes = 32;
// A device key: 32 random bytes is the intended size; shorter than 16 is refused.
inline constexpr size_t kMinKeyBytes = 16;
inline constexpr size_t kMaxKeyBytes = 64;

void message_mac(std::span<const uint8_t> key, std::span<const uint8_t> message, uint8_t out[kMacBytes]);
// Compares two tags in time independent of where they differ.
bool mac_equal(const uint8_t* a, const uint8_t* b);
// "libsodium" or "builtin": for logs and tests.
const char* mac_implementation();

}  // namespace quasi::remote
