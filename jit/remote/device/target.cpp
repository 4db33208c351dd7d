#include "jit/remote/device/target.hpp"

#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"
#include "stack/wire/checksum.hpp"

#include <algorithm>
#include <array>
#include <iterator>
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
Symbol symbol(std::string_view name, const void* function) { return {name, reinterpret_cast<uintptr_t>(function)}; }
}  // namespace

// What only some targets' code calls: on a 32-bit core, libgcc's 64-bit division
// (the TCP code's time arithmetic).
#if defined(__arm__) && !defined(__aarch64__)
extern "C" unsigned long long __udivdi3(unsigned long long, unsigned long long);
std::array<Symbol, 1> target_symbols() { return {symbol("__udivdi3", reinterpret_cast<const void*>(&__udivdi3))}; }
#else
std::array<Symbol, 0> target_symbols() { return {}; }
#endif

std::span<const Symbol> udp_host_symbols() {
    static const std::array<Symbol, 6> table = {
        symbol("quasi_interface_transmit", reinterpret_cast<const void*>(&quasi_interface_transmit)),
        symbol("quasi_checksum_sum", reinterpret_cast<const void*>(&quasi_checksum_sum)),
        symbol("quasi_checksum_copy", reinterpret_cast<const void*>(&quasi_checksum_copy)),
        symbol("memcpy", reinterpret_cast<const void*>(&::memcpy)),
        symbol("memmove", reinterpret_cast<const void*>(&::memmove)),
        symbol("memset", reinterpret_cast<const void*>(&::memset)),
    };
    return table;
}

std::span<const Symbol> tcp_host_symbols() {
    static const Symbol tcp_only[] = {
        // The one-pass copy into the frame and the send ring (stack/tcp_send.hpp, UserPayload).
        symbol("quasi_checksum_copy2", reinterpret_cast<const void*>(&quasi_checksum_copy2)),
        symbol("quasi_tcp_ts_now", reinterpret_cast<const void*>(&quasi_tcp_ts_now)),
        symbol("quasi_tcp_arm_retransmit", reinterpret_cast<const void*>(&quasi_tcp_arm_retransmit)),
        symbol("quasi_tcp_local_mss", reinterpret_cast<const void*>(&quasi_tcp_local_mss)),
        symbol("quasi_byte_ring_reserve", reinterpret_cast<const void*>(&quasi_byte_ring_reserve)),
        symbol("quasi_send_times_take", reinterpret_cast<const void*>(&quasi_send_times_take)),
    };
    // The UDP table's functions, the TCP layer's doors, the target's (the server
    // resolves by name; the order only has to be the same in the request and the hash).
    static const auto table = [] {
        const auto extra = target_symbols();
        std::array<Symbol, 6 + std::size(tcp_only) + std::tuple_size_v<decltype(extra)>> t{};
        auto udp = udp_host_symbols();
        auto end = std::copy(udp.begin(), udp.end(), t.begin());
        end = std::copy(std::begin(tcp_only), std::end(tcp_only), end);
        std::copy(extra.begin(), extra.end(), end);
        return t;
    }();
    return table;
}

std::span<const Symbol> host_symbols(SendPath path) {
    return path == SendPath::tcp ? tcp_host_symbols() : udp_host_symbols();
}

}  // namespace quasi::remote
