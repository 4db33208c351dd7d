// The specializable paths: for each, its embedded bitcode, the C entry that takes
// the context, the anchor that names the context type, and the host functions the
// compiled code may call (an explicit table: nothing else of the process is visible
// to JIT code). Adding TCP's send path is adding one of these plus its context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi::jit {

struct HostSymbol {
    const char* name;
    const void* address;
};

struct EntryPoint {
    const char* name;             // short name, used in module and symbol names
    std::span<const uint8_t> bitcode;
    const char* entry_symbol;     // ret f(const Context*, args...)
    const char* anchor_symbol;    // a global of the context type
    size_t context_size;          // sizeof(Context) in the host: must match the bitcode's type
    std::span<const HostSymbol> host_symbols;
};

// udp_send<const FrozenUdpContext>: ssize_t(const uint8_t*, size_t) once specialized.
const EntryPoint& udp_entry_point();
// tcp_send_frozen<const FrozenTcpContext>: ssize_t(const uint8_t*, size_t) once
// specialized (bytes accepted, -errno, or kSlowPath).
const EntryPoint& tcp_entry_point();

}  // namespace quasi::jit
