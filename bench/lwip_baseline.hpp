// lwIP's udp_sendto beside quasi's generic UDP send path: the baseline the issue sets
// ("the generic path's instructions per UDP send within 1.5x of lwIP's udp_sendto").
//
// Built from lwip_baseline.cpp against Debian's liblwip-dev (2.1.3, its own lwipopts.h:
// NO_SYS=0, malloc-backed pbufs, software checksums) when CMake finds lwip through
// pkg-config; otherwise from lwip_baseline_none.cpp, and every figure reads "not built".
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

// Sets lwIP up once (lwip_init without the tcpip thread, the netif, the ARP entry, a
// UDP pcb bound to port 5000). False when not built or when setting up failed.
bool lwip_baseline_init();

// One send as an lwIP raw-API application writes it: a PBUF_TRANSPORT pbuf of `len`
// bytes, the payload copied in, udp_sendto(198.18.0.2:9), pbuf_free. Returns `len`,
// or a negative lwIP err_t.
ssize_t lwip_baseline_send(const uint8_t* data, size_t len);

// Frames the netif's linkoutput has seen (to check that sends reached the wire).
uint64_t lwip_baseline_frames();

}  // namespace quasi::bench
