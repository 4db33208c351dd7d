// The figures quasi-bench-spec reports, and how each is measured (spec_measure.cpp).
#pragma once

#include "bench/cost_breakdown.hpp"

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace quasi::bench {

constexpr size_t kSizes[2] = {64, 1024};

// Instructions per send for one payload size. NaN: not measured.
struct SendCost {
    double generic_send_to = NAN;     // UdpLayer::send_to (no flush)
    double specialized_adu = NAN;     // SendHandle::send, message size declared, flush=false
    double specialized_any = NAN;     // SendHandle::send, nothing declared, flush=false
    double specialized_code = NAN;    // the specialized function itself (message size declared)
    double generic_socket_send = NAN; // quasi::send (descriptor lookup + flush)
    double specialized_flush = NAN;   // SendHandle::send, message size declared, flush=true
    double lwip_udp_sendto = NAN;     // lwIP: pbuf_alloc, copy, udp_sendto, pbuf_free (UDP only)
};

struct Latency {
    double median_ms = NAN;
    double p90_ms = NAN;
    double optimize_ms = NAN;  // median of the optimization part
    int samples = 0;
    double cpu_median_ms = NAN;  // CPU time of the compiling thread (the machine may be shared)
};

// The TCP rows: one established connection, 1448-byte sends (one full segment with
// timestamps); the SendCost fields mean the same with TcpLayer::send as the generic
// path ("generic_send_to") and the ADU declared as 1448.
constexpr size_t kTcpSize = 1448;

struct TcpReport {
    SendCost callgrind;
    SendCost perf;
    double ns_generic = NAN;
    double ns_specialized = NAN;
    size_t code_bytes = 0;       // specialized handle, ADU 1448, fast pipeline
    size_t code_bytes_o2 = 0;    // the same context, O2 pipeline
    size_t code_bytes_any = 0;   // nothing declared (the pruned general loop), fast pipeline
    size_t code_bytes_two = 0;   // ADU 2896 (two segments, unrolled), fast pipeline
    size_t object_bytes = 0;
    size_t host_bytes = 0;       // host functions it calls (transmit, TSval, retransmission timer doors and below)
    size_t generic_reachable_bytes = 0;  // functions reachable from TcpLayer::send
    size_t generic_reachable_functions = 0;
    Latency cold[2];
    Latency warm[2];
};

struct Report {
    SendCost callgrind[2];  // exact (valgrind --tool=callgrind, client requests)
    SendCost perf[2];       // hardware counter (perf_event_open), when the kernel allows it
    double ns_generic[2] = {NAN, NAN};      // wall time per send_to
    double ns_specialized[2] = {NAN, NAN};  // wall time per handle send (declared size, no flush)
    double ns_lwip[2] = {NAN, NAN};         // wall time per lwIP udp_sendto (lwip_baseline.hpp)
    CostBreakdown generic_breakdown[2];  // callgrind: UdpLayer::send_to by kind of work
    CostBreakdown lwip_breakdown[2];     // callgrind: lwIP's udp_sendto by kind of work

    size_t specialized_code_bytes = 0;    // executable bytes of one specialized handle (64 B declared, fast pipeline)
    size_t specialized_code_bytes_o2 = 0; // the same context through the O2 pipeline
    size_t specialized_code_bytes_any = 0;  // nothing declared (fast pipeline)
    size_t specialized_object_bytes = 0;  // everything the JIT allocated for it
    size_t specialized_host_bytes = 0;    // host functions it calls (quasi_interface_transmit and below)
    size_t generic_reachable_bytes = 0;   // functions reachable from UdpLayer::send_to
    size_t generic_reachable_functions = 0;
    std::vector<std::string> generic_functions;
    size_t generic_fast_bytes = 0;  // the same without the general path, auto-bind and the route refill
    size_t generic_fast_functions = 0;

    Latency cold[2];  // [fast, O2]: first specialization in a fresh process (JIT creation included)
    Latency warm[2];  // [fast, O2]: a new context with the JIT warm
    Latency cold_prewarmed;  // fast: the first request in a process that called prewarm_specializer()
    double cache_hit_us = NAN;
    double release_us = NAN;

    double heap_per_handle = NAN;  // malloc'ed bytes held per live handle
    double rss_per_handle = NAN;   // resident set growth per live handle (JIT pages included)
    double object_per_handle = NAN;
    double heap_back_per_handle = NAN;  // given back when the handles are released and evicted

    TcpReport tcp;
};

// Each fills its part of the report; `self` is this executable's path (re-run as a
// child for cold starts and under valgrind).
void measure_instructions_callgrind(Report& r, const std::string& self);
void measure_instructions_perf(Report& r);
void measure_wall_time(Report& r);
void measure_code_size(Report& r, const std::string& self);
void measure_latency(Report& r, const std::string& self, int cold_runs, int warm_runs);
void measure_memory(Report& r, int handles);

// Child modes.
int run_callgrind_regions();         // under valgrind: one client-request dump per region
int run_cold_probe(bool o2, bool prewarmed);  // prints "<total ms> <optimize ms> <cpu ms>"
int run_cold_probe_tcp(bool o2);     // the same for a TCP context
int run_warm_probe(int count);       // compiles `count` new contexts (for profilers)

void print_table(const Report& r);
void print_json(const Report& r);

}  // namespace quasi::bench
