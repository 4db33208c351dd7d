#include "stack/stack.hpp"

#include <cerrno>

namespace quasi {

namespace {
constexpr TimeNs kHousekeepingInterval = 100 * kMillisecond;
}

// ---- Interface ----

Interface::Interface(Stack& stack, Netif& netif, uint16_t index, Ipv4Addr address, uint8_t prefix_len)
    : mtu(netif.mtu()),
      stack_(stack),
      netif_(netif),
      index_(index),
      mac_(netif.mac()),
      address_(address),
      prefix_len_(prefix_len),
      tx_checksum_offload_(netif.offloads().tx_checksum),
      arp_(stack.config().arp, *this, stack.pool(), stack.stats(), netif.mac()) {}

void Interface::transmit_frame(PacketPtr frame) {
    if (tx_count_ == tx_batch_.size()) flush();
    tx_batch_[tx_count_++] = std::move(frame);
}

void Interface::flush() {
    if (tx_count_ == 0) return;
    Stats& stats = stack_.stats();
    uint64_t bytes = 0;
    for (size_t i = 0; i < tx_count_; ++i) bytes += tx_batch_[i]->length;
    size_t sent = netif_.tx_burst({tx_batch_.data(), tx_count_});
    for (size_t i = sent; i < tx_count_; ++i) {
        bytes -= tx_batch_[i]->length;
        tx_batch_[i].reset();
        stats.drop(Drop::tx_ring_full);
    }
    stats.count(Counter::tx_frames, sent);
    stats.count(Counter::tx_bytes, bytes);
    tx_count_ = 0;
}

// ---- path MTU ----

uint16_t PathMtuCache::get(Ipv4Addr dst, uint16_t link_mtu, TimeNs now, TimeNs* expires) const {
    for (size_t i = 0; i < filled_; ++i) {
        const Entry& e = entries_[i];
        if (e.mtu == 0 || e.dst != dst || e.expires <= now) continue;
        if (expires) *expires = e.expires;
        return e.mtu < link_mtu ? e.mtu : link_mtu;
    }
    if (expires) *expires = DstEntry::kNoExpiry;
    return link_mtu;
}

bool PathMtuCache::lower(Ipv4Addr dst, uint16_t mtu, TimeNs now) {
    if (mtu < kMinMtu) mtu = kMinMtu;  // an absurd report is clamped, not believed
    Entry* slot = nullptr;
    for (Entry& e : entries_) {
        if (e.mtu != 0 && e.dst == dst && e.expires > now) {
            if (mtu >= e.mtu) return false;  // RFC 1191 6.3: never raise from ICMP
            slot = &e;
            break;
        }
        if (!slot && (e.mtu == 0 || e.expires <= now)) slot = &e;
    }
    if (!slot) {  // all in use: replace the entry closest to expiry
        slot = &entries_[0];
        for (Entry& e : entries_)
            if (e.expires < slot->expires) slot = &e;
    }
    *slot = Entry{dst, mtu, now + kLifetime};
    if (size_t index = size_t(slot - entries_.data()) + 1; index > filled_) filled_ = index;
    version.guarded_write(version + 1);
    return true;
}

// ---- Stack ----

Stack::Stack(const Config& config, const Clock& clock, BufferPool* shared_pool)
    : config_(config),
      clock_(clock),
      owned_pool_(shared_pool ? nullptr : std::make_unique<BufferPool>(config.pool)),
      pool_(shared_pool ? shared_pool : owned_pool_.get()),
      random_(config.seed),
      reassembler_(config.reassembly, stats_),
      timers_(clock.now()),
      housekeeping_timer_(&Stack::housekeeping, this),
      udp_(*this, config.max_udp_sockets),
      tcp_(*this, config.tcp),
      descriptors_(config.max_descriptors, config.tcp.memory ? *config.tcp.memory : heap_memory(), config.tcp.grow) {
    hash_key_ = SipKey{random_.next(), random_.next()};
    for (uint16_t& counter : ident_counters_) counter = static_cast<uint16_t>(random_.next());
    icmp_tokens_milli_ = uint64_t{config.icmp_error_burst} * 1000;
    icmp_refill_time_ = clock.now();
    timers_.schedule(housekeeping_timer_, clock.now() + kHousekeepingInterval);
}

Stack::~Stack() { housekeeping_timer_.cancel(); }

int Stack::add_interface(Netif& netif, Ipv4Addr address, uint8_t prefix_len) {
    if (interface_count_ == kMaxInterfaces) return -ENOSPC;
    if (prefix_len > 32 || address.is_invalid_source()) return -EINVAL;
    uint16_t index = static_cast<uint16_t>(interface_count_);
    interfaces_[index] = std::make_unique<Interface>(*this, netif, index, address, prefix_len);
    ++interface_count_;
    Route connected;
    connected.prefix_len = prefix_len;
    connected.prefix = Ipv4Addr{address.value & (prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len))};
    connected.interface = index;
    if (int rc = routes_.add(connected); rc != 0 && rc != -EEXIST) return rc;
    interfaces_[index]->arp().announce(address);
    interfaces_[index]->flush();
    return index;
}

int Stack::add_route(Ipv4Addr prefix, uint8_t prefix_len, Ipv4Addr gateway, int ifindex) {
    Route route;
    route.prefix = prefix;
    route.prefix_len = prefix_len;
    route.gateway = gateway;
    if (!gateway.is_unspecified()) {
        // RFC 1122 3.3.1.1: the gateway must be directly reachable.
        const Route* via = routes_.lookup(gateway);
        if (!via || !via->gateway.is_unspecified()) return -ENETUNREACH;
        route.interface = via->interface;
    } else {
        if (ifindex < 0 || static_cast<size_t>(ifindex) >= interface_count_) return -ENODEV;
        route.interface = static_cast<uint16_t>(ifindex);
    }
    return routes_.add(route);
}

int Stack::remove_route(Ipv4Addr prefix, uint8_t prefix_len) { return routes_.remove(prefix, prefix_len); }

bool Stack::is_local_address(Ipv4Addr addr) const {
    for (size_t i = 0; i < interface_count_; ++i)
        if (interfaces_[i]->address() == addr) return true;
    return false;
}

Ipv4Addr Stack::source_address_for(Ipv4Addr dst) const {
    const Route* route = routes_.lookup(dst);
    if (!route) return interface_count_ ? interfaces_[0]->address() : Ipv4Addr{};
    return interfaces_[route->interface]->address();
}

uint16_t* Stack::ip_ident_counter(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol) {
    // RFC 7739 5.2 / 6864: a counter per hashed (src, dst, protocol) bucket, each
    // started at a random value, so IDs reveal nothing across destinations.
    uint64_t words[2] = {(uint64_t{src.value} << 32) | dst.value, protocol};
    size_t bucket = ident_hash_(hash_key_, words) % kIdentBuckets;
    return &ident_counters_[bucket];
}

void Stack::flush_all() {
    for (size_t i = 0; i < interface_count_; ++i) interfaces_[i]->flush();
}

size_t Stack::poll() {
    size_t work = 0;
    std::array<PacketPtr, kBurstSize> burst;
    // One clock reading for the whole round, as a NIC's poll stamps a burst: a round
    // lasts microseconds, and a reading costs ~80 ns on a KVM guest (kvm-clock through
    // the vDSO), where one per frame was a tenth of a full segment's input.
    TimePin pin(*this);
    // Frames first, as many as are waiting (bounded): after a stall (the process was
    // descheduled), timers due by now must not fire before the ACKs that arrived in
    // time and wait in the device queue; a retransmission timeout that fires first
    // resends what was already acknowledged.
    for (size_t i = 0; i < interface_count_; ++i) {
        Interface& iface = *interfaces_[i];
        for (size_t round = 0; round < kMaxRxBurstsPerPoll; ++round) {
            size_t n = iface.netif().rx_burst(burst);
            for (size_t k = 0; k < n; ++k) {
                stats_.count(Counter::rx_frames);
                stats_.count(Counter::rx_bytes, burst[k]->length);
                ethernet_input(iface, std::move(burst[k]));
            }
            work += n;
            if (n < burst.size()) break;
        }
    }
    work += timers_.advance(now());
    flush_all();
    tcp_.reap();
    return work;
}

void Stack::housekeeping(Timer& timer, TimeNs now) {
    Stack& stack = *static_cast<Stack*>(timer.context);
    for (size_t i = 0; i < stack.interface_count_; ++i) stack.interfaces_[i]->arp().poll(now);
    stack.reassembler_.expire(now);
    stack.tcp_.housekeeping();
    stack.timers_.schedule(timer, now + kHousekeepingInterval);
}

}  // namespace quasi
