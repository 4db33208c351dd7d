// A DPDK ethdev port as quasi Netifs, zero-copy: packet buffers are rte_mbufs.
//
// Each queue pair has its own mempool. Every mbuf in it carries a PacketBuffer in its
// private area (rte_pktmbuf_pool_create's priv_size), placed there once when the pool
// is made; MbufSource hands those descriptors to a BufferPool (the core's one seam,
// stack/buffer.hpp), so the stack allocates mbufs, writes headers into their headroom
// and frees them back to their mempool without knowing DPDK. Receive hands the
// driver's mbufs up as they are; transmit gives the very mbufs the stack filled to
// rte_eth_tx_burst. A frame that is not a single mbuf (a chain, or a buffer from
// another pool) is copied into one mbuf and counted.
//
// One queue pair per core: DpdkNetif is driven by one thread (one Stack per lcore).
// With several queues the port spreads received flows by RSS with a symmetric key
// when the device has RSS (both directions of a connection hash alike); without RSS
// the device delivers to queue 0 only and the application must spread flows itself.
//
// Checksums: when the device offers TCP and UDP transmit checksum offload (net_tap
// does; net_af_packet and net_ring do not) the port enables it and says so in
// Netif::offloads(); the stack then leaves the pseudo-header sum in the frames it
// marks kMetaTxChecksumPartial and the port sets the mbuf's offload flags and header
// lengths for the device to complete them. Received checksums are verified in software.
#pragma once

#include "stack/buffer.hpp"
#include "stack/netif.hpp"
#include "stack/wire/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct rte_mempool;
struct rte_mbuf;

namespace quasi::dpdk {

// Hands out the PacketBuffers that live in a mempool's mbufs.
class MbufSource final : public BufferSource {
public:
    explicit MbufSource(rte_mempool* mempool) : mempool_(mempool) {}
    PacketBuffer* take() override;
    void give_back(PacketBuffer* single) override;
    size_t available() const override;
    size_t capacity() const override;

    // The descriptor inside m, set over m's current data (one segment).
    static PacketBuffer* buffer_of(rte_mbuf* m);
    rte_mempool* mempool() const { return mempool_; }

private:
    rte_mempool* mempool_;
};

class DpdkPort;

class DpdkNetif final : public Netif {
public:
    struct Counters {
        uint64_t rx_frames = 0;
        uint64_t rx_bytes = 0;
        uint64_t tx_frames = 0;
        uint64_t tx_bytes = 0;
        uint64_t tx_short_bursts = 0;  // rte_eth_tx_burst took fewer than offered: retried
        uint64_t tx_refused = 0;       // still not taken after the retries: left to the caller (counted there)
        uint64_t tx_copied = 0;        // frame not a single mbuf: copied into one
        uint64_t tx_oversize = 0;      // frame longer than an mbuf's room (after copying): refused
        uint64_t tx_no_mbuf = 0;       // no mbuf for the copy: refused
        uint64_t tx_checksum_offloaded = 0;  // frames whose TCP/UDP checksum the device completed
    };

    DpdkNetif(DpdkPort& port, uint16_t queue, BufferPool& pool);
    DpdkNetif(const DpdkNetif&) = delete;
    DpdkNetif& operator=(const DpdkNetif&) = delete;

    size_t rx_burst(std::span<PacketPtr> out) override;
    size_t tx_burst(std::span<PacketPtr> frames) override;
    MacAddr mac() const override;
    uint16_t mtu() const override;
    Offloads offloads() const override;
    const char* name() const override;

    uint16_t queue() const { return queue_; }
    const Counters& counters() const { return counters_; }

private:
    rte_mbuf* to_mbuf(PacketPtr& frame);
    void request_checksum(rte_mbuf* m);

    DpdkPort& port_;
    uint16_t queue_;
    BufferPool& pool_;
    Counters counters_;
};

class DpdkPort {
public:
    struct Config {
        uint16_t port_id = 0;
        uint16_t queues = 1;               // rx/tx queue pairs, one per Stack (lcore)
        uint32_t mbufs_per_queue = 8191;   // a power of two minus one suits rte_mempool
        uint32_t mempool_cache = 256;
        uint16_t rx_descriptors = 1024;
        uint16_t tx_descriptors = 1024;
        uint16_t mtu = 1500;
        // Set as the port's MAC when not all zero. A port whose own MAC is all zero
        // (net_ring) gets 02:51:00:00:00:<port_id + 1>, locally administered.
        MacAddr mac{};
        // Enable TCP/UDP transmit checksum offload when the device has it.
        bool tx_checksum_offload = true;
    };
    struct Info {
        std::string driver;
        uint16_t max_queues = 0;     // min of the device's rx and tx queues
        bool rss = false;            // spreading by RSS hash is configured
        bool tx_checksum = false;    // TCP/UDP transmit checksum offload enabled
        std::vector<uint16_t> reta;  // with rss: the redirection table (entry: queue)
        uint64_t tx_offload_capa = 0;
        uint64_t rx_offload_capa = 0;
    };

    // Configures and starts the port with config.queues queue pairs. Null on failure,
    // one line in *error (no such port, too many queues, busy, out of memory).
    static std::unique_ptr<DpdkPort> open(const Config& config, std::string* error);
    DpdkPort(const DpdkPort&) = delete;
    DpdkPort& operator=(const DpdkPort&) = delete;
    // Stops the port and frees its mempools: every buffer must be back by then (the
    // stacks using the pools are destroyed first).
    ~DpdkPort();

    uint16_t port_id() const { return config_.port_id; }
    uint16_t queue_count() const { return config_.queues; }
    const Info& info() const { return info_; }
    // The symmetric Toeplitz key a port with RSS is configured with (40 bytes).
    static std::span<const uint8_t> rss_key();
    MacAddr mac() const { return mac_; }
    uint16_t mtu() const { return config_.mtu; }
    const char* name() const { return name_.c_str(); }
    DpdkNetif& netif(uint16_t queue) { return *queues_[queue]->netif; }
    BufferPool& pool(uint16_t queue) { return *queues_[queue]->pool; }
    rte_mempool* mempool(uint16_t queue) { return queues_[queue]->mempool; }

    // Stops the device, which gives back the mbufs it holds for its rings (most drivers);
    // after that mbufs_in_use() counts only what the application still holds. Idempotent.
    void stop();
    // Stops and closes it: the queues are released, and with them the mbufs some drivers
    // keep posted for receive even when stopped (net_tap: one per rx descriptor). For
    // the end of a program: the port is gone afterwards. Idempotent.
    void close();
    // Mbufs of all queues' mempools not in their pools (held by the stack, the
    // device's rings or a peer).
    size_t mbufs_in_use() const;
    size_t mbufs_total() const;

private:
    struct Queue {
        rte_mempool* mempool = nullptr;
        std::unique_ptr<MbufSource> source;
        std::unique_ptr<BufferPool> pool;
        std::unique_ptr<DpdkNetif> netif;
    };
    explicit DpdkPort(const Config& config) : config_(config) {}
    bool setup(std::string* error);

    Config config_;
    Info info_;
    MacAddr mac_;
    std::string name_;
    std::vector<std::unique_ptr<Queue>> queues_;
    bool started_ = false;
    bool closed_ = false;
};

}  // namespace quasi::dpdk
