// The board's compile-time sizes, the role lwIP's lwipopts.h plays: every table and
// pool the stack and the firmware take at start-up, as constexpr values, turned into
// a Stack::Config by stack_config(). Change a size here and the firmware is rebuilt
// with it; nothing else on the board chooses a size.
//
// Memory (data SSRAM2/3, 4 MB at 0x20000000) after these, at start-up:
//   packet buffers      kPacketBuffers * kPacketDataRoom     = 64 * 1664 B = 104 KiB
//   TCP rings           kTcpSockets * (send + receive ring)  = 16 * 16 KiB = 256 KiB
//   TCP/UDP/ARP tables  taken by the Stack's constructor (see the firmware's boot line)
// The TCP rings come from a fixed pool the firmware carves at start-up (ports/arm/
// echo/heap.cpp) until the core takes ring memory through its own seam.
#pragma once

#include "stack/stack.hpp"

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
constexpr size_t kTcpRings = 2 * kTcpSockets;

// --- the device ---
constexpr size_t kNicRxBurst = 8;  // frames moved from the LAN9118's RX FIFO per rx_burst call

inline Stack::Config stack_config(uint64_t seed) {
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
    c.tcp.max_buffer_memory = kTcpSockets * (kTcpSendRing + kTcpReceiveRing);
    return c;
}

}  // namespace quasi::board
