#include "jit/remote/device/target.hpp"

#include "context/udp_context.hpp"
#include "stack/wire/checksum.hpp"

#include <array>
#include <cstddef>
#include <cstring>

namespace quasi::remote {

std::string_view device_target() {
#if defined(__thumb__) && defined(__ARM_ARCH_7M__)
    return "thumbv7m-none-eabi";
#elif defined(__aarch64__)
    return "aarch64-linux-gnu";
#elif defined(__x86_64__)
    return "x86_64-linux-gnu";
#else
#error "no remote specialization target for this architecture"
#endif
}

uint32_t udp_context_layout_tag() {
    using C = FrozenUdpContext;
    static constexpr uint32_t words[] = {
        sizeof(C),
        offsetof(C, src_mac), offsetof(C, dst_mac), offsetof(C, src), offsetof(C, dst),
        offsetof(C, src_port), offsetof(C, dst_port), offsetof(C, ttl), offsetof(C, tos),
        offsetof(C, dont_fragment), offsetof(C, checksum), offsetof(C, max_payload), offsetof(C, message_size),
        offsetof(C, pool), offsetof(C, iface), offsetof(C, ident_counter), offsetof(C, stats),
        offsetof(C, pending_error), offsetof(C, guard)};
    return layout_tag(words);
}

namespace {
uint64_t address_of(const void* p) { return reinterpret_cast<uintptr_t>(p); }
}  // namespace

std::span<const Symbol> udp_host_symbols() {
    static const std::array<Symbol, 6> table = {{
        {"quasi_interface_transmit", address_of(reinterpret_cast<const void*>(&quasi_interface_transmit))},
        {"quasi_checksum_sum", address_of(reinterpret_cast<const void*>(&quasi_checksum_sum))},
        {"quasi_checksum_copy", address_of(reinterpret_cast<const void*>(&quasi_checksum_copy))},
        {"memcpy", address_of(reinterpret_cast<const void*>(&::memcpy))},
        {"memmove", address_of(reinterpret_cast<const void*>(&::memmove))},
        {"memset", address_of(reinterpret_cast<const void*>(&::memset))},
    }};
    return table;
}

}  // namespace quasi::remote
