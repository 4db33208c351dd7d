// lwIP's udp_sendto beside quasi's generic UDP send path: the baseline the issue sets
// ("the generic path's instructions per UDP send within 1.5x of lwIP's udp_sendto").
//
// Built from lwip_baseline.cpp against Debian's liblwip-dev (2.1.3, its own lwipopts.h:
// NO_SYS=0 with core locking, MEM_LIBC_MALLOC=1 (pbufs from malloc), IPv6 built in,
// software checksums with LWIP_CHECKSUM_ON_COPY) when CMake finds lwip through
// pkg-config; otherwise from lwip_baseline_none.cpp, and every figure reads "not built".
// That configuration costs lwIP instructions a NO_SYS=1, pool-allocating build would
// not spend (malloc/free, mutexes, the core-lock check): quasi-bench-spec breaks its
// figure down so the protocol part can be compared on its own.
//
// The fixture mirrors SendBench (spec_fixture.hpp): one netif on 198.18.0.1/24 whose
// linkoutput drops the frame (lwIP frees it with the pbuf, as the sink device frees
// quasi's), the peer 198.18.0.2 resolved in ARP before the first send, checksums on.
#pragma once

#include <sys/types.h>
#include <cstddef>
#include <cstdint>

namespace quasi::bench {

// False when quasi-bench-spec was built without lwIP.
bool lwip_baseline_built();

// "lwIP <version>" for the table, or "lwIP (not built)".
const char* lwip_baseline_name();

// The build's configuration, e.g. "NO_SYS=0, MEM_LIBC_MALLOC=1, LWIP_IPV6=1, ...";
// empty when not built.
const char* lwip_baseline_config();

// lwip_init(), once per process (quasi-bench-spec's fixture and quasi-perf's lwIP pair
// share the one lwIP instance a process can have). Only where lwIP is built.
void lwip_init_once();

// Sets lwIP up once (lwip_init without the tcpip thread, the netif, the ARP entry, a
// UDP pcb bound to port 5000). False when not built or when setting up failed.
bool lwip_baseline_init();

// One send as lwIP's own sockets layer does it with LWIP_CHECKSUM_ON_COPY: a
// PBUF_TRANSPORT pbuf of `len` bytes, the payload copied in with its sum taken
// (LWIP_CHKSUM_COPY), udp_sendto_chksum(198.18.0.2:9) with that sum, pbuf_free.
// Returns `len`, or a negative lwIP err_t.
ssize_t lwip_baseline_send(const uint8_t* data, size_t len);

// Frames the netif's linkoutput has seen (to check that sends reached the wire).
uint64_t lwip_baseline_frames();

}  // namespace quasi::bench
