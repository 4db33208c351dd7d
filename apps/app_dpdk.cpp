#include "apps/app_dpdk.hpp"

#include "ports/x86/dpdk/dpdk_port.hpp"
#include "ports/x86/dpdk/eal.hpp"
#include "ports/x86/dpdk/flow_steer.hpp"
#include "ports/x86/dpdk/ring_pair.hpp"

namespace quasi::app {

namespace {

class PortLink final : public DpdkLink {
public:
    PortLink(std::unique_ptr<dpdk::Eal> eal, std::unique_ptr<dpdk::DpdkPort> port,
             std::unique_ptr<dpdk::FlowSteering> steering)
        : eal_(std::move(eal)), port_(std::move(port)), steering_(std::move(steering)) {
        for (uint16_t q = 0; steering_ && q < port_->queue_count(); ++q)
            steering_->attach(q, port_->netif(q), port_->pool(q));
    }
    // The port goes before EAL (~Eal closes every port and cleans up).
    ~PortLink() override {
        steering_.reset();
        port_.reset();
    }

    uint16_t queues() const override { return port_->queue_count(); }
    BufferPool& pool(uint16_t q) override { return port_->pool(q); }
    Netif& netif(uint16_t q) override {
        return steering_ ? static_cast<Netif&>(steering_->netif(q)) : port_->netif(q);
    }
    void configure(Stack::Config& config, uint16_t q) override {
        if (!steering_) return;
        config.tcp.local_port_ok = &dpdk::SteeredNetif::owns_tuple;
        config.tcp.local_port_context = &steering_->netif(q);
    }

    void run(const std::function<void(uint16_t)>& work) override { eal_->run_on_lcores(queues(), work); }

    size_t finish(std::FILE* out) override {
        port_->close();
        for (uint16_t q = 0; q < port_->queue_count(); ++q) {
            const auto& c = port_->netif(q).counters();
            std::fprintf(out,
                         "dpdk: queue %u: rx %llu frames, tx %llu frames, short tx bursts retried %llu, "
                         "tx refused %llu, tx copied %llu, tx checksums offloaded %llu\n",
                         q, (unsigned long long)c.rx_frames, (unsigned long long)c.tx_frames,
                         (unsigned long long)c.tx_short_bursts, (unsigned long long)c.tx_refused,
                         (unsigned long long)c.tx_copied, (unsigned long long)c.tx_checksum_offloaded);
            if (!steering_) continue;
            const dpdk::SteeredNetif& s = steering_->netif(q);
            std::fprintf(out,
                         "dpdk: core %u steering: kept %llu frames, forwarded %llu, forward drops %llu, "
                         "flow path switches %llu, TCP segments out of their sender's order %llu\n",
                         q, (unsigned long long)s.own(), (unsigned long long)s.forwarded(),
                         (unsigned long long)s.forward_dropped(), (unsigned long long)s.path_switches(),
                         (unsigned long long)s.reordered());
        }
        if (steering_) steering_->drain();  // frames forwarded to a core that had stopped
        size_t out_of_pool = port_->mbufs_in_use();
        std::fprintf(out, "dpdk: mbufs not in their mempools after stop: %zu of %zu\n", out_of_pool,
                     port_->mbufs_total());
        return out_of_pool;
    }

private:
    std::unique_ptr<dpdk::Eal> eal_;
    std::unique_ptr<dpdk::DpdkPort> port_;
    std::unique_ptr<dpdk::FlowSteering> steering_;  // with several queues
};

class RingLink final : public DpdkRingLink {
public:
    RingLink(std::unique_ptr<dpdk::Eal> eal, std::unique_ptr<dpdk::DpdkPort> a, std::unique_ptr<dpdk::DpdkPort> b)
        : eal_(std::move(eal)), ports_{std::move(a), std::move(b)} {}
    ~RingLink() override {
        ports_[0].reset();
        ports_[1].reset();
    }
    BufferPool& pool(int side) override { return ports_[side]->pool(0); }
    Netif& netif(int side) override { return ports_[side]->netif(0); }
    uint64_t tx_refused() const override {
        return ports_[0]->netif(0).counters().tx_refused + ports_[1]->netif(0).counters().tx_refused;
    }
    uint64_t tx_copied() const override {
        return ports_[0]->netif(0).counters().tx_copied + ports_[1]->netif(0).counters().tx_copied;
    }

private:
    std::unique_ptr<dpdk::Eal> eal_;
    std::unique_ptr<dpdk::DpdkPort> ports_[2];
};

}  // namespace

std::unique_ptr<DpdkRingLink> open_dpdk_ring_link(const char* program, const std::vector<std::string>& eal_args,
                                                  std::string* error) {
    auto eal = dpdk::Eal::start(program, eal_args, error, /*need_port=*/false);
    if (!eal) return nullptr;
    dpdk::RingPair pair;
    if (!dpdk::create_ring_pair("qperf", 1, 1024, pair, error)) return nullptr;
    auto a = dpdk::DpdkPort::open({.port_id = pair.port_a}, error);
    if (!a) return nullptr;
    auto b = dpdk::DpdkPort::open({.port_id = pair.port_b}, error);
    if (!b) return nullptr;
    return std::make_unique<RingLink>(std::move(eal), std::move(a), std::move(b));
}

std::unique_ptr<DpdkLink> open_dpdk_link(const char* program, const DpdkLinkConfig& config, std::string* error) {
    auto eal = dpdk::Eal::start(program, config.eal_args, error);
    if (!eal) return nullptr;
    // One queue pair, one Stack per lcore EAL was given.
    auto queues = static_cast<uint16_t>(eal->lcores().size());
    dpdk::DpdkPort::Config port_config{.port_id = config.port_id, .queues = queues};
    port_config.mac = config.mac;
    auto port = dpdk::DpdkPort::open(port_config, error);
    if (!port) return nullptr;
    std::unique_ptr<dpdk::FlowSteering> steering;
    const auto& info = port->info();
    if (queues > 1) {
        steering = dpdk::FlowSteering::create("qapp", queues, error);
        if (!steering) return nullptr;
        // The device's own spreading, when it has it: frames arrive on their core.
        if (info.rss && !info.reta.empty()) {
            auto key = dpdk::DpdkPort::rss_key();
            steering->use_rss({{key.begin(), key.end()}, info.reta});
        }
    }
    std::fprintf(stderr, "%s: DPDK port %u (%s, %s): %u queue pair(s), one stack per lcore%s; TCP/UDP transmit checksums %s (tx offload capa 0x%llx)\n",
                 program, config.port_id, port->name(), info.driver.c_str(), queues,
                 queues < 2 ? "" : info.rss ? ", RSS with a symmetric key (steering follows its Toeplitz hash and RETA)" : ", flows steered in software",
                 info.tx_checksum ? "offloaded to the device" : "in software", (unsigned long long)info.tx_offload_capa);
    return std::make_unique<PortLink>(std::move(eal), std::move(port), std::move(steering));
}

}  // namespace quasi::app
