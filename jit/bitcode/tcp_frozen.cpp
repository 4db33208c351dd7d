// Bitcode TU: the TCP send path instantiated with the frozen context, behind a C
// entry the specializer wraps. Compiled at build time by the LLVM 19 clang++ to
// bitcode (never into the host binary), linked with the generic code it calls
// (buffer pool, checksum, TCP header and options, send ring, SACK scoreboard) so the
// optimizer inlines through every layer, and embedded in quasi_jit.
#include "context/tcp_frozen_send.hpp"

namespace quasi {

// The TcpLayer members the send path calls that live in the stack's own TUs (the
// clock behind TSval, the timer wheel, the route table): in the bitcode they call
// the host doors, so the JIT code and the stack share one implementation.
uint32_t TcpLayer::ts_now(const TcpSocket& s) const {
    return quasi_tcp_ts_now(this, &s);
}
void TcpLayer::arm_retransmit(TcpSocket& s) {
    quasi_tcp_arm_retransmit(this, &s);
}
uint16_t TcpLayer::local_mss(const TcpSocket& s) const {
    return quasi_tcp_local_mss(this, &s);
}
bool ByteRing::grow(size_t bytes) {
    return quasi_byte_ring_reserve(this, bytes);
}

template ssize_t tcp_send_frozen<const FrozenTcpContext>(const FrozenTcpContext&, const uint8_t*, size_t);

}  // namespace quasi

extern "C" {

ssize_t quasi_tcp_send_frozen(const quasi::FrozenTcpContext* context, const uint8_t* data, size_t len) {
    return quasi::tcp_send_frozen(*context, data, len);
}

// Names the context type in the bitcode (see udp_frozen.cpp).
[[gnu::used]] quasi::FrozenTcpContext quasi_tcp_frozen_context_anchor;

}  // extern "C"
