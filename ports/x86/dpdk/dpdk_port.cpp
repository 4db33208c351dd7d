#include "ports/x86/dpdk/dpdk_port.hpp"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace quasi::dpdk {

namespace {

// Bytes of private area per mbuf: room for the PacketBuffer, 8-byte aligned as
// rte_pktmbuf_pool_create requires (RTE_MBUF_PRIV_ALIGN).
constexpr uint16_t kPrivSize = (sizeof(PacketBuffer) + RTE_MBUF_PRIV_ALIGN - 1) & ~(RTE_MBUF_PRIV_ALIGN - 1);

// rte_eth_tx_burst calls per tx_burst before the rest is left to the caller: a full
// descriptor ring usually drains within a call or two (the device or the peer's
// ring is consuming), and the stack counts what is still refused (tx_ring_full).
constexpr int kTxAttempts = 4;

// A symmetric RSS key: 0x6d5a repeated makes the Toeplitz hash of (src, dst, sport,
// dport) equal to that of (dst, src, dport, sport) (Woo and Park, "Scalable TCP
// Session Monitoring with Symmetric Receive-side Scaling", 2012), so both directions
// of a connection land on one queue, one core.
uint8_t symmetric_rss_key[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

// Places an unlinked PacketBuffer in each mbuf's private area, once per pool.
void construct_descriptor(rte_mempool*, void*, void* obj, unsigned) {
    new (rte_mbuf_to_priv(static_cast<rte_mbuf*>(obj))) PacketBuffer();
}

std::string port_error(const char* what, int rc, uint16_t port) {
    char line[256];
    int err = rc < 0 ? -rc : rc;
    const char* hint = err == EBUSY    ? ": the port is in use (started by another process or not stopped)"
                       : err == ENOMEM ? ": out of memory: raise EAL's -m or lower the mbuf count"
                       : err == EINVAL ? ": the device refuses this configuration"
                                       : "";
    std::snprintf(line, sizeof line, "DPDK port %u: %s failed: %s%s", port, what, rte_strerror(err), hint);
    return line;
}

}  // namespace

// ---- MbufSource ----

PacketBuffer* MbufSource::buffer_of(rte_mbuf* m) {
    auto* b = static_cast<PacketBuffer*>(rte_mbuf_to_priv(m));
    b->storage = static_cast<uint8_t*>(m->buf_addr);
    b->capacity = m->buf_len;
    b->head = m->data_off;
    b->length = m->data_len;
    b->backing = m;
    b->next_segment = nullptr;
    b->meta = 0;
    return b;
}

PacketBuffer* MbufSource::take() {
    rte_mbuf* m = rte_pktmbuf_alloc(mempool_);
    return m ? buffer_of(m) : nullptr;
}

void MbufSource::give_back(PacketBuffer* single) { rte_pktmbuf_free_seg(static_cast<rte_mbuf*>(single->backing)); }

size_t MbufSource::available() const { return rte_mempool_avail_count(mempool_); }

size_t MbufSource::capacity() const { return mempool_->size; }

// ---- DpdkNetif ----

DpdkNetif::DpdkNetif(DpdkPort& port, uint16_t queue, BufferPool& pool) : port_(port), queue_(queue), pool_(pool) {}

MacAddr DpdkNetif::mac() const { return port_.mac(); }
uint16_t DpdkNetif::mtu() const { return port_.mtu(); }
Offloads DpdkNetif::offloads() const { return {.tx_checksum = port_.info().tx_checksum}; }
const char* DpdkNetif::name() const { return port_.name(); }

size_t DpdkNetif::rx_burst(std::span<PacketPtr> out) {
    rte_mbuf* mbufs[64];
    uint16_t want = static_cast<uint16_t>(out.size() < 64 ? out.size() : 64);
    uint16_t n = rte_eth_rx_burst(port_.port_id(), queue_, mbufs, want);
    for (uint16_t i = 0; i < n; ++i) {
        // A chained mbuf (a frame larger than one data room) becomes a chained
        // PacketBuffer, segment for segment; each segment is freed on its own.
        PacketBuffer* head = nullptr;
        PacketBuffer** link = &head;
        for (rte_mbuf* seg = mbufs[i]; seg; seg = seg->next) {
            PacketBuffer* b = MbufSource::buffer_of(seg);
            b->pool = &pool_;
            *link = b;
            link = &b->next_segment;
        }
        counters_.rx_bytes += mbufs[i]->pkt_len;
        out[i] = PacketPtr(head);
    }
    counters_.rx_frames += n;
    return n;
}

namespace {

// The mbuf behind a single-segment buffer, set to carry exactly the buffer's bytes.
rte_mbuf* mbuf_for(PacketBuffer& b) {
    auto* m = static_cast<rte_mbuf*>(b.backing);
    m->data_off = b.head;
    m->data_len = b.length;
    m->pkt_len = b.length;
    m->nb_segs = 1;
    m->next = nullptr;
    m->ol_flags = 0;  // a received mbuf turned around (ICMP echo) keeps no rx flags
    return m;
}

}  // namespace

// DPDK's contract for L4 checksum offload (rte_mbuf_core.h, RTE_MBUF_F_TX_TCP_CKSUM):
// the flags name IPv4 and the L4 protocol, l2_len/l3_len locate the headers, and the
// L4 checksum field holds the pseudo-header sum, which the stack left there.
void DpdkNetif::request_checksum(rte_mbuf* m) {
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    uint16_t l2 = load_be16(frame + 12) == RTE_ETHER_TYPE_VLAN ? 18 : 14;
    const uint8_t* ip = frame + l2;
    m->l2_len = l2;
    m->l3_len = (ip[0] & 0x0f) * 4;
    m->ol_flags = RTE_MBUF_F_TX_IPV4 | (ip[9] == IPPROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM);
    ++counters_.tx_checksum_offloaded;
}

rte_mbuf* DpdkNetif::to_mbuf(PacketPtr& frame) {
    PacketBuffer& b = *frame;
    if (b.backing && !b.next_segment) {  // the common case: the stack filled one mbuf
        rte_mbuf* m = mbuf_for(b);
        if (b.meta & kMetaTxChecksumPartial) request_checksum(m);
        return m;
    }
    size_t len = b.chain_length();
    PacketPtr copy = pool_.alloc();
    if (!copy) {
        ++counters_.tx_no_mbuf;
        return nullptr;
    }
    uint8_t* dst = copy->append(len);
    if (!dst) {
        ++counters_.tx_oversize;
        return nullptr;
    }
    b.copy_out(0, dst, len);
    ++counters_.tx_copied;
    bool partial = b.meta & kMetaTxChecksumPartial;
    frame = std::move(copy);
    rte_mbuf* m = mbuf_for(*frame);
    if (partial) request_checksum(m);
    return m;
}

size_t DpdkNetif::tx_burst(std::span<PacketPtr> frames) {
    rte_mbuf* mbufs[64];
    size_t want = frames.size() < 64 ? frames.size() : 64;
    uint16_t n = 0;
    uint64_t bytes = 0;
    for (; n < want; ++n) {
        rte_mbuf* m = to_mbuf(frames[n]);
        if (!m) break;
        mbufs[n] = m;
        bytes += m->pkt_len;
    }
    uint16_t sent = 0;
    for (int attempt = 0; attempt < kTxAttempts && sent < n; ++attempt) {
        if (attempt > 0) ++counters_.tx_short_bursts;
        sent = static_cast<uint16_t>(sent + rte_eth_tx_burst(port_.port_id(), queue_, mbufs + sent, n - sent));
    }
    for (uint16_t i = 0; i < sent; ++i) (void)frames[i].release();  // the driver frees the mbuf
    for (uint16_t i = sent; i < n; ++i) bytes -= mbufs[i]->pkt_len;
    counters_.tx_refused += n - sent;
    counters_.tx_frames += sent;
    counters_.tx_bytes += bytes;
    return sent;
}

// ---- DpdkPort ----

std::span<const uint8_t> DpdkPort::rss_key() { return symmetric_rss_key; }

namespace {

// The device's redirection table, entry by entry (empty if it cannot say).
std::vector<uint16_t> query_reta(uint16_t port, uint16_t size) {
    std::vector<rte_eth_rss_reta_entry64> groups((size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE);
    for (auto& g : groups) g.mask = ~uint64_t{0};
    if (size == 0 || rte_eth_dev_rss_reta_query(port, groups.data(), size) != 0) return {};
    std::vector<uint16_t> reta(size);
    for (uint16_t i = 0; i < size; ++i)
        reta[i] = groups[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
    return reta;
}

}  // namespace

std::unique_ptr<DpdkPort> DpdkPort::open(const Config& config, std::string* error) {
    std::unique_ptr<DpdkPort> port(new DpdkPort(config));
    if (!port->setup(error)) return nullptr;
    return port;
}

bool DpdkPort::setup(std::string* error) {
    uint16_t id = config_.port_id;
    if (!rte_eth_dev_is_valid_port(id)) {
        *error = "DPDK port " + std::to_string(id) + " does not exist (" + std::to_string(rte_eth_dev_count_avail()) +
                 " found: check the --vdev/PCI arguments after --)";
        return false;
    }
    rte_eth_dev_info dev{};
    if (int rc = rte_eth_dev_info_get(id, &dev); rc != 0) return *error = port_error("info", rc, id), false;
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(id, name);
    name_ = name;
    info_.driver = dev.driver_name ? dev.driver_name : "";
    info_.max_queues = dev.max_rx_queues < dev.max_tx_queues ? dev.max_rx_queues : dev.max_tx_queues;
    info_.tx_offload_capa = dev.tx_offload_capa;
    info_.rx_offload_capa = dev.rx_offload_capa;
    if (config_.queues == 0 || config_.queues > info_.max_queues) {
        *error = "DPDK port " + std::to_string(id) + " (" + info_.driver + ") has " +
                 std::to_string(info_.max_queues) + " queue pairs, " + std::to_string(config_.queues) +
                 " asked (net_af_packet: add qpairs=N to the vdev)";
        return false;
    }

    rte_eth_conf conf{};
    // Both or neither: the stack asks one question (Offloads::tx_checksum) for TCP and UDP.
    constexpr uint64_t kL4Checksums = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    info_.tx_checksum = config_.tx_checksum_offload && (dev.tx_offload_capa & kL4Checksums) == kL4Checksums;
    if (info_.tx_checksum) conf.txmode.offloads |= kL4Checksums;
    uint64_t rss_types = dev.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    info_.rss = config_.queues > 1 && rss_types != 0;
    if (info_.rss) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = symmetric_rss_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof symmetric_rss_key;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_types;
    }
    if (int rc = rte_eth_dev_configure(id, config_.queues, config_.queues, &conf); rc != 0)
        return *error = port_error("configure", rc, id), false;
    if (int rc = rte_eth_dev_set_mtu(id, config_.mtu); rc != 0 && rc != -ENOTSUP)
        return *error = port_error("set MTU", rc, id), false;

    int socket = rte_eth_dev_socket_id(id);
    if (socket < 0) socket = SOCKET_ID_ANY;
    for (uint16_t q = 0; q < config_.queues; ++q) {
        auto queue = std::make_unique<Queue>();
        // Unique per open: a pool kept alive by mbufs still out (see ~DpdkPort) must
        // not block the next open of the port.
        static unsigned opens = 0;
        char pool_name[RTE_MEMPOOL_NAMESIZE];
        std::snprintf(pool_name, sizeof pool_name, "quasi_p%u_q%u_%u", id, q, opens++);
        queue->mempool = rte_pktmbuf_pool_create(pool_name, config_.mbufs_per_queue, config_.mempool_cache, kPrivSize,
                                                 RTE_MBUF_DEFAULT_BUF_SIZE, socket);
        if (!queue->mempool) return *error = port_error("mbuf pool", -rte_errno, id), false;
        rte_mempool_obj_iter(queue->mempool, construct_descriptor, nullptr);
        queue->source = std::make_unique<MbufSource>(queue->mempool);
        BufferPool::Config pool_config{.count = config_.mbufs_per_queue,
                                       .data_room = RTE_MBUF_DEFAULT_BUF_SIZE,
                                       .headroom = RTE_PKTMBUF_HEADROOM};
        queue->pool = std::make_unique<BufferPool>(pool_config, *queue->source);
        queue->netif = std::make_unique<DpdkNetif>(*this, q, *queue->pool);
        Queue& added = *queues_.emplace_back(std::move(queue));
        if (int rc = rte_eth_rx_queue_setup(id, q, config_.rx_descriptors, socket, nullptr, added.mempool); rc != 0)
            return *error = port_error("rx queue setup", rc, id), false;
        if (int rc = rte_eth_tx_queue_setup(id, q, config_.tx_descriptors, socket, nullptr); rc != 0)
            return *error = port_error("tx queue setup", rc, id), false;
    }
    if (int rc = rte_eth_dev_start(id); rc != 0) return *error = port_error("start", rc, id), false;
    started_ = true;
    if (info_.rss) info_.reta = query_reta(id, dev.reta_size);
    rte_eth_promiscuous_disable(id);  // the stack filters by MAC too; some vdevs refuse: harmless
    rte_ether_addr addr{};
    rte_eth_macaddr_get(id, &addr);
    if (config_.mac != MacAddr{} || rte_is_zero_ether_addr(&addr)) {
        MacAddr fallback{{0x02, 0x51, 0, 0, 0, static_cast<uint8_t>(id + 1)}};
        std::memcpy(addr.addr_bytes, (config_.mac != MacAddr{} ? config_.mac : fallback).bytes.data(), 6);
        if (int rc = rte_eth_dev_default_mac_addr_set(id, &addr); rc != 0 && rc != -ENOTSUP)
            return *error = port_error("set MAC", rc, id), false;
        // What the device took; one that cannot set a MAC (net_ring) filters on none
        // either, so the stack uses the address asked for.
        rte_ether_addr taken{};
        rte_eth_macaddr_get(id, &taken);
        if (!rte_is_zero_ether_addr(&taken)) addr = taken;
    }
    std::memcpy(mac_.bytes.data(), addr.addr_bytes, 6);
    return true;
}

void DpdkPort::stop() {
    if (!started_) return;
    rte_eth_dev_stop(config_.port_id);
    started_ = false;
}

void DpdkPort::close() {
    stop();
    if (closed_) return;
    rte_eth_dev_close(config_.port_id);
    closed_ = true;
}

size_t DpdkPort::mbufs_in_use() const {
    size_t in_use = 0;
    for (const auto& q : queues_) in_use += q->mempool->size - rte_mempool_avail_count(q->mempool);
    return in_use;
}

size_t DpdkPort::mbufs_total() const {
    size_t total = 0;
    for (const auto& q : queues_) total += q->mempool->size;
    return total;
}

DpdkPort::~DpdkPort() {
    stop();
    // A mempool is freed only when all its mbufs are home: one still in a peer's ring
    // (net_ring) or a leaked one must not point into freed memory. EAL's clean-up
    // releases the rest at exit.
    bool all_home = mbufs_in_use() == 0;
    for (auto& q : queues_) {
        q->netif.reset();
        q->pool.reset();
        q->source.reset();
        if (all_home) rte_mempool_free(q->mempool);
    }
}

}  // namespace quasi::dpdk
