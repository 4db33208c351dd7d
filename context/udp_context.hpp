// The frozen context of the UDP send path (DESIGN.md, "binding-time annotations").
//
// FrozenUdpContext is udp_send's context policy for a connected socket whose
// invariants were snapshotted: prepare() returns the snapshot, alloc_frame /
// ip_ident / transmit call through frozen pointers with no lookups. The specializer
// (jit/) turns a FrozenUdpContext into an LLVM constant and compiles
// udp_send<const FrozenUdpContext> against it, so every field marked S below becomes
// an immediate in the machine code and every branch on it disappears; fields marked
// D are read at each call. For a pointer, "S -> D" means the address is frozen and
// what it points at is not.
//
// The struct is plain (standard layout, no virtuals, no padding that carries
// meaning) because the specializer reads it byte by byte along the LLVM struct type
// that clang gave it: host and bitcode must agree on its layout, which the
// static_asserts below pin for both compilers.
#pragma once

#include "context/expected.hpp"
#include "guards/guard_word.hpp"
#include "stack/buffer.hpp"
#include "stack/stats.hpp"
#include "stack/udp_send.hpp"
#include "stack/wire/bytes.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace quasi {

class Interface;
class Stack;
struct UdpSocket;

// The only host function specialized UDP code calls (besides memcpy): hands a
// finished frame to the interface's transmit batch. Interface::transmit_frame is
// virtual, so the JIT gets this non-virtual door with C linkage and a stable name.
extern "C" void quasi_interface_transmit(Interface* iface, PacketBuffer* frame);

struct FrozenUdpContext {
    static constexpr uint32_t kAnySize = 0xFFFFFFFFu;  // no message size declared

    // --- the frame (UdpFrameSpec) ---
    MacAddr src_mac;          // S  the interface's MAC
    MacAddr dst_mac;          // S  the next hop's MAC (ARP; guarded by ArpCache::generation)
    Ipv4Addr src;             // S  local address (the interface's if the socket is unbound)
    Ipv4Addr dst;             // S  the connected peer
    uint16_t src_port;        // S
    uint16_t dst_port;        // S
    uint8_t ttl;              // S  IP_TTL
    uint8_t tos;              // S  IP_TOS
    bool dont_fragment;       // S  IP_MTU_DISCOVER
    bool checksum;            // S  !SO_NO_CHECK
    uint16_t max_payload;     // S  path MTU - 28: larger sends take the general path
    uint32_t message_size;    // S  declared ADU, or kAnySize; other lengths take the general path

    // --- what the code calls through ---
    BufferPool* pool;          // S -> D  frames come from here
    Interface* iface;          // S -> D  the interface to transmit on (route, frozen)
    uint16_t* ident_counter;   // S -> D  the Stack's IP-ID counter for (src, dst, UDP)
    Stats* stats;              // S -> D  counters and drop reasons
    const int* pending_error;  // S -> D  the socket's ICMP-reported error: taken by the general path
    const uint32_t* guard;     // S -> D  the guard word of the code holding this context: non-zero = violated

    // udp_send's context policy.
    int prepare(UdpFrameSpec& spec, size_t len) const {
        if (code_guard_fired(guard) || *pending_error != 0) return kSlowPath;
        if (message_size != kAnySize ? len != message_size : len > max_payload) return kSlowPath;
        spec = frame_spec();
        return 0;
    }
    PacketPtr alloc_frame() const {
        PacketPtr p = pool->alloc();
        if (!p) stats->drop(Drop::tx_no_buffer);
        return p;
    }
    uint16_t ip_ident(const UdpFrameSpec&) const { return (*ident_counter)++; }
    void transmit(const UdpFrameSpec&, PacketPtr frame) const {
        stats->count(Counter::udp_tx);
        stats->count(Counter::ipv4_tx);
        quasi_interface_transmit(iface, frame.release());
    }

    UdpFrameSpec frame_spec() const {
        UdpFrameSpec s;
        s.iface = iface;
        s.src_mac = src_mac;
        s.dst_mac = dst_mac;
        s.src = src;
        s.dst = dst;
        s.src_port = src_port;
        s.dst_port = dst_port;
        s.ttl = ttl;
        s.tos = tos;
        s.dont_fragment = dont_fragment;
        s.checksum = checksum;
        s.max_payload = max_payload;
        return s;
    }
};

// The layout both compilers must produce (clang for the bitcode, the host compiler
// for the library): a change here is a change to the specializer's input format.
static_assert(std::is_standard_layout_v<FrozenUdpContext> && std::is_trivially_copyable_v<FrozenUdpContext>);
static_assert(offsetof(FrozenUdpContext, dst_mac) == 6 && offsetof(FrozenUdpContext, src) == 12);
static_assert(offsetof(FrozenUdpContext, ttl) == 24 && offsetof(FrozenUdpContext, max_payload) == 28);
// The pointers start at the first pointer-aligned offset after message_size: 40 and
// 88 bytes in all on 64-bit targets, 36 and 60 on 32-bit ones (Cortex-M).
constexpr size_t kFrozenUdpPointers = (36 + alignof(void*) - 1) / alignof(void*) * alignof(void*);
static_assert(offsetof(FrozenUdpContext, message_size) == 32 && offsetof(FrozenUdpContext, pool) == kFrozenUdpPointers);
static_assert(offsetof(FrozenUdpContext, guard) == kFrozenUdpPointers + 5 * sizeof(void*) &&
              sizeof(FrozenUdpContext) == kFrozenUdpPointers + 6 * sizeof(void*));

// The frozen path run by the host compiler's code, unspecialized: the reference for
// the specializer's output and the path of last resort when no JIT is available.
extern template ssize_t udp_send<const FrozenUdpContext>(const FrozenUdpContext&, const uint8_t*, size_t);

// What extraction saw besides the context: what a handle guards on.
struct UdpSnapshot {
    FrozenUdpContext context{};
    UdpSocket* socket = nullptr;
    uint64_t arp_generation = 0;  // ArpCache::generation() of context.iface when taken
};

// Freezes the send path of connected UDP socket `fd`. Errors (Error::code):
// EBADF not a UDP socket; ENOTCONN not connected; ENETUNREACH no route; EOPNOTSUPP
// broadcast or multicast peer (those take the general path); EHOSTUNREACH the next
// hop has no resolved ARP entry (send once and poll to resolve it); EMSGSIZE the
// declared message size does not fit one frame of the path MTU. The guard pointer
// is left at quasi_guard_holds; the specializer points it at its own guard word.
Expected<UdpSnapshot> freeze_udp_send(Stack& stack, int fd, std::optional<uint32_t> message_size);

// The context key: the S fields other than the guard pointer, byte for byte. Two
// contexts with equal keys get the same machine code (the guard word belongs to the
// code, not to whoever asked for it).
struct UdpContextKey {
    static constexpr size_t kBytes = 34 + 5 * sizeof(void*);  // fixed fields, pointers
    std::array<uint8_t, kBytes> bytes{};
    size_t hash = 0;

    std::string_view view() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
    friend bool operator==(const UdpContextKey& a, const UdpContextKey& b) { return a.bytes == b.bytes; }
};
struct UdpContextKeyHash {
    size_t operator()(const UdpContextKey& k) const { return k.hash; }
};
UdpContextKey context_key(const FrozenUdpContext& context);

}  // namespace quasi
