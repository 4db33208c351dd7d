// The table and the JSON of quasi-bench-spec.
#include "bench/spec_measure.hpp"

#include "bench/lwip_baseline.hpp"

#include <cstdio>
#include <string>

namespace quasi::bench {

namespace {

const char* verdict(bool met) { return met ? "met" : "NOT met"; }

// lwIP's udp_sendto_chksum beside the generic path: the generic path stays within 0.7x of it
// at 64 B (issue 13; it was 1.5x before the generic path cached its route).
void lwip_rows(const SendCost (&c)[2]) {
    std::string name = std::string(lwip_baseline_name()) + ": udp_sendto_chksum (Debian liblwip)";
    if (!lwip_baseline_built()) {
        std::printf("  %-52s %9s  %9s\n", name.c_str(), "not built", "not built");
        return;
    }
    if (std::isnan(c[0].lwip_udp_sendto)) {
        std::printf("  %-52s %9s  %9s\n", name.c_str(), "failed", "failed");
        return;
    }
    double r64 = c[0].generic_send_to / c[0].lwip_udp_sendto, r1k = c[1].generic_send_to / c[1].lwip_udp_sendto;
    std::printf("  %-52s %9.1f  %9.1f\n", name.c_str(), c[0].lwip_udp_sendto, c[1].lwip_udp_sendto);
    std::printf("    (its build: %s)\n", lwip_baseline_config());
    std::printf("  %-52s %9.2f  %9.2f   goal <= 0.7 at 64 B: %s\n", "ratio generic/lwIP", r64, r1k, verdict(r64 <= 0.7));
}

// Both generic paths by kind of work (callgrind self costs, cost_breakdown.hpp).
void breakdown_rows(const Report& r) {
    if (std::isnan(r.generic_breakdown[0].protocol)) return;
    bool lwip = lwip_baseline_built() && !std::isnan(r.lwip_breakdown[0].protocol);
    std::printf("  by kind of work (self costs)                         quasi 64 B  1 KB%s\n",
                lwip ? "     lwIP 64 B  1 KB" : "");
    auto row = [&](const char* name, double CostBreakdown::*part) {
        std::printf("    %-50s %9.1f %6.1f", name, r.generic_breakdown[0].*part, r.generic_breakdown[1].*part);
        if (lwip) std::printf("  %9.1f %6.1f", r.lwip_breakdown[0].*part, r.lwip_breakdown[1].*part);
        std::printf("\n");
    };
    row("copy + checksum", &CostBreakdown::copy_checksum);
    row("buffer allocation and freeing", &CostBreakdown::allocation);
    row("locking", &CostBreakdown::locking);
    row("the bench's sink and call", &CostBreakdown::fixture);
    row("protocol and the rest", &CostBreakdown::protocol);
    if (lwip)
        std::printf("  %-52s %9.2f  %9.2f\n", "ratio generic/lwIP, protocol and the rest alone",
                    r.generic_breakdown[0].protocol / r.lwip_breakdown[0].protocol,
                    r.generic_breakdown[1].protocol / r.lwip_breakdown[1].protocol);
}

void cost_rows(const char* title, const SendCost (&c)[2], const Report* breakdown = nullptr) {
    if (std::isnan(c[0].generic_send_to)) {
        std::printf("%s: unavailable here\n", title);
        return;
    }
    std::printf("%s                 64 B       1 KB\n", title);
    auto row = [](const char* name, double a, double b) { std::printf("  %-52s %9.1f  %9.1f\n", name, a, b); };
    row("generic: UdpLayer::send_to", c[0].generic_send_to, c[1].generic_send_to);
    lwip_rows(c);
    if (breakdown) breakdown_rows(*breakdown);
    row("specialized handle, message size declared", c[0].specialized_adu, c[1].specialized_adu);
    row("specialized handle, nothing declared", c[0].specialized_any, c[1].specialized_any);
    row("specialized code alone (no handle entry)", c[0].specialized_code, c[1].specialized_code);
    row("generic: send() (descriptor lookup + flush)", c[0].generic_socket_send, c[1].generic_socket_send);
    row("specialized handle + flush (like send())", c[0].specialized_flush, c[1].specialized_flush);
    std::printf("  %-52s %9.2f  %9.2f   goal <= 0.50 at 64 B: %s\n", "ratio specialized/generic (declared, no flush)",
                c[0].specialized_adu / c[0].generic_send_to, c[1].specialized_adu / c[1].generic_send_to,
                verdict(c[0].specialized_adu / c[0].generic_send_to <= 0.5));
    std::printf("  %-52s %9.2f  %9.2f\n", "ratio specialized/generic (nothing declared)",
                c[0].specialized_any / c[0].generic_send_to, c[1].specialized_any / c[1].generic_send_to);
    std::printf("  %-52s %9.2f  %9.2f\n", "ratio with flush (handle vs send())",
                c[0].specialized_flush / c[0].generic_socket_send, c[1].specialized_flush / c[1].generic_socket_send);
}

void json_cost(const char* name, const SendCost (&c)[2], bool last = false) {
    std::printf("  \"%s\": {", name);
    for (int s = 0; s < 2; ++s) {
        auto v = [](double x) { return std::isnan(x) ? std::string("null") : std::to_string(x); };
        std::printf("\"%zu\": {\"generic_send_to\": %s, \"specialized_adu\": %s, \"specialized_any\": %s, "
                    "\"specialized_code\": %s, \"generic_socket_send\": %s, \"specialized_flush\": %s, "
                    "\"lwip_udp_sendto\": %s, \"ratio_generic_lwip\": %s}%s",
                    kSizes[s], v(c[s].generic_send_to).c_str(), v(c[s].specialized_adu).c_str(),
                    v(c[s].specialized_any).c_str(), v(c[s].specialized_code).c_str(),
                    v(c[s].generic_socket_send).c_str(), v(c[s].specialized_flush).c_str(),
                    v(c[s].lwip_udp_sendto).c_str(), v(c[s].generic_send_to / c[s].lwip_udp_sendto).c_str(),
                    s ? "" : ", ");
    }
    std::printf("}%s\n", last ? "" : ",");
}

std::string num(double x) { return std::isnan(x) ? "null" : std::to_string(x); }

void tcp_cost_rows(const char* title, const SendCost& c) {
    if (std::isnan(c.generic_send_to)) {
        std::printf("%s: unavailable here\n", title);
        return;
    }
    std::printf("%s      1448 B\n", title);
    auto row = [](const char* name, double a) { std::printf("  %-52s %9.1f\n", name, a); };
    row("generic: TcpLayer::send", c.generic_send_to);
    row("specialized handle, ADU 1448 declared", c.specialized_adu);
    row("specialized handle, nothing declared", c.specialized_any);
    row("specialized code alone (no handle entry)", c.specialized_code);
    row("generic: send() (descriptor lookup + flush)", c.generic_socket_send);
    row("specialized handle + flush (like send())", c.specialized_flush);
    std::printf("  %-52s %9.2f\n", "ratio specialized/generic (ADU declared, no flush)",
                c.specialized_adu / c.generic_send_to);
    std::printf("  %-52s %9.2f\n", "ratio specialized/generic (nothing declared)", c.specialized_any / c.generic_send_to);
    std::printf("  %-52s %9.2f\n", "ratio with flush (handle vs send())", c.specialized_flush / c.generic_socket_send);
}

void print_tcp_table(const TcpReport& t) {
    std::printf("\nthe TCP send path: one connection, 1448 B sends = one full segment (MSS 1448 with timestamps);\n"
                "between sends the fixture frees the frames (as the UDP sink does) and acknowledges everything\n"
                "(the acknowledging is subtracted with the baseline)\n");
    tcp_cost_rows("instructions per send (callgrind, exact; loop and ack subtracted)", t.callgrind);
    tcp_cost_rows("instructions per send (hardware counter, user space)", t.perf);
    std::printf("time per send (ns, best of 5 x 50k, loop and ack subtracted)       1448 B\n");
    std::printf("  %-52s %9.1f\n", "generic: TcpLayer::send", t.ns_generic);
    std::printf("  %-52s %9.1f\n", "specialized handle, ADU 1448 declared", t.ns_specialized);
    std::printf("machine code\n");
    std::printf("  %-52s %9zu bytes (object: %zu)\n", "specialized handle (ADU 1448), JIT code", t.code_bytes,
                t.object_bytes);
    std::printf("  %-52s %9zu bytes\n", "same context, O2 pipeline", t.code_bytes_o2);
    std::printf("  %-52s %9zu bytes\n", "ADU 2896 (two segments, unrolled), fast pipeline", t.code_bytes_two);
    std::printf("  %-52s %9zu bytes\n", "nothing declared (pruned general loop), fast", t.code_bytes_any);
    std::printf("  %-52s %9zu bytes (shared with the generic path)\n", "host functions it calls (doors and below)",
                t.host_bytes);
    std::printf("  %-52s %9zu bytes in %zu functions\n", "generic: reachable from TcpLayer::send",
                t.generic_reachable_bytes, t.generic_reachable_functions);
    std::printf("  %-52s %9.1fx (with host callees: %.1fx)\n", "generic / specialized (ADU 1448)",
                double(t.generic_reachable_bytes) / double(t.code_bytes),
                double(t.generic_reachable_bytes) / double(t.code_bytes + t.host_bytes));
    std::printf("JIT latency, TCP context (ms)                              fast pipeline     O2\n");
    std::printf("  %-52s %9.2f  %9.2f   (p90 %.2f / %.2f, n=%d)\n", "cold: first specialization in a fresh process",
                t.cold[0].median_ms, t.cold[1].median_ms, t.cold[0].p90_ms, t.cold[1].p90_ms, t.cold[0].samples);
    std::printf("  %-52s %9.2f  %9.2f   (p90 %.2f / %.2f, n=%d)\n", "warm: a new context", t.warm[0].median_ms,
                t.warm[1].median_ms, t.warm[0].p90_ms, t.warm[1].p90_ms, t.warm[0].samples);
    std::printf("  %-52s %9.2f  %9.2f\n", "  of which IR optimization (warm)", t.warm[0].optimize_ms, t.warm[1].optimize_ms);
    std::printf("  %-52s %9.2f  %9.2f\n", "CPU time of the compiling thread: cold", t.cold[0].cpu_median_ms,
                t.cold[1].cpu_median_ms);
    std::printf("  %-52s %9.2f  %9.2f\n", "CPU time of the compiling thread: warm", t.warm[0].cpu_median_ms,
                t.warm[1].cpu_median_ms);
}

std::string json_one_cost(const SendCost& c) {
    return "{\"generic_send\": " + num(c.generic_send_to) + ", \"specialized_adu\": " + num(c.specialized_adu) +
           ", \"specialized_any\": " + num(c.specialized_any) + ", \"specialized_code\": " + num(c.specialized_code) +
           ", \"generic_socket_send\": " + num(c.generic_socket_send) +
           ", \"specialized_flush\": " + num(c.specialized_flush) + "}";
}

void print_tcp_json(const TcpReport& t) {
    std::printf("  \"tcp\": {\n");
    std::printf("    \"size\": %zu,\n", kTcpSize);
    std::printf("    \"instructions_callgrind\": %s,\n", json_one_cost(t.callgrind).c_str());
    std::printf("    \"instructions_perf\": %s,\n", json_one_cost(t.perf).c_str());
    std::printf("    \"ns_per_send\": {\"generic\": %s, \"specialized\": %s},\n", num(t.ns_generic).c_str(),
                num(t.ns_specialized).c_str());
    std::printf("    \"code_bytes\": {\"specialized\": %zu, \"specialized_o2\": %zu, \"specialized_two_segments\": %zu, "
                "\"specialized_any_size\": %zu, \"specialized_object\": %zu, \"specialized_host_callees\": %zu, "
                "\"generic_reachable\": %zu, \"generic_functions\": %zu},\n",
                t.code_bytes, t.code_bytes_o2, t.code_bytes_two, t.code_bytes_any, t.object_bytes, t.host_bytes,
                t.generic_reachable_bytes, t.generic_reachable_functions);
    for (int p = 0; p < 2; ++p)
        std::printf("    \"jit_ms_%s\": {\"cold_median\": %s, \"cold_p90\": %s, \"cold_cpu_median\": %s, "
                    "\"warm_median\": %s, \"warm_p90\": %s, \"warm_cpu_median\": %s, \"warm_optimize_median\": %s}%s\n",
                    p ? "o2" : "fast", num(t.cold[p].median_ms).c_str(), num(t.cold[p].p90_ms).c_str(),
                    num(t.cold[p].cpu_median_ms).c_str(), num(t.warm[p].median_ms).c_str(),
                    num(t.warm[p].p90_ms).c_str(), num(t.warm[p].cpu_median_ms).c_str(),
                    num(t.warm[p].optimize_ms).c_str(), p ? "" : ",");
    std::printf("  }\n");
}

}  // namespace

void print_table(const Report& r) {
    std::printf("\nquasi-bench-spec: the UDP and TCP send paths, generic vs specialized (in-process LLVM ORC)\n\n");
    cost_rows("instructions per send (callgrind, exact; loop overhead subtracted)", r.callgrind, &r);
    cost_rows("instructions per send (hardware counter, user space)", r.perf);
    std::printf("time per send (ns, best of 5 x 200k; frames to a sink device)      64 B       1 KB\n");
    std::printf("  %-52s %9.1f  %9.1f\n", "generic: UdpLayer::send_to", r.ns_generic[0], r.ns_generic[1]);
    std::printf("  %-52s %9.1f  %9.1f\n", "specialized handle, message size declared", r.ns_specialized[0],
                r.ns_specialized[1]);
    if (lwip_baseline_built())
        std::printf("  %-52s %9.1f  %9.1f\n", (std::string(lwip_baseline_name()) + ": udp_sendto_chksum").c_str(),
                    r.ns_lwip[0], r.ns_lwip[1]);
    else
        std::printf("  %-52s %9s  %9s\n", lwip_baseline_name(), "not built", "not built");
    double ratio = double(r.generic_reachable_bytes) / double(r.specialized_code_bytes);
    std::printf("machine code\n");
    std::printf("  %-52s %9zu bytes (object: %zu)\n", "specialized handle (64 B declared), JIT code",
                r.specialized_code_bytes, r.specialized_object_bytes);
    std::printf("  %-52s %9zu bytes (fast pipeline, nothing declared: %zu)\n", "same context, O2 pipeline",
                r.specialized_code_bytes_o2, r.specialized_code_bytes_any);
    std::printf("  %-52s %9zu bytes (shared with the generic path)\n", "host functions it calls (transmit door and below)",
                r.specialized_host_bytes);
    std::printf("  %-52s %9zu bytes in %zu functions\n", "generic: reachable from UdpLayer::send_to",
                r.generic_reachable_bytes, r.generic_reachable_functions);
    std::printf("  %-52s %9.1fx  goal >= 20x: %s (with host callees: %.1fx)\n", "generic / specialized", ratio,
                verdict(ratio >= 20),
                double(r.generic_reachable_bytes) / double(r.specialized_code_bytes + r.specialized_host_bytes));
    std::printf("  %-52s %9zu bytes in %zu functions\n", "generic fast path alone (no general path, bind, refill)",
                r.generic_fast_bytes, r.generic_fast_functions);
    std::printf("  %-52s %9.1fx  (with host callees: %.1fx)\n", "generic fast path / specialized",
                double(r.generic_fast_bytes) / double(r.specialized_code_bytes),
                double(r.generic_fast_bytes) / double(r.specialized_code_bytes + r.specialized_host_bytes));
    std::printf("JIT latency (ms)                                           fast pipeline     O2\n");
    std::printf("  %-52s %9.2f  %9.2f   (p90 %.2f / %.2f, n=%d)\n", "cold: first specialization in a fresh process",
                r.cold[0].median_ms, r.cold[1].median_ms, r.cold[0].p90_ms, r.cold[1].p90_ms, r.cold[0].samples);
    std::printf("  %-52s %9.2f  %9s   (p90 %.2f, n=%d)\n", "cold after prewarm_specializer() at start-up",
                r.cold_prewarmed.median_ms, "-", r.cold_prewarmed.p90_ms, r.cold_prewarmed.samples);
    std::printf("  %-52s %9.2f  %9.2f   (p90 %.2f / %.2f, n=%d)\n", "warm: a new context", r.warm[0].median_ms,
                r.warm[1].median_ms, r.warm[0].p90_ms, r.warm[1].p90_ms, r.warm[0].samples);
    std::printf("  %-52s %9.2f  %9.2f\n", "  of which IR optimization (warm)", r.warm[0].optimize_ms, r.warm[1].optimize_ms);
    std::printf("  %-52s %9.2f  %9.2f   (wall time above includes waiting for a CPU)\n",
                "CPU time of the compiling thread: cold", r.cold[0].cpu_median_ms, r.cold[1].cpu_median_ms);
    std::printf("  %-52s %9.2f  %9.2f\n", "CPU time of the compiling thread: warm", r.warm[0].cpu_median_ms,
                r.warm[1].cpu_median_ms);
    std::printf("  goals: warm <= 10 ms: %s (fast), %s (O2); cold <= 20 ms: %s (fast), %s (O2)\n",
                verdict(r.warm[0].median_ms <= 10), verdict(r.warm[1].median_ms <= 10),
                verdict(r.cold[0].median_ms <= 20), verdict(r.cold[1].median_ms <= 20));
    std::printf("  %-52s %9.2f us  goal <= 5 us: %s (release %.2f us)\n", "cache hit: specialize_send on a cached context",
                r.cache_hit_us, verdict(r.cache_hit_us <= 5), r.release_us);
    std::printf("memory per live handle (each with its own code)\n");
    std::printf("  %-52s %9.0f bytes\n", "heap held", r.heap_per_handle);
    std::printf("  %-52s %9.0f bytes  goal <= 16 KB: %s\n", "resident set growth (heap + JIT pages, after malloc_trim)", r.rss_per_handle,
                verdict(r.rss_per_handle <= 16384));
    std::printf("  %-52s %9.0f bytes\n", "JIT object (allocated sections)", r.object_per_handle);
    std::printf("  %-52s %9.0f bytes\n", "heap given back on release + eviction", r.heap_back_per_handle);
    print_tcp_table(r.tcp);
}

void print_json(const Report& r) {
    std::printf("{\n");
    json_cost("instructions_callgrind", r.callgrind);
    json_cost("instructions_perf", r.perf);
    std::printf("  \"lwip\": {\"built\": %s, \"name\": \"%s\", \"call\": \"udp_sendto_chksum\", \"config\": \"%s\"},\n",
                lwip_baseline_built() ? "true" : "false", lwip_baseline_name(), lwip_baseline_config());
    for (int which = 0; which < 2; ++which) {
        const CostBreakdown* b = which ? r.lwip_breakdown : r.generic_breakdown;
        std::printf("  \"breakdown_%s\": {", which ? "lwip" : "generic");
        for (int s = 0; s < 2; ++s)
            std::printf("\"%zu\": {\"copy_checksum\": %s, \"allocation\": %s, \"locking\": %s, \"fixture\": %s, "
                        "\"protocol\": %s}%s",
                        kSizes[s], num(b[s].copy_checksum).c_str(), num(b[s].allocation).c_str(),
                        num(b[s].locking).c_str(), num(b[s].fixture).c_str(), num(b[s].protocol).c_str(),
                        s ? "" : ", ");
        std::printf("},\n");
    }
    std::printf("  \"ns_per_send\": {\"64\": {\"generic\": %s, \"specialized\": %s, \"lwip_udp_sendto\": %s}, "
                "\"1024\": {\"generic\": %s, \"specialized\": %s, \"lwip_udp_sendto\": %s}},\n",
                num(r.ns_generic[0]).c_str(), num(r.ns_specialized[0]).c_str(), num(r.ns_lwip[0]).c_str(),
                num(r.ns_generic[1]).c_str(), num(r.ns_specialized[1]).c_str(), num(r.ns_lwip[1]).c_str());
    std::printf("  \"code_bytes\": {\"specialized\": %zu, \"specialized_o2\": %zu, \"specialized_any_size\": %zu, "
                "\"specialized_object\": %zu, \"specialized_host_callees\": %zu, "
                "\"generic_reachable\": %zu, \"generic_functions\": %zu, \"generic_fast_path\": %zu, "
                "\"generic_fast_path_functions\": %zu},\n",
                r.specialized_code_bytes, r.specialized_code_bytes_o2, r.specialized_code_bytes_any,
                r.specialized_object_bytes, r.specialized_host_bytes,
                r.generic_reachable_bytes, r.generic_reachable_functions, r.generic_fast_bytes,
                r.generic_fast_functions);
    for (int p = 0; p < 2; ++p)
        std::printf("  \"jit_ms_%s\": {\"cold_median\": %s, \"cold_p90\": %s, \"cold_cpu_median\": %s, "
                    "\"warm_median\": %s, \"warm_p90\": %s, \"warm_cpu_median\": %s, \"warm_optimize_median\": %s},\n",
                    p ? "o2" : "fast", num(r.cold[p].median_ms).c_str(), num(r.cold[p].p90_ms).c_str(),
                    num(r.cold[p].cpu_median_ms).c_str(), num(r.warm[p].median_ms).c_str(),
                    num(r.warm[p].p90_ms).c_str(), num(r.warm[p].cpu_median_ms).c_str(),
                    num(r.warm[p].optimize_ms).c_str());
    std::printf("  \"jit_ms_fast_cold_prewarmed\": {\"median\": %s, \"p90\": %s},\n",
                num(r.cold_prewarmed.median_ms).c_str(), num(r.cold_prewarmed.p90_ms).c_str());
    std::printf("  \"cache_hit_us\": %s,\n  \"release_us\": %s,\n", num(r.cache_hit_us).c_str(), num(r.release_us).c_str());
    std::printf("  \"memory_per_handle\": {\"heap\": %s, \"rss\": %s, \"jit_object\": %s, \"heap_returned\": %s},\n",
                num(r.heap_per_handle).c_str(), num(r.rss_per_handle).c_str(), num(r.object_per_handle).c_str(),
                num(r.heap_back_per_handle).c_str());
    print_tcp_json(r.tcp);
    std::printf("}\n");
}

}  // namespace quasi::bench
