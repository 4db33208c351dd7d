// Bitcode TU: the UDP send path instantiated with the frozen context, behind a C entry
// the specializer wraps. Compiled at build time by the LLVM 19 clang++ to bitcode
// (never into the host binary), linked with the generic code it calls (buffer pool,
// checksum) so the optimizer can inline through every layer, and embedded in
// quasi_jit. Nothing here runs as written: each specialization clones this module,
// adds the context as a constant and optimizes.
#include "context/udp_context.hpp"
#include "stack/udp_send.hpp"

namespace quasi {
template ssize_t udp_send<const FrozenUdpContext>(const FrozenUdpContext&, const uint8_t*, size_t);
}  // namespace quasi

extern "C" {

ssize_t quasi_udp_send_frozen(const quasi::FrozenUdpContext* context, const uint8_t* data, size_t len) {
    return quasi::udp_send(*context, data, len);
}

// Names the context type in the bitcode: the specializer takes the LLVM struct type
// of this global to build the constant (opaque pointers carry no pointee type).
[[gnu::used]] quasi::FrozenUdpContext quasi_udp_frozen_context_anchor;

}  // extern "C"
