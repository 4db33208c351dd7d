#include "jit/remote/device/target.hpp"

#include "context/tcp_context.hpp"
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

uint32_t tcp_context_layout_tag() {
    using C = FrozenTcpContext;
    static constexpr uint32_t words[] = {
        sizeof(C),
        offsetof(C, src_mac), offsetof(C, dst_mac), offsetof(C, src), offsetof(C, dst), offsetof(C, next_hop),
        offsetof(C, src_port), offsetof(C, dst_port), offsetof(C, ttl), offsetof(C, tos),
        offsetof(C, timestamps), offsetof(C, sack), offsetof(C, rcv_wscale), offsetof(C, nodelay),
        offsetof(C, snd_mss), offsetof(C, payload_mss), offsetof(C, message_size), offsetof(C, fd),
        offsetof(C, socket), offsetof(C, layer), offsetof(C, pool), offsetof(C, iface),
        offsetof(C, ident_counter), offsetof(C, stats), offsetof(C, guard)};
    return layout_tag(words);
}

namespace {
uint64_t address_of(const void* p) { return reinterpret_cast<uintptr_t>(p); }
}  // namespace

#if defined(__arm__) && !defined(__aarch64__)
extern "C" unsigned long long __udivdi3(unsigned long long, unsigned long long);  // libgcc
#endif

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

std::span<const Symbol> tcp_host_symbols() {
    static const Symbol table[] = {
        {"quasi_interface_transmit", address_of(reinterpret_cast<const void*>(&quasi_interface_transmit))},
        {"quasi_checksum_sum", address_of(reinterpret_cast<const void*>(&quasi_checksum_sum))},
        {"quasi_checksum_copy", address_of(reinterpret_cast<const void*>(&quasi_checksum_copy))},
        {"quasi_tcp_ts_now", address_of(reinterpret_cast<const void*>(&quasi_tcp_ts_now))},
        {"quasi_tcp_arm_retransmit", address_of(reinterpret_cast<const void*>(&quasi_tcp_arm_retransmit))},
        {"quasi_tcp_local_mss", address_of(reinterpret_cast<const void*>(&quasi_tcp_local_mss))},
        {"quasi_byte_ring_reserve", address_of(reinterpret_cast<const void*>(&quasi_byte_ring_reserve))},
        {"quasi_send_times_take", address_of(reinterpret_cast<const void*>(&quasi_send_times_take))},
        {"memcpy", address_of(reinterpret_cast<const void*>(&::memcpy))},
        {"memmove", address_of(reinterpret_cast<const void*>(&::memmove))},
        {"memset", address_of(reinterpret_cast<const void*>(&::memset))},
#if defined(__arm__) && !defined(__aarch64__)
        {"__udivdi3", address_of(reinterpret_cast<const void*>(&__udivdi3))},
#endif
    };
    return table;
}

std::span<const Symbol> host_symbols(SendPath path) {
    return path == SendPath::tcp ? tcp_host_symbols() : udp_host_symbols();
}

}  // namespace quasi::remote
