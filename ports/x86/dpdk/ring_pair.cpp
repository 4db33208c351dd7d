#include "ports/x86/dpdk/ring_pair.hpp"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

#include <cstdio>
#include <vector>

namespace quasi::dpdk {

bool create_ring_pair(const char* name, uint16_t queues, uint32_t ring_size, RingPair& out, std::string* error) {
    std::vector<rte_ring*> a_to_b(queues), b_to_a(queues);
    for (uint16_t q = 0; q < queues; ++q) {
        char ring_name[RTE_RING_NAMESIZE];
        for (int dir = 0; dir < 2; ++dir) {
            std::snprintf(ring_name, sizeof ring_name, "%s_%s%u", name, dir ? "ba" : "ab", q);
            rte_ring* r = rte_ring_create(ring_name, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (!r) {
                *error = std::string("cannot create ring ") + ring_name + ": " + rte_strerror(rte_errno);
                return false;
            }
            (dir ? b_to_a : a_to_b)[q] = r;
        }
    }
    std::string name_a = std::string(name) + "_a", name_b = std::string(name) + "_b";
    int a = rte_eth_from_rings(name_a.c_str(), b_to_a.data(), queues, a_to_b.data(), queues, SOCKET_ID_ANY);
    int b = rte_eth_from_rings(name_b.c_str(), a_to_b.data(), queues, b_to_a.data(), queues, SOCKET_ID_ANY);
    if (a < 0 || b < 0) {
        *error = std::string("rte_eth_from_rings failed: ") + rte_strerror(rte_errno);
        return false;
    }
    out.port_a = static_cast<uint16_t>(a);
    out.port_b = static_cast<uint16_t>(b);
    return true;
}

}  // namespace quasi::dpdk
