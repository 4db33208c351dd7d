// ARP neighbour cache for one Ethernet interface: RFC 826 resolution, RFC 1122 2.3.2
// timeouts and queueing, RFC 5227 conflict detection and defence.
//
// The cache knows nothing of routing: the owner (the Stack) hands it frames for a next
// hop and ARP bodies it received, and gets frames back through ArpOutput. All memory is
// taken in the constructor (entry array and hash buckets); frames waiting for
// resolution sit in intrusive per-entry queues, so nothing here allocates afterwards.
//
// Lifecycle of a dynamic entry (RFC 1122 2.3.2.1 suggests timeouts plus unicast poll):
//   incomplete --reply/request from it--> reachable --reachable_time--> stale
//   stale --used--> unicast poll (max_requests, retry_interval) --answer--> reachable
//   stale --unused for stale_time, or polls unanswered--> removed
//   incomplete --max_requests unanswered--> removed, queued frames dropped
#pragma once

#include "stack/buffer.hpp"
#include "stack/clock.hpp"
#include "stack/stats.hpp"
#include "stack/wire/arp.hpp"

#include <boost/intrusive/unordered_set.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

namespace quasi {

class ArpOutput {  // implemented by the Stack
public:
    virtual ~ArpOutput() = default;
    // Sends a complete Ethernet frame (ARP packets, and frames whose next hop resolved).
    virtual void transmit_frame(PacketPtr frame) = 0;
    // Is addr one of our addresses on this interface?
    virtual bool is_local_address(Ipv4Addr addr) const = 0;
    // Is addr this interface's subnet broadcast address? No host owns it, so no
    // cache entry may point at it.
    virtual bool is_subnet_broadcast(Ipv4Addr addr) const = 0;
};

class ArpCache {
public:
    struct Config {
        size_t max_entries = 64;
        size_t max_pending_total = 64;  // frames waiting for resolution, whole cache
        size_t max_pending_per_entry = 8;
        TimeNs reachable_time = 30 * kSecond;  // then the entry becomes stale
        TimeNs stale_time = 60 * kSecond;      // a stale entry unused this long is removed
        TimeNs retry_interval = 1 * kSecond;   // RFC 1122 2.3.2.1: at most one request per second
        unsigned max_requests = 3;             // then give up (broadcasts, or unicast polls)
    };
    enum class State : uint8_t { free, incomplete, reachable, stale };

    // RFC 5227 1.1 DEFEND_INTERVAL: at most one defensive announcement per this time.
    static constexpr TimeNs kDefendInterval = 10 * kSecond;

    ArpCache(const Config& config, ArpOutput& out, BufferPool& pool, Stats& stats, MacAddr our_mac);
    ArpCache(const ArpCache&) = delete;
    ArpCache& operator=(const ArpCache&) = delete;
    ~ArpCache();

    // Output path. `frame` is a complete Ethernet frame except its destination MAC.
    // Resolved (reachable/stale): dst MAC set and frame sent; a stale entry also starts a
    // unicast poll. Otherwise the frame is queued and a broadcast request sent (at most
    // once per retry_interval). The request's sender IP is the frame's IPv4 source when
    // that is ours, else 0.0.0.0 (an RFC 5227 probe, which owners still answer).
    void resolve_and_send(Ipv4Addr next_hop, PacketPtr frame, TimeNs now);
    // True and the MAC if addr is reachable or stale; never changes anything.
    bool lookup(Ipv4Addr addr, MacAddr& mac) const;
    // `arp` is the ARP body of a received frame (after the Ethernet header).
    void input(std::span<uint8_t> arp, const MacAddr& eth_src, TimeNs now);
    // Timers: retries, give-ups, reachable->stale, stale polls and removal. Cheap when
    // nothing is due.
    void poll(TimeNs now);
    // One gratuitous ARP (RFC 5227 3 announcement). RFC 5227 asks for ANNOUNCE_NUM (2)
    // of them ANNOUNCE_WAIT (2 s) apart: the owner calls this again.
    void announce(Ipv4Addr addr);
    // A permanent entry, never aged nor overwritten by received ARP. False when the
    // cache is full of entries that cannot be reused.
    bool add_static(Ipv4Addr addr, MacAddr mac);
    // Empties the cache (static entries too); queued frames dropped as arp_unresolved.
    void flush();

    State state_of(Ipv4Addr addr) const;
    size_t pending_frames() const { return pending_total_; }
    size_t entries() const { return used_; }
    // Bumped whenever an answer lookup() gave may no longer hold: a resolved entry's MAC
    // changed or a resolved entry was removed. Specialized code guards on it.
    uint64_t generation() const { return generation_; }

private:
    static constexpr TimeNs kNever = std::numeric_limits<TimeNs>::max();

    struct Entry {
        boost::intrusive::unordered_set_member_hook<> index_hook;
        PacketQueue pending;  // frames waiting for resolution, oldest first
        Ipv4Addr addr;
        MacAddr mac;
        State state = State::free;
        bool is_static = false;
        unsigned requests_sent = 0;  // since the last confirmation
        Ipv4Addr solicit_source;     // sender IP for our requests
        TimeNs state_since = 0;      // created, confirmed, or went stale
        TimeNs last_used = 0;        // output use: LRU order and stale expiry
        TimeNs last_request = 0;
    };
    struct EntryKey {
        using type = uint32_t;
        uint32_t operator()(const Entry& e) const { return e.addr.value; }
    };
    using Index = boost::intrusive::unordered_set<
        Entry,
        boost::intrusive::member_hook<Entry, boost::intrusive::unordered_set_member_hook<>,
                                      &Entry::index_hook>,
        boost::intrusive::key_of_value<EntryKey>, boost::intrusive::power_2_buckets<true>,
        boost::intrusive::constant_time_size<false>>;

    static bool resolved(const Entry& e) { return e.state == State::reachable || e.state == State::stale; }
    Entry* find(Ipv4Addr addr);
    const Entry* find(Ipv4Addr addr) const;
    Entry* create(Ipv4Addr addr, TimeNs now);
    Entry* eviction_victim();
    void remove(Entry& e);

    void enqueue(Entry& e, PacketPtr frame);
    void transmit(const Entry& e, PacketPtr frame);
    void confirm(Entry& e, const MacAddr& mac, TimeNs now);
    void maybe_request(Entry& e, TimeNs now);
    void send_request(Entry& e, TimeNs now);
    Ipv4Addr solicit_source(PacketBuffer& frame) const;

    bool valid_sender_mac(const MacAddr& mac) const;
    bool merge(const ArpRepr& arp, TimeNs now);
    void answer_probe(const ArpRepr& arp);
    void on_conflict(const ArpRepr& arp, TimeNs now);
    void send_reply(const ArpRepr& request);
    bool send_arp(const MacAddr& eth_dst, const ArpRepr& arp);

    void age(Entry& e, TimeNs now);
    void retry_or_give_up(Entry& e, TimeNs now);
    TimeNs deadline(const Entry& e) const;
    void schedule(const Entry& e);

    Config config_;
    ArpOutput& out_;
    BufferPool& pool_;
    Stats& stats_;
    MacAddr our_mac_;
    // Declared before index_ so the index (whose destructor touches hooks) dies first.
    std::unique_ptr<Entry[]> entries_;
    std::unique_ptr<Index::bucket_type[]> buckets_;
    Index index_;
    size_t used_ = 0;
    size_t pending_total_ = 0;
    uint64_t generation_ = 0;
    TimeNs next_deadline_ = kNever;
    bool defended_ = false;
    TimeNs last_defence_ = 0;
};

}  // namespace quasi
