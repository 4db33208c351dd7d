// The DPDK side of the apps' --dpdk: EAL started from the arguments after `--`, one
// port with one queue pair per lcore EAL was given (-l), one Stack per lcore, flows
// steered between them in software (ports/x86/dpdk/flow_steer.hpp). Implemented in app_dpdk.cpp when the DPDK port
// is built (ports/x86/dpdk), else app_dpdk_none.cpp says so at run time; the apps
// compile the same either way.
#pragma once

#include "stack/buffer.hpp"
#include "stack/netif.hpp"
#include "stack/stack.hpp"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace quasi::app {

class DpdkLink {
public:
    virtual ~DpdkLink() = default;
    // Queue pairs, one per lcore: queue q is core q's, run on the q-th lcore of -l.
    virtual uint16_t queues() const = 0;
    // Queue q's buffer pool (its mbufs): the stack on queue q must allocate from it.
    virtual BufferPool& pool(uint16_t q) = 0;
    // Core q's device: its queue, with flows steered to their owning core when there
    // are several.
    virtual Netif& netif(uint16_t q) = 0;
    // Core q's stack opens only connections whose flows are steered back to it.
    virtual void configure(Stack::Config& config, uint16_t q) = 0;
    // Runs work(q) for every queue q at once, each on its lcore (q 0 on the calling
    // thread, EAL's main lcore), and returns when all have returned.
    virtual void run(const std::function<void(uint16_t)>& work) = 0;
    // After every stack is gone: stops the port, prints its counters and the mbufs
    // not back in their mempools; returns that number (0 unless something leaked).
    virtual size_t finish(std::FILE* out) = 0;
};

struct DpdkLinkConfig {
    std::vector<std::string> eal_args;  // everything after `--`
    uint16_t port_id = 0;
    MacAddr mac{};  // all zero: the port's own
};

// Starts EAL and opens the port; null and one line in *error on failure (also when
// quasi was built without DPDK).
std::unique_ptr<DpdkLink> open_dpdk_link(const char* program, const DpdkLinkConfig& config, std::string* error);

// Two ports joined by rte_rings (net_ring) for two quasi stacks in this process:
// side 0 and side 1, one queue pair each. EAL is started with `eal_args`.
class DpdkRingLink {
public:
    virtual ~DpdkRingLink() = default;
    virtual BufferPool& pool(int side) = 0;
    virtual Netif& netif(int side) = 0;
    // Frames the port refused or copied (0 when every frame went zero-copy).
    virtual uint64_t tx_refused() const = 0;
    virtual uint64_t tx_copied() const = 0;
};
std::unique_ptr<DpdkRingLink> open_dpdk_ring_link(const char* program, const std::vector<std::string>& eal_args,
                                                  std::string* error);

// Splits argv at the first "--" (DPDK's convention): argv[0] and what comes before go
// to the application (`app`), what follows to EAL (`eal`), unchanged.
void split_eal_args(int argc, char** argv, std::vector<char*>& app, std::vector<std::string>& eal);

}  // namespace quasi::app
