#include "ports/x86/dpdk/flow_steer.hpp"

#include <array>

#include <rte_errno.h>
#include <rte_ring.h>

#include <cstdio>
#include <cstring>

namespace quasi::dpdk {

namespace {

constexpr uint32_t kRingSize = 1024;

// MurmurHash3's 64-bit finalizer: every input bit reaches every output bit.
uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

// (a, pa) is the source as the frame carries it: RSS hashes the frame's own order.
uint16_t owner_of(uint32_t a, uint32_t b, uint16_t pa, uint16_t pb, uint8_t protocol, uint16_t cores,
                  const FlowHash& how) {
    if (!how.key.empty() && !how.reta.empty()) {
        uint32_t h = toeplitz_ipv4(how.key, a, b, pa, pb, protocol != 0);
        uint16_t queue = how.reta[h % how.reta.size()];
        return queue < cores ? queue : 0;
    }
    // XOR is what makes it symmetric: (a, b) and (b, a) give the same word.
    uint64_t word = uint64_t{a ^ b} << 32 | uint32_t(pa ^ pb) << 8 | protocol;
    return static_cast<uint16_t>(mix(word) % cores);
}

}  // namespace

uint32_t toeplitz_hash(std::span<const uint8_t> key, std::span<const uint8_t> input) {
    uint32_t hash = 0;
    // window: the 32 key bits starting at the current input bit, most significant first.
    uint32_t window = 0;
    for (size_t i = 0; i < 4 && i < key.size(); ++i) window |= uint32_t{key[i]} << (24 - 8 * i);
    for (size_t byte = 0; byte < input.size(); ++byte) {
        uint8_t next = byte + 4 < key.size() ? key[byte + 4] : 0;  // the key bits that slide in
        for (int bit = 7; bit >= 0; --bit) {
            if (input[byte] & (1u << bit)) hash ^= window;
            window = window << 1 | ((next >> bit) & 1u);
        }
    }
    return hash;
}

uint32_t toeplitz_ipv4(std::span<const uint8_t> key, uint32_t src, uint32_t dst, uint16_t src_port, uint16_t dst_port,
                       bool ports) {
    uint8_t tuple[12];
    store_be32(tuple, src);
    store_be32(tuple + 4, dst);
    store_be16(tuple + 8, src_port);
    store_be16(tuple + 10, dst_port);
    return toeplitz_hash(key, {tuple, ports ? 12u : 8u});
}

uint16_t flow_owner(Ipv4Addr a, uint16_t port_a, Ipv4Addr b, uint16_t port_b, uint8_t protocol, uint16_t cores,
                    const FlowHash& how) {
    return owner_of(a.value, b.value, port_a, port_b, protocol, cores, how);
}

namespace {

// What steering reads of a frame: IPv4 addresses and, for unfragmented TCP and UDP,
// the ports, as the frame carries them (source first).
struct FrameFlow {
    uint32_t src = 0, dst = 0;
    uint16_t sport = 0, dport = 0;
    uint8_t protocol = 0;  // 0: no ports (ICMP, a fragment, another protocol)
    size_t l4 = 0;         // the TCP/UDP header's offset in the frame
};

// A TCP segment's TSval (RFC 7323 3.2), if its options carry one.
bool tcp_tsval(std::span<const uint8_t> f, size_t l4, uint32_t& tsval) {
    if (f.size() < l4 + 20) return false;
    size_t end = l4 + size_t(f[l4 + 12] >> 4) * 4;
    if (end > f.size()) return false;
    for (size_t i = l4 + 20; i < end;) {
        uint8_t kind = f[i];
        if (kind == 0) return false;  // end of options
        if (kind == 1) {              // no-operation
            ++i;
            continue;
        }
        if (i + 1 >= end || f[i + 1] < 2 || i + f[i + 1] > end) return false;
        if (kind == 8 && f[i + 1] == 10) {
            tsval = load_be32(f.data() + i + 2);
            return true;
        }
        i += f[i + 1];
    }
    return false;
}

enum class FrameKind { arp, ipv4, other };

FrameKind parse_flow(std::span<const uint8_t> f, FrameFlow& out) {
    if (f.size() < 14) return FrameKind::other;
    uint16_t type = load_be16(f.data() + 12);
    if (type == 0x0806) return FrameKind::arp;
    if (type != 0x0800 || f.size() < 34) return FrameKind::other;
    const uint8_t* ip = f.data() + 14;
    size_t ihl = size_t(ip[0] & 0x0f) * 4;
    uint8_t protocol = ip[9];
    out.src = load_be32(ip + 12);
    out.dst = load_be32(ip + 16);
    bool fragment = (load_be16(ip + 6) & 0x3fff) != 0;  // MF or an offset
    if (!fragment && (protocol == 6 || protocol == 17) && f.size() >= 14 + ihl + 4) {
        out.sport = load_be16(ip + ihl);
        out.dport = load_be16(ip + ihl + 2);
        out.protocol = protocol;
        out.l4 = 14 + ihl;
    }
    return FrameKind::ipv4;
}

}  // namespace

uint16_t flow_owner(std::span<const uint8_t> f, uint16_t cores, const FlowHash& how) {
    if (cores <= 1) return 0;
    FrameFlow flow;
    switch (parse_flow(f, flow)) {
        case FrameKind::arp: return kAllCores;
        case FrameKind::other: return 0;  // the core that got it drops it
        case FrameKind::ipv4: break;
    }
    return owner_of(flow.src, flow.dst, flow.sport, flow.dport, flow.protocol, cores, how);
}

std::unique_ptr<FlowSteering> FlowSteering::create(const char* name, uint16_t cores, std::string* error) {
    std::unique_ptr<FlowSteering> group(new FlowSteering(cores));
    for (uint16_t from = 0; from < cores; ++from)
        for (uint16_t to = 0; to < cores; ++to) {
            if (from == to) continue;
            char ring_name[RTE_RING_NAMESIZE];
            std::snprintf(ring_name, sizeof ring_name, "%s_%u_%u", name, from, to);
            rte_ring* r = rte_ring_create(ring_name, kRingSize, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (!r) {
                *error = std::string("cannot create steering ring ") + ring_name + ": " + rte_strerror(rte_errno);
                return nullptr;
            }
            group->rings_[size_t{from} * cores + to] = r;
        }
    group->netifs_.resize(cores);
    return group;
}

FlowSteering::~FlowSteering() {
    drain();
    for (rte_ring* r : rings_) rte_ring_free(r);
}

void FlowSteering::drain() {
    for (rte_ring* r : rings_) {
        void* p;
        while (r && rte_ring_sc_dequeue(r, &p) == 0) PacketPtr(static_cast<PacketBuffer*>(p)).reset();
    }
}

SteeredNetif& FlowSteering::attach(uint16_t core, Netif& queue, BufferPool& pool) {
    netifs_[core] = std::make_unique<SteeredNetif>(*this, core, queue, pool);
    return *netifs_[core];
}

uint16_t SteeredNetif::cores() const { return group_.cores(); }

bool SteeredNetif::owns_tuple(const void* self, const TcpTuple& t) {
    auto* n = static_cast<const SteeredNetif*>(self);
    // The direction the device hashes: the peer's frames, remote to local.
    return flow_owner(t.remote_addr, t.remote_port, t.local_addr, t.local_port, 6, n->cores(), n->group_.how()) ==
           n->core();
}

void SteeredNetif::hand_to(uint16_t core, PacketPtr frame) {
    if (rte_ring_sp_enqueue(group_.ring(core_, core), frame.get()) == 0) {
        (void)frame.release();  // the other core owns it now
        ++forwarded_;
    } else {
        ++forward_dropped_;  // freed here; the sender retransmits
    }
}

void SteeredNetif::note_path(const PacketBuffer& frame, uint16_t path) {
    FrameFlow flow;
    if (parse_flow(frame.bytes(), flow) != FrameKind::ipv4 || flow.protocol == 0) return;
    uint64_t a = uint64_t{flow.src} << 16 | flow.sport, b = uint64_t{flow.dst} << 16 | flow.dport;
    uint64_t low = a < b ? a : b, high = (a < b ? b : a) | uint64_t{flow.protocol} << 48;
    LastPath& last = last_paths_[mix(low ^ (high << 7)) % last_paths_.size()];
    bool same = last.low == low && last.high == high;
    if (same && last.path != path) ++path_switches_;
    uint32_t tsval = 0;
    bool has_tsval = flow.protocol == 6 && tcp_tsval(frame.bytes(), flow.l4, tsval);
    // Serial-number order (RFC 7323 5.2): TSvals wrap.
    if (same && has_tsval && last.has_tsval && int32_t(tsval - last.tsval) < 0) ++reordered_;
    if (!has_tsval && same) {  // a segment without a timestamp leaves the last one standing
        has_tsval = last.has_tsval;
        tsval = last.tsval;
    }
    last = {low, high, path, has_tsval, tsval};
}

size_t SteeredNetif::rx_burst(std::span<PacketPtr> out) {
    size_t n = 0;
    // What other cores forwarded first: it arrived earlier than what the queue holds now.
    for (uint16_t from = 0; from < group_.cores() && n < out.size(); ++from) {
        if (from == core_) continue;
        void* p;
        while (n < out.size() && rte_ring_sc_dequeue(group_.ring(from, core_), &p) == 0) {
            out[n] = PacketPtr(static_cast<PacketBuffer*>(p));
            note_path(*out[n++], from);
        }
    }
    if (n == out.size()) return n;
    std::array<PacketPtr, 64> burst;
    size_t want = out.size() - n < burst.size() ? out.size() - n : burst.size();
    size_t got = queue_.rx_burst({burst.data(), want});
    for (size_t i = 0; i < got; ++i) {
        uint16_t owner = flow_owner(burst[i]->bytes(), group_.cores(), group_.how());
        if (owner == kAllCores) {  // ARP: a copy for every other core, the original kept
            for (uint16_t core = 0; core < group_.cores(); ++core) {
                if (core == core_) continue;
                PacketPtr copy = pool_.alloc();
                if (!copy) continue;
                size_t len = burst[i]->chain_length();
                if (uint8_t* d = copy->append(len)) {
                    burst[i]->copy_out(0, d, len);
                    copy->meta = burst[i]->meta;
                    hand_to(core, std::move(copy));
                }
            }
            owner = core_;
        }
        if (owner == core_) {
            note_path(*burst[i], core_);
            out[n++] = std::move(burst[i]);
            ++own_;
        } else {
            hand_to(owner, std::move(burst[i]));
        }
    }
    return n;
}

}  // namespace quasi::dpdk
