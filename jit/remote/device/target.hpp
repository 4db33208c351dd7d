// What a device says about itself in a spec request: the target triple it was
// built for, its pointer size, the layout tags of its frozen UDP and TCP contexts,
// and the host functions the code may call at their addresses in this image.
#pragma once

#include "jit/remote/proto/messages.hpp"

#include <span>
#include <string_view>

namespace quasi::remote {

// The LLVM triple of this build: thumbv7m-none-eabi, aarch64-linux-gnu or x86_64-linux-gnu.
std::string_view device_target();
// layout_tag() of FrozenUdpContext as this compiler laid it out.
uint32_t udp_context_layout_tag();
// layout_tag() of FrozenTcpContext as this compiler laid it out.
uint32_t tcp_context_layout_tag();
// quasi_interface_transmit, quasi_checksum_sum, quasi_checksum_copy, memcpy, memmove,
// memset (the UDP path's table in jit/entry_points.cpp) at this image's addresses.
std::span<const Symbol> udp_host_symbols();
// The TCP path's table (jit/entry_points.cpp): the UDP one's functions and the TCP
// layer's host doors (context/tcp_context.hpp); on a 32-bit core also libgcc's
// 64-bit division, which the code's time arithmetic calls.
std::span<const Symbol> tcp_host_symbols();
std::span<const Symbol> host_symbols(SendPath path);

}  // namespace quasi::remote
