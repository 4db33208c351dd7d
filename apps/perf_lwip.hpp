// quasi-perf --baseline lwip: the same tests between two lwIP netifs joined in memory,
// in this process, polled on one thread as quasi's two stacks are (perf_mem.cpp).
//
// lwIP 2.1.3 as Debian builds it (liblwip-dev; see bench/lwip_baseline.hpp for its options:
// NO_SYS=0 with core locking, malloc'd pbufs and pools, TCP_MSS 1460, 64 KiB windows,
// no timestamps), driven through its raw API without the tcpip thread: netif A
// 198.18.0.1 and netif B 198.18.0.2 in one lwIP instance, each pcb bound to its netif
// (udp_bind_netif/tcp_bind_netif) so a frame leaves by its own side; each netif's
// linkoutput copies the frame (as a driver copies into its ring) into a queue the other
// netif's ethernet_input drains, ARP included. lwIP's timers (delayed ACKs, retransmits)
// run from sys_check_timeouts() in the loop.
//
// UDP_STREAM sends as lwIP's sockets layer does with checksum on copy (the payload's
// sum taken while copying it into the pbuf, then udp_sendto_chksum); TCP copies into
// the send buffer (tcp_write with TCP_WRITE_FLAG_COPY, as lwip_send), then tcp_output.
// TCP_RR turns Nagle off on both ends, as netperf does.
//
// Built from perf_lwip.cpp when CMake finds lwIP (cmake/lwip.cmake, as quasi-bench-spec's
// lwIP row), from perf_lwip_none.cpp otherwise: then --baseline lwip is refused.
#pragma once

#include "apps/perf_run.hpp"

namespace quasi::perf {

// False when built without lwIP.
bool lwip_built();

// UDP_STREAM, TCP_STREAM and TCP_RR; any other test fails with a clear error. One lwIP
// instance per process: the netifs are set up on the first call and reused.
RunResult run_lwip(const RunSpec& spec, const Progress& progress);

// The tests lwIP runs here.
bool lwip_runs(Test t);

}  // namespace quasi::perf
