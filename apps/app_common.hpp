// Small helpers the command-line programs share: argument parsing, printing stats,
// signals and entropy. Host-only code (apps are not part of the core library).
#pragma once

#include "ports/x86/tap.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace quasi::app {

// "198.18.0.2/24" -> address and prefix length.
bool parse_cidr(const char* text, Ipv4Addr& addr, uint8_t& prefix_len);
// "198.18.0.1:9" -> address and port (1-65535).
bool parse_endpoint(const char* text, SockAddr& out);
// DESIGN.md network safety: test traffic stays inside 198.18.0.0/15.
inline bool in_benchmark_range(Ipv4Addr a) {
    return (a.value >> 17) == (Ipv4Addr::from_octets(198, 18, 0, 0).value >> 17);
}
// Parses a decimal unsigned number with an optional k/M/G suffix (powers of 1024).
bool parse_size(const char* text, uint64_t& out);
// Prints every non-zero counter and drop reason.
void print_stats(std::FILE* out, const char* title, const Stats& stats);
// 64 bits from the kernel's entropy source (getrandom).
uint64_t random_seed();
// SIGINT/SIGTERM set a flag instead of killing the process.
void install_stop_handlers();
bool stop_requested();
// Opens the existing tap `name` (tests create it in their namespace) and waits up to
// wait_link_ms for the kernel to report it up: attaching turns the carrier on, but the
// kernel applies that in its rate-limited linkwatch work and drops what it sends on
// the tap until then. Prints what it saw, prefixed by `program`; nullptr (the reason
// on stderr) when the tap cannot be opened.
std::unique_ptr<TapNetif> open_tap_and_wait(const char* program, const char* name, BufferPool& pool,
                                            const MacAddr& mac, uint64_t wait_link_ms, const Clock& clock);
// The deterministic test stream of the TCP clients (tests/interop/tcp_peer.py makes
// the same): byte i is byte (i mod 8), little-endian, of splitmix64(seed * 2^32 + i / 8).
// Fills out[0, len) with bytes [offset, offset + len).
void stream_bytes(uint64_t seed, uint64_t offset, uint8_t* out, size_t len);
// The kernel's RFC 2863 operational state of network interface `name` ("up", "down",
// ...) from /sys/class/net/NAME/operstate (which `ip netns exec` mounts for the
// namespace); empty when it cannot be read.
std::string link_operstate(const char* name);

}  // namespace quasi::app
