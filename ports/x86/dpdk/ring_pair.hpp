// Two DPDK ports joined back to back by rte_rings (the net_ring PMD's
// rte_eth_from_rings): what one port transmits on queue q the other receives on
// queue q. For running two quasi stacks in one process over DPDK: tests, and the
// cost of the DPDK seam against the in-memory link (MemLink) in quasi-perf.
// The rings are single-producer single-consumer: one thread per queue and side.
#pragma once

#include <cstdint>
#include <string>

namespace quasi::dpdk {

struct RingPair {
    uint16_t port_a = 0;
    uint16_t port_b = 0;
};

// Creates the rings and the two ports (not configured: open them with DpdkPort).
// `name` must be unique in the process. False and one line in *error on failure.
bool create_ring_pair(const char* name, uint16_t queues, uint32_t ring_size, RingPair& out, std::string* error);

}  // namespace quasi::dpdk
