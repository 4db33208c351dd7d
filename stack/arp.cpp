#include "stack/arp.hpp"

#include "stack/wire/ethernet.hpp"

#include <algorithm>
#include <utility>

namespace quasi {

namespace {

// Power of two (power_2_buckets), at least one, about one bucket per entry.
size_t bucket_count(size_t max_entries) {
    size_t n = 1;
    while (n < max_entries) n <<= 1;
    return n;
}

constexpr size_t kIpv4SourceOffset = 12;
constexpr size_t kIpv4MinHeader = 20;

}  // namespace

ArpCache::ArpCache(const Config& config, ArpOutput& out, BufferPool& pool, Stats& stats, MacAddr our_mac)
    : config_(config),
      out_(out),
      pool_(pool),
      stats_(stats),
      our_mac_(our_mac),
      entries_(new Entry[config.max_entries]),
      buckets_(new Index::bucket_type[bucket_count(config.max_entries)]),
      index_(Index::bucket_traits(buckets_.get(), bucket_count(config.max_entries))) {}

ArpCache::~ArpCache() { index_.clear(); }

// ---- Output path ----------------------------------------------------------------

void ArpCache::resolve_and_send(Ipv4Addr next_hop, PacketPtr frame, TimeNs now) {
    if (!frame || frame->length < kEthernetHeaderLen) return stats_.drop(Drop::eth_too_short);
    Entry* e = find(next_hop);
    if (!e && !(e = create(next_hop, now))) return stats_.drop(Drop::arp_cache_full);
    age(*e, now);
    e->last_used = now;
    if (e->state == State::reachable) return transmit(*e, std::move(frame));
    e->solicit_source = solicit_source(*frame);
    if (e->state == State::stale) {
        transmit(*e, std::move(frame));
        // RFC 1122 2.3.2.1 (2) unicast poll: keep using the stale MAC meanwhile and ask
        // the neighbour itself; a broadcast would disturb every host for one entry.
        return maybe_request(*e, now);
    }
    enqueue(*e, std::move(frame));
    maybe_request(*e, now);
}

bool ArpCache::lookup(Ipv4Addr addr, MacAddr& mac) const {
    const Entry* e = find(addr);
    if (!e || !resolved(*e)) return false;
    mac = e->mac;
    return true;
}

ArpCache::State ArpCache::state_of(Ipv4Addr addr) const {
    const Entry* e = find(addr);
    return e ? e->state : State::free;
}

void ArpCache::enqueue(Entry& e, PacketPtr frame) {
    // RFC 1122 2.3.2.2: save at least the latest packet per destination, so when this
    // entry's share is used up its oldest frame makes room for the new one.
    bool total_full = pending_total_ >= config_.max_pending_total;
    if (!e.pending.empty() && (e.pending.size() >= config_.max_pending_per_entry || total_full)) {
        e.pending.pop_front();
        --pending_total_;
        stats_.drop(Drop::arp_queue_full);
    }
    if (pending_total_ >= config_.max_pending_total || config_.max_pending_per_entry == 0)
        return stats_.drop(Drop::arp_queue_full);
    e.pending.push_back(std::move(frame));
    ++pending_total_;
}

void ArpCache::transmit(const Entry& e, PacketPtr frame) {
    EthernetView{frame->bytes()}.set_dst(e.mac);
    out_.transmit_frame(std::move(frame));
}

// The request's sender IP: the source of the packet that needs the resolution when it
// is ours (Linux's default arp_announce=0 does the same), else 0.0.0.0.
Ipv4Addr ArpCache::solicit_source(PacketBuffer& frame) const {
    EthernetView eth{frame.bytes()};
    if (eth.check() || eth.ethertype() != uint16_t(EtherType::ipv4)) return Ipv4Addr::any();
    std::span<uint8_t> ip = eth.payload();
    if (ip.size() < kIpv4MinHeader) return Ipv4Addr::any();
    Ipv4Addr src = Ipv4Addr::load(ip.data() + kIpv4SourceOffset);
    return out_.is_local_address(src) ? src : Ipv4Addr::any();
}

void ArpCache::maybe_request(Entry& e, TimeNs now) {
    // RFC 1122 2.3.2.1: no more than one request per retry_interval per destination.
    bool due = e.requests_sent == 0 || now - e.last_request >= config_.retry_interval;
    if (due && e.requests_sent < config_.max_requests) send_request(e, now);
}

void ArpCache::send_request(Entry& e, TimeNs now) {
    // Counted even when no buffer is free, so an exhausted pool still ends in a give-up.
    ++e.requests_sent;
    e.last_request = now;
    schedule(e);
    MacAddr dst = e.state == State::stale ? e.mac : MacAddr::broadcast();
    // Target MAC zero: RFC 826 leaves it unspecified, RFC 5227 2.1.1 asks for zeroes.
    if (send_arp(dst, ArpRepr{ArpOp::request, our_mac_, e.solicit_source, MacAddr{}, e.addr}))
        stats_.count(Counter::arp_requests_sent);
}

void ArpCache::announce(Ipv4Addr addr) {
    // RFC 5227 3: an ARP request with sender IP == target IP, target MAC zero, broadcast.
    if (send_arp(MacAddr::broadcast(), ArpRepr{ArpOp::request, our_mac_, addr, MacAddr{}, addr}))
        stats_.count(Counter::arp_requests_sent);
}

bool ArpCache::send_arp(const MacAddr& eth_dst, const ArpRepr& arp) {
    PacketPtr frame = pool_.alloc();
    uint8_t* p = frame ? frame->append(kEthernetHeaderLen + kArpLen) : nullptr;
    if (!p) {
        stats_.drop(Drop::tx_no_buffer);
        return false;
    }
    // Left at 42 bytes: padding to the 60-byte minimum is the device's job, as for IP.
    EthernetRepr{eth_dst, our_mac_, uint16_t(EtherType::arp)}.emit(p);
    arp.emit(p + kEthernetHeaderLen);
    out_.transmit_frame(std::move(frame));
    return true;
}

// ---- Input path -----------------------------------------------------------------

void ArpCache::input(std::span<uint8_t> bytes, const MacAddr& eth_src, TimeNs now) {
    ArpView view{bytes};
    if (WireError err = view.check()) return stats_.drop(*err);
    ArpRepr arp = ArpRepr::parse(view);
    if (!valid_sender_mac(arp.sender_mac) || !valid_sender_mac(eth_src))
        return stats_.drop(Drop::arp_bad_sender);
    if (arp.sender_ip.is_unspecified()) return answer_probe(arp);
    // RFC 1122 3.2.1.3: no host owns these, so no cache entry may point at them.
    if (arp.sender_ip.is_invalid_source() || arp.sender_ip.is_loopback() || out_.is_subnet_broadcast(arp.sender_ip))
        return stats_.drop(Drop::arp_bad_sender);
    if (out_.is_local_address(arp.sender_ip)) return on_conflict(arp, now);

    // RFC 826: merge first, then look at whether we are the target, then at the opcode.
    bool merged = merge(arp, now);
    if (arp.op == ArpOp::reply) {
        // Replies only refresh what we asked about or already know: creating entries
        // from them would let anyone plant mappings (bad-inputs.md).
        if (!merged) stats_.drop(Drop::arp_unsolicited_reply);
        return;
    }
    if (!out_.is_local_address(arp.target_ip)) return stats_.drop(Drop::arp_not_for_us);
    if (!merged) {
        // A full cache only costs the learning: the request is still answered (RFC 826).
        if (Entry* e = create(arp.sender_ip, now)) {
            confirm(*e, arp.sender_mac, now);
            stats_.count(Counter::arp_entries_learned);
        }
    }
    send_reply(arp);
}

bool ArpCache::valid_sender_mac(const MacAddr& mac) const {
    // Multicast (incl. broadcast) and zero are never a station; our own MAC is our frame
    // looped back, which RFC 5227 2.4 says is not a conflict and must not be learnt.
    return !mac.is_multicast() && !mac.is_zero() && mac != our_mac_;
}

// RFC 826 merge: any ARP packet updates an existing entry for its sender.
bool ArpCache::merge(const ArpRepr& arp, TimeNs now) {
    Entry* e = find(arp.sender_ip);
    if (!e) return false;
    if (e->is_static) return true;  // configured mappings win over the wire
    confirm(*e, arp.sender_mac, now);
    stats_.count(Counter::arp_entries_learned);
    return true;
}

void ArpCache::confirm(Entry& e, const MacAddr& mac, TimeNs now) {
    if (resolved(e) && e.mac != mac) ++generation_;
    e.mac = mac;
    e.state = State::reachable;
    e.state_since = now;
    e.requests_sent = 0;
    schedule(e);
    // RFC 1122 2.3.2.2: the saved packets go out now, in the order they were queued.
    while (PacketPtr frame = e.pending.pop_front()) {
        --pending_total_;
        transmit(e, std::move(frame));
    }
}

// RFC 5227 2.1.1: a probe (sender IP 0) for our address learns of the conflict from our
// reply; with no sender address there is nothing to cache.
void ArpCache::answer_probe(const ArpRepr& arp) {
    if (arp.op != ArpOp::request) return stats_.drop(Drop::arp_bad_sender);
    if (!out_.is_local_address(arp.target_ip)) return stats_.drop(Drop::arp_not_for_us);
    send_reply(arp);
}

// RFC 5227 2.4: another station claims one of our addresses. Nothing is learnt from it;
// we defend (option b) with one announcement, and no more than one per DEFEND_INTERVAL
// so two defenders cannot storm. Ceasing to use the address is the owner's decision.
void ArpCache::on_conflict(const ArpRepr& arp, TimeNs now) {
    stats_.drop(Drop::arp_address_conflict);
    if (defended_ && now - last_defence_ < kDefendInterval) return;
    defended_ = true;
    last_defence_ = now;
    announce(arp.sender_ip);
}

void ArpCache::send_reply(const ArpRepr& request) {
    // RFC 826: swap the fields, put ours in the sender slots; unicast to the asker.
    ArpRepr reply{ArpOp::reply, our_mac_, request.target_ip, request.sender_mac, request.sender_ip};
    if (send_arp(request.sender_mac, reply)) stats_.count(Counter::arp_replies_sent);
}

// ---- Entries --------------------------------------------------------------------

ArpCache::Entry* ArpCache::find(Ipv4Addr addr) {
    auto it = index_.find(addr.value);
    return it == index_.end() ? nullptr : &*it;
}

const ArpCache::Entry* ArpCache::find(Ipv4Addr addr) const {
    auto it = index_.find(addr.value);
    return it == index_.end() ? nullptr : &*it;
}

ArpCache::Entry* ArpCache::create(Ipv4Addr addr, TimeNs now) {
    Entry* slot = nullptr;
    for (size_t i = 0; i < config_.max_entries && !slot; ++i)
        if (entries_[i].state == State::free) slot = &entries_[i];
    if (!slot && (slot = eviction_victim())) remove(*slot);
    if (!slot) return nullptr;
    slot->addr = addr;
    slot->state = State::incomplete;
    slot->state_since = slot->last_used = slot->last_request = now;
    index_.insert(*slot);
    ++used_;
    schedule(*slot);
    return slot;
}

// Least recently used entry without queued frames: stale ones first (they are
// probably gone), then reachable. Incomplete entries hold frames and are never taken.
ArpCache::Entry* ArpCache::eviction_victim() {
    auto rank = [](const Entry& e) { return e.state == State::stale ? 0 : 1; };
    Entry* best = nullptr;
    for (size_t i = 0; i < config_.max_entries; ++i) {
        Entry& e = entries_[i];
        if (!resolved(e) || e.is_static || !e.pending.empty()) continue;
        if (!best || rank(e) < rank(*best) || (rank(e) == rank(*best) && e.last_used < best->last_used))
            best = &e;
    }
    return best;
}

void ArpCache::remove(Entry& e) {
    if (resolved(e)) ++generation_;
    while (e.pending.pop_front()) {
        --pending_total_;
        stats_.drop(Drop::arp_unresolved);
    }
    index_.erase(index_.iterator_to(e));
    e.state = State::free;
    e.is_static = false;
    e.requests_sent = 0;
    e.mac = MacAddr{};
    e.solicit_source = Ipv4Addr::any();
    --used_;
}

bool ArpCache::add_static(Ipv4Addr addr, MacAddr mac) {
    Entry* e = find(addr);
    if (!e && !(e = create(addr, 0))) return false;
    e->is_static = true;
    confirm(*e, mac, 0);
    return true;
}

void ArpCache::flush() {
    for (size_t i = 0; i < config_.max_entries; ++i)
        if (entries_[i].state != State::free) remove(entries_[i]);
    next_deadline_ = kNever;
}

// ---- Timers ---------------------------------------------------------------------

void ArpCache::poll(TimeNs now) {
    if (now < next_deadline_) return;
    next_deadline_ = kNever;
    for (size_t i = 0; i < config_.max_entries; ++i) {
        Entry& e = entries_[i];
        if (e.state == State::free) continue;
        age(e, now);
        if (e.state == State::incomplete || (e.state == State::stale && e.requests_sent > 0))
            retry_or_give_up(e, now);
        else if (e.state == State::stale && now - std::max(e.last_used, e.state_since) >= config_.stale_time)
            remove(e);
        if (e.state != State::free) schedule(e);
    }
}

// RFC 1122 2.3.2.1 (1): a reachable entry is trusted only for reachable_time.
void ArpCache::age(Entry& e, TimeNs now) {
    if (e.state != State::reachable || e.is_static) return;
    if (now - e.state_since < config_.reachable_time) return;
    e.state = State::stale;
    e.state_since = now;
    e.requests_sent = 0;
}

// Broadcasts for an incomplete entry, unicast polls for a stale one; when max_requests
// went unanswered, RFC 1122 2.3.2.1 (2) deletes the entry (and its queued frames).
void ArpCache::retry_or_give_up(Entry& e, TimeNs now) {
    if (now - e.last_request < config_.retry_interval) return;
    if (e.requests_sent < config_.max_requests)
        send_request(e, now);
    else
        remove(e);
}

TimeNs ArpCache::deadline(const Entry& e) const {
    switch (e.state) {
    case State::incomplete:
        return e.last_request + config_.retry_interval;
    case State::reachable:
        return e.is_static ? kNever : e.state_since + config_.reachable_time;
    case State::stale:
        if (e.requests_sent > 0) return e.last_request + config_.retry_interval;
        return std::max(e.last_used, e.state_since) + config_.stale_time;
    case State::free:
        break;
    }
    return kNever;
}

void ArpCache::schedule(const Entry& e) { next_deadline_ = std::min(next_deadline_, deadline(e)); }

}  // namespace quasi
