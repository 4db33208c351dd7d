// The board's compile-time sizes, the role lwIP's lwipopts.h plays: every table and
// pool the stack and the firmware take at start-up, as constexpr values, turned into
// a Stack::Config by stack_config(). Change a size here and the firmware is rebuilt
// with it; nothing else on the board chooses a size.
//
// Memory (data SSRAM2/3, 4 MB at 0x20000000) after these, at start-up:
//   packet buffers      kPacketBuffers * kPacketDataRoom     = 64 * 1664 B = 104 KiB
//   TCP arena           kArenaBytes (static): TCP's sockets, TIME-WAIT records, tables,
//                       descriptors and range sets, and the rings' budget (16 x 16 KiB)
//   UDP/ARP tables      taken from the heap by the Stack's constructor
// The TCP layer takes everything from the arena (ports/arm/echo/buddy_arena.hpp) and
// does not grow after start-up: its sockets and records are all preallocated there.
#pragma once

#include "ports/arm/echo/buddy_arena.hpp"
#include "stack/stack.hpp"
#include "stack/tcp_time_wait.hpp"

#include <cstddef>
#include <cstdint>

namespace quasi::board {

// --- packet buffers ---
// One Ethernet frame (1514 B, 1518 with an 802.1Q tag) after the stack's headroom.
constexpr size_t kPacketHeadroom = 128;
constexpr size_t kPacketDataRoom = kPacketHeadroom + 1536;
constexpr size_t kPacketBuffers = 64;

// --- neighbours, reassembly ---
constexpr size_t kArpEntries = 16;
constexpr size_t kArpPendingFrames = 16;
constexpr size_t kReassemblyDatagrams = 4;
constexpr size_t kReassemblyBytes = 16 * kPacketDataRoom;  // counted as pool data room per fragment held

// --- sockets ---
constexpr size_t kDescriptors = 32;
constexpr size_t kUdpSockets = 8;
constexpr size_t kUdpReceiveQueueBytes = 8 * 1024;
constexpr size_t kTcpSockets = 16;            // listeners, connections, children in the SYN queue
constexpr size_t kTcpSynBacklog = 8;          // half-open children per listener, then SYN cookies
constexpr size_t kTcpSendRing = 8 * 1024;     // a power of two: the ring's size exactly
constexpr size_t kTcpReceiveRing = 8 * 1024;  // also the largest window offered (no scaling needed)
constexpr size_t kTcpTimeWait = 16;           // then the oldest record retires early
constexpr size_t kTcpRingMemory = kTcpSockets * (kTcpSendRing + kTcpReceiveRing);

// --- remote specialization (jit/remote/device/) ---
constexpr size_t kRemoteCodeBytes = 16 * 1024;    // the code buffer, in data SSRAM
constexpr uint32_t kRemoteCodeCapacity = 2048;    // reserved per UDP request
constexpr uint32_t kRemoteTcpCodeCapacity = 8192; // per TCP request (3-6 KB of Thumb-2: more when a message takes two segments)

// --- the TCP arena: a buddy allocator over one static region ---
// Its largest block is SlabPool's chunk (16 KiB, aligned to its size); every request
// is rounded up to a power of two. The sum below is what start-up takes plus the
// rings' budget, plus one largest ring of slack: a ring that doubles holds its old
// storage while it takes the new. The firmware checks at boot that start-up was served.
constexpr size_t kArenaMaxBlock = 16 * 1024;
// A pool that never grows takes the smallest chunk that holds it all, or 16 KiB ones.
template <class T>
constexpr size_t slab_bytes(size_t objects) {
    const size_t chunk = SlabPool<T>::chunk_bytes_for(objects, kArenaMaxBlock);
    const size_t per_chunk = (chunk - 64) / sizeof(T);  // a header and a bitmap (<= 64 B here), the slots
    return (objects + per_chunk - 1) / per_chunk * chunk;
}
constexpr size_t block(size_t bytes) {
    return BuddyArena::block_for(bytes, alignof(std::max_align_t));
}
constexpr size_t kArenaTables =
    block(kTcpSockets * sizeof(void*)) + block(kTcpTimeWait * sizeof(void*)) +  // the two hashes' buckets
    block(kDescriptors * sizeof(DescriptorTable::Entry)) + block(sizeof(void*) + 1) +
    kTcpSockets * (block(16 * 16) + block(SeqRangeSet::kMaxRanges * 16));  // out-of-order, SACK slots
constexpr size_t round_to_max_block(size_t bytes) {
    return (bytes + kArenaMaxBlock - 1) / kArenaMaxBlock * kArenaMaxBlock;
}
constexpr size_t kArenaBytes =
    round_to_max_block(slab_bytes<TcpSocket>(kTcpSockets) + slab_bytes<TimeWaitRecord>(kTcpTimeWait) + kArenaTables +
                       kTcpRingMemory + kTcpSendRing);
static_assert(kArenaBytes % kArenaMaxBlock == 0 && kTcpSendRing <= kArenaMaxBlock && kTcpReceiveRing <= kArenaMaxBlock);

// --- the device ---
constexpr size_t kNicRxBurst = 8;  // frames moved from the LAN9118's RX FIFO per rx_burst call

// `tcp_memory`: the arena (nullptr: the heap, for a host check of these sizes).
inline Stack::Config stack_config(uint64_t seed, MemorySource* tcp_memory) {
    Stack::Config c;
    c.seed = seed;
    c.pool.count = kPacketBuffers;
    c.pool.data_room = kPacketDataRoom;
    c.pool.headroom = kPacketHeadroom;
    c.arp.max_entries = kArpEntries;
    c.arp.max_pending_total = kArpPendingFrames;
    c.reassembly.max_datagrams = kReassemblyDatagrams;
    c.reassembly.max_bytes = kReassemblyBytes;
    c.max_descriptors = kDescriptors;
    c.max_udp_sockets = kUdpSockets;
    c.udp_receive_queue_bytes = kUdpReceiveQueueBytes;
    c.tcp.max_sockets = kTcpSockets;
    c.tcp.max_syn_backlog = kTcpSynBacklog;
    c.tcp.send_buffer = kTcpSendRing;
    c.tcp.receive_buffer = kTcpReceiveRing;
    c.tcp.max_buffer_memory = kTcpRingMemory;
    c.tcp.max_time_wait = kTcpTimeWait;
    c.tcp.grow = false;
    c.tcp.memory = tcp_memory;
    return c;
}

}  // namespace quasi::board
