// Software flow steering between the per-core stacks on one port, for devices that
// cannot spread flows themselves (no RSS: net_ring, net_af_packet, virtio without
// multiqueue). Each core polls its own rx queue; a frame whose flow belongs to another
// core is handed to that core through a single-producer single-consumer rte_ring, so
// every TCP connection and UDP flow is seen by exactly one Stack.
//
// Ownership: flow_owner() hashes the IPv4 addresses and, for unfragmented TCP and UDP,
// the ports, symmetrically (a flow and its reply hash alike), modulo the core count.
// ARP is delivered to every core (copied): each core's neighbour cache learns, and each
// core answers for the shared address (the peer sees duplicate, identical replies). ICMP
// and fragments hash by addresses only: an ICMP echo is answered by one core; a
// fragmented UDP datagram is reassembled and answered by one core, possibly not the
// one that owns the flow's unfragmented datagrams (UDP sockets are bound on every core).
//
// Devices with RSS spread flows themselves, by the Toeplitz hash of the same tuple under
// the port's (symmetric) key, through their redirection table (RETA): given those
// (use_rss), ownership is that hash and table, so the frames the device delivers are
// already on their core and the connections a core opens pick ports the device will
// bring back to it. Otherwise the software hash below decides.
//
// Why forwarding through rings and not shared tables: a shared ARP cache or connection
// table would put locks or atomics on every packet of every core; replicating the rare
// ARP frames and forwarding misplaced frames keeps each Stack single-threaded.
#pragma once

#include "stack/buffer.hpp"
#include "stack/netif.hpp"
#include "stack/tcp_tuple.hpp"
#include "stack/wire/bytes.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct rte_ring;

namespace quasi::dpdk {

constexpr uint16_t kAllCores = 0xffff;

// How a flow's owner is found: the software hash (no RSS), or RSS's Toeplitz hash under
// `key` looked up in `reta` (entry i: the queue, i.e. core, of hashes with h % size == i).
struct FlowHash {
    std::vector<uint8_t> key;     // empty: the software hash
    std::vector<uint16_t> reta;
};

// The core (0..cores-1) that owns the frame's flow, or kAllCores for ARP.
uint16_t flow_owner(std::span<const uint8_t> frame, uint16_t cores, const FlowHash& how = {});
// The owner of a TCP or UDP flow given by its addresses and ports (either direction
// with the software hash or a symmetric key).
uint16_t flow_owner(Ipv4Addr a, uint16_t port_a, Ipv4Addr b, uint16_t port_b, uint8_t protocol, uint16_t cores,
                    const FlowHash& how = {});

// The Toeplitz hash (Microsoft, "RSS hashing functions"): for every set bit of `input`,
// most significant first, XOR in the 32 key bits that start at that bit's position.
uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input);
// Over an IPv4 tuple as NICs feed it: source and destination address, then (TCP/UDP)
// source and destination port, all big-endian. ports == false: the addresses only.
uint32_t toeplitz_ipv4(std::span<const uint8_t> key, uint32_t src, uint32_t dst, uint16_t src_port, uint16_t dst_port,
                       bool ports);

class FlowSteering;

// Core `core`'s view of the port: its own queue plus what other cores forward to it.
class SteeredNetif final : public Netif {
public:
    SteeredNetif(FlowSteering& group, uint16_t core, Netif& queue, BufferPool& pool)
        : group_(group), core_(core), queue_(queue), pool_(pool) {}
    size_t rx_burst(std::span<PacketPtr> out) override;
    size_t tx_burst(std::span<PacketPtr> frames) override { return queue_.tx_burst(frames); }
    MacAddr mac() const override { return queue_.mac(); }
    uint16_t mtu() const override { return queue_.mtu(); }
    Offloads offloads() const override { return queue_.offloads(); }
    const char* name() const override { return queue_.name(); }

    uint64_t forwarded() const { return forwarded_; }         // frames this core handed to another
    uint64_t forward_dropped() const { return forward_dropped_; }  // the other core's ring was full
    uint64_t own() const { return own_; }                     // frames from its queue it kept
    // Frames of a TCP or UDP flow this core owns that came by another path (its own
    // queue, or one other core's ring) than the flow's frame before them. A device that
    // keeps each flow on one queue never causes one; net_af_packet does when the kernel's
    // fanout rolls a flow over to another socket because its own socket's ring is full
    // (PACKET_FANOUT_FLAG_ROLLOVER, set by DPDK 22.11's PMD). Frames on two paths reach
    // the stack out of their order on the wire, which TCP sees as reordering (SACK,
    // duplicate ACKs, and PAWS drops of reordered old segments, RFC 7323 5.3).
    uint64_t path_switches() const { return path_switches_; }
    // TCP segments handed to this core's stack with a timestamp (RFC 7323 TSval) older
    // than their flow's previous segment: the sender's order was lost on the way, by
    // the device or a path switch. The stack's PAWS check (RFC 7323 5.3) drops such a
    // segment when a newer one has moved TS.Recent; with none of these, it should not.
    uint64_t reordered() const { return reordered_; }
    uint16_t core() const { return core_; }
    uint16_t cores() const;

    // For TcpLayer::Config::local_port_ok (context: this SteeredNetif): the connections
    // a core opens take only local ports whose flows are steered back to it.
    static bool owns_tuple(const void* self, const TcpTuple& tuple);

private:
    void hand_to(uint16_t core, PacketPtr frame);
    // Remembers the path (a core's number: core_ for the own queue) of frame's flow.
    void note_path(const PacketBuffer& frame, uint16_t path);
    FlowSteering& group_;
    uint16_t core_;
    Netif& queue_;
    BufferPool& pool_;
    uint64_t forwarded_ = 0, forward_dropped_ = 0, own_ = 0, path_switches_ = 0, reordered_ = 0;
    // The last path of recent flows, by a hash of the flow: a flow that shares a slot
    // with another replaces it (a switch is then missed, never invented: the flow's
    // endpoints are kept whole).
    struct LastPath {
        uint64_t low = 0, high = 0;  // the two endpoints (address << 16 | port), ordered; high has the protocol
        uint16_t path = 0;
        bool has_tsval = false;
        uint32_t tsval = 0;  // the last TCP segment's
    };
    std::array<LastPath, 256> last_paths_{};
};

class FlowSteering {
public:
    // Rings for `cores` cores (names start with `name`, unique in the process).
    static std::unique_ptr<FlowSteering> create(const char* name, uint16_t cores, std::string* error);
    ~FlowSteering();
    uint16_t cores() const { return cores_; }
    // Steer as the device's RSS does (its key and redirection table), not by the
    // software hash. Before the cores run.
    void use_rss(FlowHash how) { how_ = std::move(how); }
    const FlowHash& how() const { return how_; }
    // Core `core`'s Netif over its queue (its pool supplies ARP copies for the others).
    SteeredNetif& attach(uint16_t core, Netif& queue, BufferPool& pool);
    SteeredNetif& netif(uint16_t core) { return *netifs_[core]; }
    // Frees what is still in the rings (after the stacks are gone).
    void drain();

private:
    friend class SteeredNetif;
    explicit FlowSteering(uint16_t cores) : cores_(cores), rings_(size_t{cores} * cores, nullptr) {}
    rte_ring* ring(uint16_t from, uint16_t to) { return rings_[size_t{from} * cores_ + to]; }
    uint16_t cores_;
    FlowHash how_;
    std::vector<rte_ring*> rings_;
    std::vector<std::unique_ptr<SteeredNetif>> netifs_;
};

}  // namespace quasi::dpdk
