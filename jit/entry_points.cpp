#include "jit/entry_points.hpp"

#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"

#include <cstring>

extern "C" const uint8_t quasi_bitcode_udp_frozen_start[];
extern "C" const uint8_t quasi_bitcode_udp_frozen_end[];
extern "C" const uint8_t quasi_bitcode_tcp_frozen_start[];
extern "C" const uint8_t quasi_bitcode_tcp_frozen_end[];

namespace quasi::jit {

namespace {
const HostSymbol kUdpHostSymbols[] = {
    {"quasi_interface_transmit", reinterpret_cast<const void*>(&quasi_interface_transmit)},
    {"quasi_checksum_sum", reinterpret_cast<const void*>(&quasi_checksum_sum)},
    {"quasi_checksum_copy", reinterpret_cast<const void*>(&quasi_checksum_copy)},
    {"memcpy", reinterpret_cast<const void*>(&::memcpy)},
    {"memmove", reinterpret_cast<const void*>(&::memmove)},
    {"memset", reinterpret_cast<const void*>(&::memset)},
};
const HostSymbol kTcpHostSymbols[] = {
    {"quasi_interface_transmit", reinterpret_cast<const void*>(&quasi_interface_transmit)},
    {"quasi_checksum_sum", reinterpret_cast<const void*>(&quasi_checksum_sum)},
    {"quasi_checksum_copy", reinterpret_cast<const void*>(&quasi_checksum_copy)},
    {"quasi_checksum_copy2", reinterpret_cast<const void*>(&quasi_checksum_copy2)},
    {"quasi_tcp_ts_now", reinterpret_cast<const void*>(&quasi_tcp_ts_now)},
    {"quasi_tcp_arm_retransmit", reinterpret_cast<const void*>(&quasi_tcp_arm_retransmit)},
    {"quasi_tcp_local_mss", reinterpret_cast<const void*>(&quasi_tcp_local_mss)},
    {"quasi_byte_ring_reserve", reinterpret_cast<const void*>(&quasi_byte_ring_reserve)},
    {"quasi_send_times_take", reinterpret_cast<const void*>(&quasi_send_times_take)},
    {"memcpy", reinterpret_cast<const void*>(&::memcpy)},
    {"memmove", reinterpret_cast<const void*>(&::memmove)},
    {"memset", reinterpret_cast<const void*>(&::memset)},
};
}  // namespace

const EntryPoint& udp_entry_point() {
    static const EntryPoint entry{
        .name = "udp",
        .bitcode = {quasi_bitcode_udp_frozen_start,
                    static_cast<size_t>(quasi_bitcode_udp_frozen_end - quasi_bitcode_udp_frozen_start)},
        .entry_symbol = "quasi_udp_send_frozen",
        .anchor_symbol = "quasi_udp_frozen_context_anchor",
        .context_size = sizeof(FrozenUdpContext),
        .host_symbols = kUdpHostSymbols,
    };
    return entry;
}

const EntryPoint& tcp_entry_point() {
    static const EntryPoint entry{
        .name = "tcp",
        .bitcode = {quasi_bitcode_tcp_frozen_start,
                    static_cast<size_t>(quasi_bitcode_tcp_frozen_end - quasi_bitcode_tcp_frozen_start)},
        .entry_symbol = "quasi_tcp_send_frozen",
        .anchor_symbol = "quasi_tcp_frozen_context_anchor",
        .context_size = sizeof(FrozenTcpContext),
        .host_symbols = kTcpHostSymbols,
    };
    return entry;
}

}  // namespace quasi::jit
