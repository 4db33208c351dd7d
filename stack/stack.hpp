// The Stack: one instance per core, driven by poll().
//
// It owns the buffer pool, the interfaces (each with its ARP cache), the routing
// table, reassembly, the sockets and the timer wheel. Nothing in it blocks and
// nothing allocates after construction except adding interfaces. Layer code lives
// in one file per layer, both directions together: ethernet.cpp, ipv4.cpp,
// icmp.cpp, udp.cpp; the socket API is in socket.hpp.
#pragma once

#include "guards/quasi_invariant.hpp"
#include "stack/arp.hpp"
#include "stack/buffer.hpp"
#include "stack/clock.hpp"
#include "stack/netif.hpp"
#include "stack/random.hpp"
#include "stack/reassembly.hpp"
#include "stack/route.hpp"
#include "stack/socket.hpp"
#include "stack/stats.hpp"
#include "stack/tcp.hpp"
#include "stack/timer.hpp"
#include "stack/udp.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"

#include <array>
#include <memory>

namespace quasi {

class Stack;

constexpr size_t kMaxInterfaces = 4;
constexpr size_t kBurstSize = 32;  // frames per rx/tx burst, as DPDK's l2fwd
constexpr size_t kMaxRxBurstsPerPoll = 64;  // Stack::poll drains up to this many rx bursts per device

// One attached device with its address and neighbour cache.
struct EgressRule;

class Interface final : public ArpOutput {
public:
    Interface(Stack& stack, Netif& netif, uint16_t index, Ipv4Addr address, uint8_t prefix_len);

    Netif& netif() { return netif_; }
    uint16_t index() const { return index_; }
    const MacAddr& mac() const { return mac_; }
    Ipv4Addr address() const { return address_; }
    uint8_t prefix_len() const { return prefix_len_; }
    // The subnet's directed broadcast address (RFC 919/922).
    Ipv4Addr directed_broadcast() const {  // inline: two checks on every datagram received
        uint32_t mask = prefix_len_ == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len_);
        return Ipv4Addr{address_.value | ~mask};
    }
    ArpCache& arp() { return arp_; }
    // The device completes TCP/UDP checksums (Offloads::tx_checksum, fixed per device).
    bool tx_checksum_offload() const { return tx_checksum_offload_; }

    // Queues a finished frame; sent at the next flush() or when the batch is full.
    void transmit_frame(PacketPtr frame) override;
    bool is_local_address(Ipv4Addr addr) const override { return addr == address_; }
    bool is_subnet_broadcast(Ipv4Addr addr) const override { return prefix_len_ < 31 && addr == directed_broadcast(); }
    void flush();

    // The IP MTU; PMTU discovery and specialized handles read it.
    QuasiInvariant<uint16_t> mtu;
    // Set only while a handle runs stale specialized code that transmits here: its
    // frames go through the rule instead (guards/reinforce.hpp).
    EgressRule* egress_rule = nullptr;

private:
    Stack& stack_;
    Netif& netif_;
    uint16_t index_;
    MacAddr mac_;
    Ipv4Addr address_;
    uint8_t prefix_len_;
    bool tx_checksum_offload_;
    ArpCache arp_;
    std::array<PacketPtr, kBurstSize> tx_batch_;
    size_t tx_count_ = 0;
};

// Per-destination path MTU learnt from ICMP fragmentation-needed (RFC 1191).
class PathMtuCache {
public:
    static constexpr size_t kEntries = 64;
    static constexpr TimeNs kLifetime = 600 * kSecond;  // RFC 1191 6.3: about 10 minutes
    static constexpr uint16_t kMinMtu = 68;              // RFC 791: every link carries 68

    // The path MTU to dst, or `link_mtu` when nothing lower is known. `expires`, when
    // given, receives when the entry the answer came from expires (the answer may
    // rise then), or DstEntry::kNoExpiry when it came from no entry.
    uint16_t get(Ipv4Addr dst, uint16_t link_mtu, TimeNs now, TimeNs* expires = nullptr) const;
    // Records a lower MTU; returns true when it changed something.
    bool lower(Ipv4Addr dst, uint16_t mtu, TimeNs now);

    // Bumped whenever lower() changes something: specialized handles that froze a path
    // MTU watch it (expiry only raises an MTU, which frozen code handles by declining;
    // a socket's DstEntry notes the expiry instead).
    QuasiInvariant<uint64_t> version;

private:
    struct Entry {
        Ipv4Addr dst;
        uint16_t mtu = 0;
        TimeNs expires = 0;
    };
    std::array<Entry, kEntries> entries_{};
    size_t filled_ = 0;  // entries_[filled_..] were never used: get() stops there
};

class Stack {
public:
    struct Config {
        BufferPool::Config pool{};
        ArpCache::Config arp{};
        Reassembler::Config reassembly{};
        size_t max_descriptors = 1024;
        size_t max_udp_sockets = 256;
        TcpLayer::Config tcp{};
        size_t udp_receive_queue_bytes = 256 * 1024;  // default SO_RCVBUF
        uint32_t icmp_errors_per_second = 1000;          // Linux icmp_msgs_per_sec
        uint32_t icmp_error_burst = 50;                  // Linux icmp_msgs_burst
        uint8_t default_ttl = 64;                        // RFC 1700 / Linux ip_default_ttl
        uint64_t seed = 0;  // keys the hashes behind ports and IP IDs; give real entropy outside tests
    };

    // With `shared_pool`, buffers come from a pool the caller owns and may share with
    // other stacks (e.g. two stacks on one in-memory link, zero-copy); it must outlive
    // every stack and link using it. Otherwise the stack owns a pool of config.pool.
    Stack(const Config& config, const Clock& clock, BufferPool* shared_pool = nullptr);
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;
    ~Stack();

    // Attaches a device with one address; adds the connected route and announces the
    // address with a gratuitous ARP. Returns the interface index or -errno.
    int add_interface(Netif& netif, Ipv4Addr address, uint8_t prefix_len);
    // A route via gateway (which must be on a connected subnet) or, with an
    // unspecified gateway, an on-link route out of interface `ifindex`. 0 or -errno.
    int add_route(Ipv4Addr prefix, uint8_t prefix_len, Ipv4Addr gateway, int ifindex = -1);
    int remove_route(Ipv4Addr prefix, uint8_t prefix_len);

    // One pass of the run-to-completion loop: receive a burst from every interface and
    // process it to the sockets, run due timers, flush transmit batches. Returns the
    // number of frames received plus timers fired (0 means idle).
    size_t poll();

    const Stats& stats() const { return stats_; }
    Stats& stats() { return stats_; }
    BufferPool& pool() { return *pool_; }
    const BufferPool& pool() const { return *pool_; }
    uint32_t random_u32() { return random_.next32(); }
    // The time. Reading the clock costs as much as processing a small part of a
    // segment, and a segment asks for the time a dozen times (RTT, timestamps, timers,
    // RACK), so a TimePin reads it once for everything done for one received frame,
    // one timer pass or one socket call, as Linux stamps a segment once (tcp_mstamp).
    TimeNs now() const { return time_pinned_ ? pinned_time_ : clock_.now(); }
    // While it lives, now() answers the clock's reading taken at its construction;
    // nested pins keep the outer reading.
    class TimePin {
    public:
        explicit TimePin(Stack& stack) : stack_(stack), outer_(!stack.time_pinned_) {
            if (!outer_) return;
            stack.pinned_time_ = stack.clock_.now();
            stack.time_pinned_ = true;
        }
        ~TimePin() {
            if (outer_) stack_.time_pinned_ = false;
        }
        TimePin(const TimePin&) = delete;
        TimePin& operator=(const TimePin&) = delete;

    private:
        Stack& stack_;
        bool outer_;
    };
    const Config& config() const { return config_; }
    RouteTable& routes() { return routes_; }
    size_t interface_count() const { return interface_count_; }
    Interface* interface(size_t index) { return index < interface_count_ ? interfaces_[index].get() : nullptr; }
    TimerWheel& timers() { return timers_; }
    UdpLayer& udp() { return udp_; }
    TcpLayer& tcp() { return tcp_; }
    DescriptorTable& descriptors() { return descriptors_; }
    PathMtuCache& path_mtu() { return path_mtu_; }
    // RFC 1191: an ICMP "fragmentation needed" report of `mtu` for dst, once believed
    // (TCP checks the quoted sequence number first, RFC 5927). Lowers the path MTU
    // when the report is below the current estimate (the route's link MTU or a lower
    // one learnt); counts pmtu_updates. False when nothing changed.
    bool lower_path_mtu(Ipv4Addr dst, uint16_t mtu);

    bool is_local_address(Ipv4Addr addr) const;
    // Which interface address to send from towards dst (RFC 1122 3.3.4.3).
    Ipv4Addr source_address_for(Ipv4Addr dst) const;
    void flush_all();

    // --- Ethernet (ethernet.cpp) ---
    void ethernet_input(Interface& iface, PacketPtr frame);
    // Room a layer must leave in front of an IPv4 header for the link header.
    static constexpr size_t kLinkHeadroom = 18;

    // --- IPv4 (ipv4.cpp) ---
    // Egress rules of stale specialized code that NAT-translate its source: replies
    // to the translated address are translated back before delivery while the rule
    // lives (guards/reinforce.hpp). Empty but for a route change under such a handle.
    EgressRule* ingress_rules = nullptr;
    struct Ipv4Send {
        Ipv4Addr src;  // unspecified: chosen from the route
        Ipv4Addr dst;
        uint8_t protocol = 0;
        uint8_t ttl = 64;
        uint8_t tos = 0;
        bool dont_fragment = false;
        bool allow_broadcast = false;
    };
    // Sends `datagram` (a chain holding the transport header and payload) to
    // dst: routing, fragmentation to the path MTU, neighbour resolution. 0 or -errno
    // (-ENETUNREACH, -EMSGSIZE with DF, -ENOBUFS, -EACCES for broadcast not allowed).
    int ipv4_output(const Ipv4Send& send, PacketPtr datagram);
    void ipv4_input(Interface& iface, PacketPtr packet);
    // The IP identification for a datagram (RFC 6864, RFC 7739: per-destination, keyed).
    uint16_t next_ip_ident(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol) { return (*ip_ident_counter(src, dst, protocol))++; }
    // The counter next_ip_ident draws from for (src, dst, protocol): a specialized send
    // path freezes the pointer and increments the very same counter.
    uint16_t* ip_ident_counter(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol);
    // The route to dst for a socket bound to `local` (unspecified: any), from the
    // socket's cache (DstEntry): used as it is while every input it was computed from
    // holds, refilled otherwise. Null when no route leads to dst. `resolved` says
    // whether `mac` holds the next hop's MAC (looked up again while it does not).
    const DstEntry* route_cached(DstEntry& cache, Ipv4Addr dst, Ipv4Addr local, uint8_t protocol);
    // Hands a frame (link header space reserved, IPv4 header written) to the link.
    void link_output(Interface& iface, Ipv4Addr next_hop, PacketPtr packet);

    // --- ICMP (icmp.cpp) ---
    // `datagram` starts at its IPv4 header (header_len bytes).
    void icmp_input(Interface& iface, const Ipv4Repr& ip, size_t header_len, PacketPtr datagram);
    // Sends an ICMP error about `offending` (whose data starts at its IPv4 header),
    // unless RFC 1122 3.2.2 forbids it or the rate limit says no.
    void icmp_send_error(uint8_t type, uint8_t code, uint32_t rest, const PacketBuffer& offending);

private:
    void icmp_error_input(const IcmpView& icmp);
    static void housekeeping(Timer& timer, TimeNs now);
    bool icmp_rate_allows(TimeNs now);
    int ipv4_fragment_and_send(const Ipv4Repr& header, const Route& route, uint16_t mtu,
                               const PacketBuffer& datagram);
    bool fill_route_cache(DstEntry& cache, Ipv4Addr dst, Ipv4Addr local, uint8_t protocol);

    Config config_;
    const Clock& clock_;
    bool time_pinned_ = false;
    TimeNs pinned_time_ = 0;
    Stats stats_;
    std::unique_ptr<BufferPool> owned_pool_;
    BufferPool* pool_;
    Random random_;
    SipKey hash_key_;
    SipHashMemo<2> ident_hash_;  // ip_ident_counter's last (src, dst, protocol)
    std::array<std::unique_ptr<Interface>, kMaxInterfaces> interfaces_;
    size_t interface_count_ = 0;
    RouteTable routes_;
    PathMtuCache path_mtu_;
    Reassembler reassembler_;
    TimerWheel timers_;
    Timer housekeeping_timer_;
    UdpLayer udp_;
    TcpLayer tcp_;
    DescriptorTable descriptors_;
    static constexpr size_t kIdentBuckets = 256;
    std::array<uint16_t, kIdentBuckets> ident_counters_{};
    uint64_t icmp_tokens_milli_ = 0;  // token bucket, in thousandths of a token
    TimeNs icmp_refill_time_ = 0;
};

// Inline: it is the whole per-send cost of routing on the generic send paths.
inline const DstEntry* Stack::route_cached(DstEntry& c, Ipv4Addr dst, Ipv4Addr local, uint8_t protocol) {
    bool valid = c.iface && c.dst == dst && c.local == local && c.route_version == routes_.version.get() &&
                 c.pmtu_version == path_mtu_.version.get() && c.link_mtu == c.iface->mtu.get() &&
                 (c.pmtu_expires == DstEntry::kNoExpiry || now() < c.pmtu_expires);
    if (!valid && !fill_route_cache(c, dst, local, protocol)) return nullptr;
    ArpCache& arp = c.iface->arp();
    if (!c.resolved || c.arp_generation != arp.generation()) {
        c.arp_generation = arp.generation();
        c.resolved = arp.lookup(c.next_hop, c.mac);
    }
    return &c;
}

}  // namespace quasi
