// The frozen context of the TCP send path (DESIGN.md, "binding-time annotations").
//
// FrozenTcpContext is the context policy of tcp_emit / tcp_output (stack/
// tcp_output_impl.hpp) for an ESTABLISHED connection whose invariants were
// snapshotted: prepare() returns the frozen frame (addresses, ports, next-hop MAC,
// TTL/TOS) with no route or neighbour lookup. tcp_send_frozen (context/
// tcp_frozen_send.hpp) is the socket-level send built on it: with a declared
// application data unit (ADU) it appends the message and emits its segments
// straight, without the coalescing, Nagle and window arithmetic of the general
// loop; without one it runs the general loop (tcp_output) over the frozen frame.
//
// Fields marked S become immediates once specialized; D is read at each call.
// "S -> D": the address is frozen, what it points at is not. Unlike UDP, most of
// what a TCP send touches is dynamic (sequence numbers, windows, the send buffer,
// timers): the code reads it through the frozen socket pointer. What the handshake
// fixed (timestamps, SACK, window scale) is S; the code checks the socket still
// agrees at entry, which is its guard for these (they are not QuasiInvariants).
//
// The checksum is not a field: TCP's is mandatory (RFC 9293 3.1) and the frozen
// path computes it in software (TcpFrameSpec::checksum_offload stays false; only the
// live path leaves it to a device that offers transmit checksum offload).
//
// The struct is plain (standard layout, trivially copyable) because the
// specializer reads it byte by byte along the LLVM struct type clang gave it; the
// static_asserts below pin the layout for both compilers.
#pragma once

#include "context/expected.hpp"
#include "guards/guard_word.hpp"
#include "stack/buffer.hpp"
#include "stack/stats.hpp"
#include "stack/tcp_send.hpp"
#include "stack/udp_send.hpp"  // kSlowPath
#include "stack/wire/bytes.hpp"

#include <sys/types.h>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace quasi {

class Interface;
class Stack;
class TcpLayer;
struct TcpSocket;
class SendTimes;

// Shared with the UDP path (context/udp_context.hpp): the transmit door. The guard
// word that never fires, quasi_guard_holds, is guards/'.
extern "C" void quasi_interface_transmit(Interface* iface, PacketBuffer* frame);

// Host doors of the TCP layer for JIT code: the TcpLayer members the send path
// calls that live in the stack's own translation units (clock, timer wheel, route
// table). The bitcode defines those members as calls to these C names.
extern "C" uint32_t quasi_tcp_ts_now(const TcpLayer* layer, const TcpSocket* socket);
extern "C" void quasi_tcp_arm_retransmit(TcpLayer* layer, TcpSocket* socket);
extern "C" uint16_t quasi_tcp_local_mss(const TcpLayer* layer, const TcpSocket* socket);
// Growing a send ring (ByteRing::reserve beyond its storage) takes memory from the
// layer's budget, which only the host holds.
extern "C" bool quasi_byte_ring_reserve(ByteRing* ring, size_t bytes);
// RACK's send-time records are taken at the first send after idle, from the layer's memory.
extern "C" bool quasi_send_times_take(SendTimes* times);

struct FrozenTcpContext {
    static constexpr uint32_t kAnySize = 0xFFFFFFFFu;  // no ADU declared
    // An ADU is sent straight in at most this many segments (one tcp_output call
    // sends at most 64, tcp_detail::kMaxSegmentsPerOutput).
    static constexpr uint32_t kMaxSegmentsPerMessage = 64;

    // --- the frame (TcpFrameSpec) ---
    MacAddr src_mac;    // S  the interface's MAC
    MacAddr dst_mac;    // S  the next hop's MAC (ARP; guarded by ArpCache::generation)
    Ipv4Addr src;       // S  the connection's local address
    Ipv4Addr dst;       // S  the peer
    Ipv4Addr next_hop;  // S  the peer or the route's gateway
    uint16_t src_port;  // S
    uint16_t dst_port;  // S
    uint8_t ttl;        // S  IP_TTL
    uint8_t tos;        // S  IP_TOS

    // --- the connection ---
    bool timestamps;        // S  RFC 7323 timestamps negotiated (ts_ok): 12 option bytes per segment
    bool sack;              // S  SACK permitted (sack_ok): blocks ride on segments while data is out of order
    uint8_t rcv_wscale;     // S  the shift of the windows we advertise
    bool nodelay;           // S  TCP_NODELAY
    uint16_t snd_mss;       // S  the effective send MSS (peer's MSS, PMTU, TCP_MAXSEG)
    uint16_t payload_mss;   // S  payload of a full segment: snd_mss less the timestamp option
    uint32_t message_size;  // S  declared ADU, or kAnySize: other lengths take the general path
    int32_t fd;             // S  the descriptor: a socket whose fd changed was closed

    // --- what the code reads and calls through ---
    TcpSocket* socket;        // S -> D  sequence space, windows, buffers, timers
    TcpLayer* layer;          // S -> D  clock, retransmission timer (host doors)
    BufferPool* pool;         // S -> D  frames come from here
    Interface* iface;         // S -> D  the interface to transmit on (route, frozen)
    uint16_t* ident_counter;  // S -> D  the Stack's IP-ID counter for (src, dst, TCP)
    Stats* stats;             // S -> D  counters and drop reasons
    const uint32_t* guard;    // S -> D  the guard word of the code holding this context: non-zero = violated

    // tcp_emit's context policy.
    int prepare(TcpFrameSpec& spec) const {
        spec.iface = iface;
        spec.src_mac = src_mac;
        spec.dst_mac = dst_mac;
        spec.resolved = true;
        spec.next_hop = next_hop;
        spec.src = src;
        spec.dst = dst;
        spec.src_port = src_port;
        spec.dst_port = dst_port;
        spec.ttl = ttl;
        spec.tos = tos;
        return 0;
    }
    PacketPtr alloc_frame() const {
        PacketPtr p = pool->alloc();
        if (!p) stats->drop(Drop::tx_no_buffer);
        return p;
    }
    uint16_t ip_ident(const TcpFrameSpec&) const { return (*ident_counter)++; }
    void transmit(const TcpFrameSpec&, PacketPtr frame) const {
        stats->count(Counter::tcp_segments_tx);
        stats->count(Counter::ipv4_tx);
        quasi_interface_transmit(iface, frame.release());
    }
};

static_assert(std::is_standard_layout_v<FrozenTcpContext> && std::is_trivially_copyable_v<FrozenTcpContext>);
static_assert(offsetof(FrozenTcpContext, dst_mac) == 6 && offsetof(FrozenTcpContext, src) == 12);
static_assert(offsetof(FrozenTcpContext, next_hop) == 20 && offsetof(FrozenTcpContext, ttl) == 28);
static_assert(offsetof(FrozenTcpContext, timestamps) == 30 && offsetof(FrozenTcpContext, snd_mss) == 34);
static_assert(offsetof(FrozenTcpContext, message_size) == 40 && offsetof(FrozenTcpContext, fd) == 44);
// The pointers follow at 48 on every target (4- and 8-byte pointers alike): 104 bytes
// on 64-bit targets, 76 on 32-bit ones (Cortex-M, whose specializer will be remote).
static_assert(offsetof(FrozenTcpContext, socket) == 48 &&
              offsetof(FrozenTcpContext, guard) == 48 + 6 * sizeof(void*));
static_assert(sizeof(FrozenTcpContext) == 48 + 7 * sizeof(void*));

// The frozen send: bytes accepted or -errno as send(), or kSlowPath when the
// connection is not in the state the code was made for (the caller then sends
// through TcpLayer::send). Defined in context/tcp_frozen_send.hpp; instantiated by
// the host compiler (the reference and the path of last resort) and in the bitcode.
template <class Ctx>
ssize_t tcp_send_frozen(Ctx& ctx, const uint8_t* data, size_t len);
extern template ssize_t tcp_send_frozen<const FrozenTcpContext>(const FrozenTcpContext&, const uint8_t*, size_t);

// What extraction saw besides the context: what a handle guards on.
struct TcpSnapshot {
    FrozenTcpContext context{};
    TcpSocket* socket = nullptr;
    uint64_t arp_generation = 0;  // ArpCache::generation() of context.iface when taken
};

// Freezes the send path of TCP socket `fd`. Errors (Error::code): EBADF not a TCP
// socket; ENOTCONN not ESTABLISHED (connecting, listening, closed, or past our or
// the peer's FIN: those take the general path); EPIPE the user shut writing down;
// ENETUNREACH no route to the peer; EHOSTUNREACH the next hop has no resolved ARP
// entry; EMSGSIZE a declared ADU of 0 bytes, larger than the send buffer, or of more
// than kMaxSegmentsPerMessage segments. The guard pointer is left at
// quasi_guard_holds; the specializer points it at its own guard word.
Expected<TcpSnapshot> freeze_tcp_send(Stack& stack, int fd, std::optional<uint32_t> message_size);

// The context key: the S fields other than the guard pointer, byte for byte, after
// a tag that keeps TCP keys apart from UDP ones in the shared code cache.
struct TcpContextKey {
    static constexpr size_t kBytes = 1 + 46 + 6 * sizeof(void*);  // tag, fixed fields, pointers
    std::array<uint8_t, kBytes> bytes{};
    size_t hash = 0;

    std::string_view view() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
    friend bool operator==(const TcpContextKey& a, const TcpContextKey& b) { return a.bytes == b.bytes; }
};
struct TcpContextKeyHash {
    size_t operator()(const TcpContextKey& k) const { return k.hash; }
};
TcpContextKey context_key(const FrozenTcpContext& context);

}  // namespace quasi
