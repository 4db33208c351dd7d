// How quasi-bench-spec measures (see spec_measure.hpp for the figures).
#include "bench/spec_measure.hpp"

#include "bench/cost_breakdown.hpp"
#include "bench/lwip_baseline.hpp"
#include "bench/spec_fixture.hpp"
#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"
#include "jit/specialize.hpp"
#include "jit/specializer.hpp"

#include <valgrind/callgrind.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <linux/perf_event.h>
#include <malloc.h>
#include <map>
#include <set>
#include <sstream>
#include <sys/ioctl.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace quasi::bench {

namespace {

using SteadyClock = std::chrono::steady_clock;
double seconds_since(SteadyClock::time_point t) {
    return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

double thread_cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}
double percentile90(std::vector<double> v) {
    if (v.empty()) return NAN;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, v.size() * 9 / 10)];
}

std::string run_command(const std::string& command) {
    std::string out;
    if (FILE* p = popen(command.c_str(), "r")) {
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        pclose(p);
    }
    return out;
}

// ---- the measured regions: each runs `n` sends of one kind ----

enum class Kind {
    baseline,
    generic_send_to,
    specialized_adu,
    specialized_any,
    specialized_code,
    generic_socket_send,
    specialized_flush,
    lwip_udp_sendto,  // UDP only (lwip_baseline.hpp)
};
constexpr Kind kKinds[] = {Kind::generic_send_to, Kind::specialized_adu,     Kind::specialized_any,
                           Kind::specialized_code, Kind::generic_socket_send, Kind::specialized_flush};
const char* kind_name(Kind k) {
    switch (k) {
        case Kind::baseline: return "baseline";
        case Kind::generic_send_to: return "generic_send_to";
        case Kind::specialized_adu: return "specialized_adu";
        case Kind::specialized_any: return "specialized_any";
        case Kind::specialized_code: return "specialized_code";
        case Kind::generic_socket_send: return "generic_socket_send";
        case Kind::specialized_flush: return "specialized_flush";
        case Kind::lwip_udp_sendto: return "lwip_udp_sendto";
    }
    return "?";
}
double& cost_of(SendCost& c, Kind k) {
    static double none;
    switch (k) {
        case Kind::generic_send_to: return c.generic_send_to;
        case Kind::specialized_adu: return c.specialized_adu;
        case Kind::specialized_any: return c.specialized_any;
        case Kind::specialized_code: return c.specialized_code;
        case Kind::generic_socket_send: return c.generic_socket_send;
        case Kind::specialized_flush: return c.specialized_flush;
        case Kind::lwip_udp_sendto: return c.lwip_udp_sendto;
        case Kind::baseline: break;
    }
    return none;
}

// The UDP kinds: kKinds, and lwIP's udp_sendto when it is measured.
std::vector<Kind> udp_kinds(bool with_lwip) {
    std::vector<Kind> k(std::begin(kKinds), std::end(kKinds));
    if (with_lwip) k.push_back(Kind::lwip_udp_sendto);
    return k;
}

using SendFn = ssize_t (*)(const uint8_t*, size_t);

[[gnu::noinline]] ssize_t null_send(const uint8_t*, size_t len) {
    asm volatile("" ::: "memory");
    return static_cast<ssize_t>(len);
}

struct Regions {
    Regions() : data(2048, 0x5A) {
        fd = bench.open(5000);
        socket = bench.stack.descriptors().udp(fd);
        for (int s = 0; s < 2; ++s) {
            uint32_t size = static_cast<uint32_t>(kSizes[s]);
            adu[s] = take(specialize_send(bench.stack, fd, {.message_size = size, .flush = false}));
            flush[s] = take(specialize_send(bench.stack, fd, {.message_size = size}));
            code[s] = reinterpret_cast<SendFn>(const_cast<void*>(adu[s].info().code));
        }
        any = take(specialize_send(bench.stack, fd, {.message_size = {}, .flush = false}));
        lwip = lwip_baseline_init();
    }
    static SendHandle take(Expected<SendHandle> h) {
        if (!h) {
            std::fprintf(stderr, "quasi-bench-spec: specialization failed: %s\n", h.error().message.c_str());
            std::exit(1);
        }
        return std::move(*h);
    }
    // The loop shape is the same for every kind: one call per iteration.
    ssize_t run(Kind kind, int s, int n) {
        const uint8_t* p = data.data();
        size_t len = kSizes[s];
        ssize_t sum = 0;
        SendFn volatile baseline_fn = &null_send;
        for (int i = 0; i < n; ++i) {
            switch (kind) {
                case Kind::baseline: sum += baseline_fn(p, len); break;
                case Kind::generic_send_to: sum += bench.stack.udp().send_to(*socket, p, len, nullptr); break;
                case Kind::specialized_adu: sum += adu[s].send(p, len); break;
                case Kind::specialized_any: sum += any.send(p, len); break;
                case Kind::specialized_code: sum += code[s](p, len); break;
                case Kind::generic_socket_send: sum += quasi::send(bench.stack, fd, p, len); break;
                case Kind::specialized_flush: sum += flush[s].send(p, len); break;
                case Kind::lwip_udp_sendto: sum += lwip_baseline_send(p, len); break;
            }
        }
        return sum;
    }
    std::vector<Kind> kinds() const { return udp_kinds(lwip); }

    SendBench bench;
    int fd;
    UdpSocket* socket;
    std::vector<uint8_t> data;
    SendHandle adu[2], flush[2], any;
    SendFn code[2];
    bool lwip = false;
};

// The same kinds for TCP: TcpLayer::send is the generic path; between sends the
// fixture plays the peer (TcpSendBench::ack), in every kind and the baseline alike.
struct TcpRegions {
    TcpRegions() : data(kTcpSize, 0x5A) {
        if (!bench.established()) {
            std::fprintf(stderr, "quasi-bench-spec: the TCP connection did not establish\n");
            std::exit(1);
        }
        uint32_t size = static_cast<uint32_t>(kTcpSize);
        adu = Regions::take(specialize_send(bench.a, bench.fd, {.message_size = size, .flush = false}));
        flush = Regions::take(specialize_send(bench.a, bench.fd, {.message_size = size}));
        any = Regions::take(specialize_send(bench.a, bench.fd, {.message_size = {}, .flush = false}));
        code = reinterpret_cast<SendFn>(const_cast<void*>(adu.info().code));
    }
    ssize_t run(Kind kind, int n) {
        const uint8_t* p = data.data();
        size_t len = kTcpSize;
        ssize_t sum = 0;
        SendFn volatile baseline_fn = &null_send;
        for (int i = 0; i < n; ++i) {
            switch (kind) {
                case Kind::baseline: sum += baseline_fn(p, len); break;
                case Kind::generic_send_to: sum += bench.a.tcp().send(*bench.s, p, len); break;
                case Kind::specialized_adu: sum += adu.send(p, len); break;
                case Kind::specialized_any: sum += any.send(p, len); break;
                case Kind::specialized_code: sum += code(p, len); break;
                case Kind::generic_socket_send: sum += quasi::send(bench.a, bench.fd, p, len); break;
                case Kind::specialized_flush: sum += flush.send(p, len); break;
                case Kind::lwip_udp_sendto: break;  // UDP only
            }
            bench.ack();
        }
        return sum;
    }

    TcpSendBench bench;
    std::vector<uint8_t> data;
    SendHandle adu, flush, any;
    SendFn code;
};

constexpr int kWarmup = 256;
constexpr int kMeasured = 2000;

}  // namespace

// ---- instructions: callgrind ----

int run_callgrind_regions() {
    Regions regions;
    std::vector<Kind> kinds = regions.kinds();
    kinds.insert(kinds.begin(), Kind::baseline);
    for (int s = 0; s < 2; ++s) {
        for (Kind k : kinds) {
            regions.run(k, s, kWarmup);
            char name[64];
            std::snprintf(name, sizeof name, "region %s %zu", kind_name(k), kSizes[s]);
            CALLGRIND_ZERO_STATS;
            CALLGRIND_TOGGLE_COLLECT;
            regions.run(k, s, kMeasured);
            CALLGRIND_TOGGLE_COLLECT;
            CALLGRIND_DUMP_STATS_AT(name);
        }
    }
    TcpRegions tcp;
    for (Kind k : {Kind::baseline, Kind::generic_send_to, Kind::specialized_adu, Kind::specialized_any,
                   Kind::specialized_code, Kind::generic_socket_send, Kind::specialized_flush}) {
        tcp.run(k, kWarmup);
        char name[64];
        std::snprintf(name, sizeof name, "region tcp_%s %zu", kind_name(k), kTcpSize);
        CALLGRIND_ZERO_STATS;
        CALLGRIND_TOGGLE_COLLECT;
        tcp.run(k, kMeasured);
        CALLGRIND_TOGGLE_COLLECT;
        CALLGRIND_DUMP_STATS_AT(name);
    }
    return 0;
}

void measure_instructions_callgrind(Report& r, const std::string& self) {
    if (run_command("command -v valgrind").empty()) return;
    char dir_template[] = "/tmp/quasi-callgrind-XXXXXX";
    if (!mkdtemp(dir_template)) return;
    std::string dir = dir_template;
    // Names and positions uncompressed: each dump reads on its own (cost_breakdown.cpp).
    run_command("valgrind --tool=callgrind --collect-atstart=no --compress-strings=no --compress-pos=no "
                "--callgrind-out-file=" + dir + "/cg.out '" + self + "' --callgrind-regions > " + dir + "/log 2>&1");
    // One file per dump: "desc: Trigger: Client Request: region <kind> <size>" and "totals: <Ir>".
    std::map<std::string, double> ir;
    std::map<std::string, std::string> dump_of;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::ifstream in(dir + "/" + e->d_name);
            std::string line, region;
            double total = NAN;
            while (std::getline(in, line)) {
                auto at = line.find("Client Request: region ");
                if (at != std::string::npos) region = line.substr(at + 23);
                if (line.rfind("totals:", 0) == 0 || line.rfind("summary:", 0) == 0)
                    total = std::strtod(line.c_str() + line.find(':') + 1, nullptr);
            }
            if (!region.empty() && !std::isnan(total)) ir[region] = total, dump_of[region] = dir + "/" + e->d_name;
        }
        closedir(d);
    }
    for (int s = 0; s < 2; ++s) {
        std::string size = std::to_string(kSizes[s]);
        auto base = ir.find("baseline " + size);
        if (base == ir.end()) continue;
        for (Kind k : udp_kinds(true)) {
            auto it = ir.find(std::string(kind_name(k)) + " " + size);
            if (it != ir.end()) cost_of(r.callgrind[s], k) = (it->second - base->second) / kMeasured;
        }
        if (dump_of.count("generic_send_to " + size))
            r.generic_breakdown[s] =
                breakdown_of_dump(dump_of["generic_send_to " + size], kMeasured, r.callgrind[s].generic_send_to);
        if (dump_of.count("lwip_udp_sendto " + size))
            r.lwip_breakdown[s] =
                breakdown_of_dump(dump_of["lwip_udp_sendto " + size], kMeasured, r.callgrind[s].lwip_udp_sendto);
    }
    run_command("rm -rf '" + dir + "'");
    std::string tcp_size = std::to_string(kTcpSize);
    auto tcp_base = ir.find("tcp_baseline " + tcp_size);
    if (tcp_base == ir.end()) return;
    for (Kind k : kKinds) {
        auto it = ir.find(std::string("tcp_") + kind_name(k) + " " + tcp_size);
        if (it != ir.end()) cost_of(r.tcp.callgrind, k) = (it->second - tcp_base->second) / kMeasured;
    }
}

// ---- instructions: the hardware counter ----

void measure_instructions_perf(Report& r) {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_HARDWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    int fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    if (fd < 0) return;  // not allowed here (containers, perf_event_paranoid): callgrind has the figures
    Regions regions;
    auto count = [&](Kind k, int s) {
        regions.run(k, s, kWarmup);
        std::vector<double> samples;
        for (int trial = 0; trial < 5; ++trial) {
            ioctl(fd, PERF_EVENT_IOC_RESET, 0);
            ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
            regions.run(k, s, kMeasured);
            ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
            uint64_t v = 0;
            if (read(fd, &v, sizeof v) != sizeof v) return double(NAN);
            samples.push_back(double(v) / kMeasured);
        }
        return *std::min_element(samples.begin(), samples.end());
    };
    for (int s = 0; s < 2; ++s) {
        double base = count(Kind::baseline, s);
        for (Kind k : regions.kinds()) cost_of(r.perf[s], k) = count(k, s) - base;
    }
    TcpRegions tcp;
    auto count_tcp = [&](Kind k) {
        tcp.run(k, kWarmup);
        std::vector<double> samples;
        for (int trial = 0; trial < 5; ++trial) {
            ioctl(fd, PERF_EVENT_IOC_RESET, 0);
            ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
            tcp.run(k, kMeasured);
            ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
            uint64_t v = 0;
            if (read(fd, &v, sizeof v) != sizeof v) return double(NAN);
            samples.push_back(double(v) / kMeasured);
        }
        return *std::min_element(samples.begin(), samples.end());
    };
    double tcp_base = count_tcp(Kind::baseline);
    for (Kind k : kKinds) cost_of(r.tcp.perf, k) = count_tcp(k) - tcp_base;
    ::close(fd);
}

void measure_wall_time(Report& r) {
    Regions regions;
    constexpr int n = 200000;
    for (int s = 0; s < 2; ++s) {
        for (Kind k : {Kind::generic_send_to, Kind::specialized_adu, Kind::lwip_udp_sendto}) {
            if (k == Kind::lwip_udp_sendto && !regions.lwip) continue;
            regions.run(k, s, kWarmup);
            double best = 1e9;
            for (int trial = 0; trial < 5; ++trial) {
                auto t = SteadyClock::now();
                regions.run(k, s, n);
                best = std::min(best, seconds_since(t) * 1e9 / n);
            }
            double* ns = k == Kind::generic_send_to   ? r.ns_generic
                         : k == Kind::specialized_adu ? r.ns_specialized
                                                      : r.ns_lwip;
            ns[s] = best;
        }
    }
    TcpRegions tcp;
    for (Kind k : {Kind::generic_send_to, Kind::specialized_adu, Kind::baseline}) {
        tcp.run(k, kWarmup);
        double best = 1e9;
        for (int trial = 0; trial < 5; ++trial) {
            auto t = SteadyClock::now();
            tcp.run(k, n / 4);
            best = std::min(best, seconds_since(t) * 1e9 / (n / 4));
        }
        if (k == Kind::generic_send_to) r.tcp.ns_generic = best;
        else if (k == Kind::specialized_adu) r.tcp.ns_specialized = best;
        else r.tcp.ns_generic -= best, r.tcp.ns_specialized -= best;  // the fixture's part (ack) out
    }
}

// ---- code size: the generic path's reachable functions, from the symbol table ----

void measure_code_size(Report& r, const std::string& self) {
    {
        SendBench b;
        int fd = b.open(6000);
        auto h = specialize_send(b.stack, fd, {.message_size = 64, .flush = false});
        if (h) {
            r.specialized_code_bytes = h->info().code_bytes;
            r.specialized_object_bytes = h->info().object_bytes;
        }
        auto any = specialize_send(b.stack, fd, {.message_size = {}, .flush = false});
        if (any) r.specialized_code_bytes_any = any->info().code_bytes;
        int fd2 = b.open(6001);
        auto o2 = specialize_send(b.stack, fd2,
                                  {.message_size = 64, .pipeline = JitPipeline::default_o2, .flush = false});
        if (o2) r.specialized_code_bytes_o2 = o2->info().code_bytes;
    }
    std::map<std::string, size_t> sizes;
    std::istringstream nm(run_command("nm -S --defined-only '" + self + "'"));
    for (std::string line; std::getline(nm, line);) {
        std::istringstream f(line);
        std::string addr, size, type, name;
        if (f >> addr >> size >> type >> name) sizes[name] = std::strtoull(size.c_str(), nullptr, 16);
    }
    // Direct calls and tail jumps; indirect calls (Netif::tx_burst) cannot be followed.
    std::map<std::string, std::set<std::string>> calls;
    std::istringstream dis(run_command("objdump -d --no-show-raw-insn '" + self + "'"));
    std::string current;
    for (std::string line; std::getline(dis, line);) {
        if (!line.empty() && line.back() == ':' && line.find(" <") != std::string::npos) {
            current = line.substr(line.find(" <") + 2);
            current.resize(current.size() - 2);  // ">:"
            continue;
        }
        bool is_call = line.find("\tcall ") != std::string::npos || line.find("\tjmp ") != std::string::npos;
        auto lt = line.rfind('<');
        if (!is_call || lt == std::string::npos || line.back() != '>') continue;
        std::string target = line.substr(lt + 1, line.size() - lt - 2);
        if (target.find('+') != std::string::npos || target == current) continue;
        calls[current].insert(target);
    }
    // `excluded`: prefixes of (mangled) names not entered, with what only they reach.
    auto reachable = [&](const std::vector<std::string>& roots, std::vector<std::string>& names,
                         const std::vector<std::string>& excluded = {}) {
        std::set<std::string> seen;
        std::vector<std::string> work = roots;
        size_t bytes = 0;
        while (!work.empty()) {
            std::string f = work.back();
            work.pop_back();
            if (f.find("@plt") != std::string::npos || !seen.insert(f).second) continue;  // libc: not ours
            bool skip = false;
            for (const std::string& prefix : excluded) skip = skip || f.rfind(prefix, 0) == 0;
            if (skip) continue;
            bytes += sizes.count(f) ? sizes[f] : 0;
            names.push_back(f);
            for (const std::string& g : calls[f]) work.push_back(g);
        }
        return bytes;
    };
    std::vector<std::string> roots;
    for (auto& [name, size] : sizes)
        if (name.rfind("_ZN5quasi8UdpLayer7send_to", 0) == 0) roots.push_back(name);
    r.generic_reachable_bytes = reachable(roots, r.generic_functions);
    r.generic_reachable_functions = r.generic_functions.size();
    // The generic fast path's own closure: what a send that does not decline can run
    // with its route cache warm. Left out: the general path the specialized handle
    // falls back to as well (send_fragmented: fragmentation, broadcast, ARP queueing
    // and eviction through ipv4_output), auto-bind, and the route cache's refill.
    std::vector<std::string> fast_functions;
    r.generic_fast_bytes = reachable(roots, fast_functions,
                                     {"_ZN5quasi8UdpLayer15send_fragmented", "_ZN5quasi8UdpLayer4bind",
                                      "_ZN5quasi5Stack16fill_route_cache"});
    r.generic_fast_functions = fast_functions.size();
    std::vector<std::string> host;
    r.specialized_host_bytes = reachable({"quasi_interface_transmit", "quasi_checksum_sum", "quasi_checksum_copy"}, host);

    {
        TcpSendBench b;
        uint32_t size = static_cast<uint32_t>(kTcpSize);
        auto h = specialize_send(b.a, b.fd, {.message_size = size, .flush = false});
        if (h) {
            r.tcp.code_bytes = h->info().code_bytes;
            r.tcp.object_bytes = h->info().object_bytes;
        }
        auto any = specialize_send(b.a, b.fd, {.message_size = {}, .flush = false});
        if (any) r.tcp.code_bytes_any = any->info().code_bytes;
        auto two = specialize_send(b.a, b.fd, {.message_size = 2 * size, .flush = false});
        if (two) r.tcp.code_bytes_two = two->info().code_bytes;
        // The cache keys on the context, not the pipeline: another TTL makes the O2
        // compile a new context of the same shape.
        int ttl = 63;
        setsockopt(b.a, b.fd, kIpProtoIp, kIpTtl, &ttl, sizeof ttl);
        auto o2 = specialize_send(b.a, b.fd, {.message_size = size, .pipeline = JitPipeline::default_o2, .flush = false});
        if (o2) r.tcp.code_bytes_o2 = o2->info().code_bytes;
    }
    std::vector<std::string> tcp_roots, tcp_functions, tcp_host;
    for (auto& [name, size] : sizes)
        if (name.rfind("_ZN5quasi8TcpLayer4send", 0) == 0) tcp_roots.push_back(name);
    r.tcp.generic_reachable_bytes = reachable(tcp_roots, tcp_functions);
    r.tcp.generic_reachable_functions = tcp_functions.size();
    r.tcp.host_bytes = reachable({"quasi_interface_transmit", "quasi_tcp_ts_now", "quasi_tcp_arm_retransmit", "quasi_checksum_sum",
                                 "quasi_checksum_copy", "quasi_checksum_copy2"},
                                tcp_host);
}

// ---- JIT latency ----

namespace {
// Compiles `context` once, timed, and prints "<total ms> <optimize ms> <cpu ms>".
template <class Context>
int timed_compile(const Context& context, bool o2) {
    double cpu = thread_cpu_ms();
    auto t = SteadyClock::now();
    auto code = jit::Specializer::instance().compile_uncached(
        context, o2 ? jit::Pipeline::default_o2 : jit::Pipeline::short_pipeline);
    double total = seconds_since(t) * 1e3;
    cpu = thread_cpu_ms() - cpu;
    if (!code) return 1;
    std::printf("%.3f %.3f %.3f\n", total, code->optimize_ms, cpu);
    return 0;
}
}  // namespace

int run_cold_probe(bool o2, bool prewarmed) {
    if (prewarmed) {  // what an application that called prewarm_specializer() at start-up sees
        prewarm_specializer();
        specializer_wait_idle();
    }
    SendBench b;
    int fd = b.open(7000);
    auto snap = freeze_udp_send(b.stack, fd, 64);
    if (!snap) return 1;
    return timed_compile(snap->context, o2);
}

int run_cold_probe_tcp(bool o2) {
    TcpSendBench b;
    auto snap = freeze_tcp_send(b.a, b.fd, static_cast<uint32_t>(kTcpSize));
    if (!snap) return 1;
    return timed_compile(snap->context, o2);
}

int run_warm_probe(int count) {
    SendBench b;
    auto snap = freeze_udp_send(b.stack, b.open(7200), 64);
    if (!snap) return 1;
    jit::Specializer& sp = jit::Specializer::instance();
    for (int i = 0; i < count; ++i) {
        FrozenUdpContext c = snap->context;
        c.dst_port = static_cast<uint16_t>(20000 + i);
        auto code = sp.compile_uncached(c, jit::Pipeline::short_pipeline);
        if (!code) return 1;
        if (i % 20 == 19)
            std::printf("build %.2f optimize %.2f codegen+link %.2f total %.2f ms\n", code->build_ms, code->optimize_ms,
                        code->total_ms - code->build_ms - code->optimize_ms, code->total_ms);
        sp.free_uncached(code->id);
    }
    return 0;
}

namespace {
// Latency of `runs` fresh processes each running `probe` (a --cold-probe* mode that
// prints "<total ms> <optimize ms> <cpu ms>").
Latency cold_latency(const std::string& self, const std::string& probe, int runs) {
    std::vector<double> total, opt, cpu;
    for (int i = 0; i < runs; ++i) {
        std::string out = run_command("'" + self + "' " + probe);
        double t, o, c;
        if (std::sscanf(out.c_str(), "%lf %lf %lf", &t, &o, &c) == 3) total.push_back(t), opt.push_back(o), cpu.push_back(c);
    }
    return Latency{median(total), percentile90(total), median(opt), int(total.size()), median(cpu)};
}

// Warm latency of both pipelines ([fast, O2]): `vary(context, i, p)` makes the i-th
// context never seen before; the JIT is warmed with the unvaried one first.
template <class Context, class Vary>
void warm_latency(const Context& base, int runs, Vary vary, Latency (&out)[2]) {
    jit::Specializer& sp = jit::Specializer::instance();
    auto pipeline = [](int p) { return p ? jit::Pipeline::default_o2 : jit::Pipeline::short_pipeline; };
    for (int p = 0; p < 2; ++p) {
        auto c = sp.compile_uncached(base, pipeline(p));
        if (c) sp.free_uncached(c->id);
    }
    for (int p = 0; p < 2; ++p) {
        std::vector<double> total, opt, cpu;
        for (int i = 0; i < runs; ++i) {
            Context c = base;
            vary(c, i, p);
            double cpu0 = thread_cpu_ms();
            auto t = SteadyClock::now();
            auto code = sp.compile_uncached(c, pipeline(p));
            double ms = seconds_since(t) * 1e3;
            cpu.push_back(thread_cpu_ms() - cpu0);
            if (!code) continue;
            total.push_back(ms);
            opt.push_back(code->optimize_ms);
            sp.free_uncached(code->id);
        }
        out[p] = Latency{median(total), percentile90(total), median(opt), int(total.size()), median(cpu)};
    }
}

// JIT latency of a TCP context (ADU 1448): cold in a fresh process, warm for new contexts.
void measure_tcp_latency(Report& r, const std::string& self, int cold_runs, int warm_runs) {
    for (int p = 0; p < 2; ++p)
        r.tcp.cold[p] = cold_latency(self, std::string("--cold-probe-tcp ") + (p ? "o2" : "fast"), cold_runs);
    TcpSendBench b;
    auto snap = freeze_tcp_send(b.a, b.fd, static_cast<uint32_t>(kTcpSize));
    if (!snap) return;
    warm_latency(snap->context, warm_runs,
                 [](FrozenTcpContext& c, int i, int p) { c.ttl = static_cast<uint8_t>(1 + i + p * 100); }, r.tcp.warm);
}
}  // namespace

void measure_latency(Report& r, const std::string& self, int cold_runs, int warm_runs) {
    for (int p = 0; p < 2; ++p)
        r.cold[p] = cold_latency(self, std::string("--cold-probe ") + (p ? "o2" : "fast"), cold_runs);
    r.cold_prewarmed = cold_latency(self, "--cold-probe prewarmed", cold_runs);
    SendBench b;
    int fd = b.open(7100);
    auto snap = freeze_udp_send(b.stack, fd, 64);
    if (!snap) return;
    warm_latency(snap->context, warm_runs,
                 [](FrozenUdpContext& c, int i, int p) { c.dst_port = static_cast<uint16_t>(10000 + i + p * 1000); },
                 r.warm);
    // Cache hit: the same socket's context, already compiled.
    auto first = specialize_send(b.stack, fd);
    if (!first) return;
    std::vector<double> hit, release;
    for (int i = 0; i < 2000; ++i) {
        auto t0 = SteadyClock::now();
        auto h = specialize_send(b.stack, fd);
        auto t1 = SteadyClock::now();
        h->release();
        auto t2 = SteadyClock::now();
        hit.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        release.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
    r.cache_hit_us = median(hit);
    r.release_us = median(release);
    measure_tcp_latency(r, self, cold_runs, warm_runs);
}

// ---- memory per live handle ----

namespace {
double resident_bytes() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return double(resident) * double(sysconf(_SC_PAGESIZE));
}
double heap_bytes() { return double(mallinfo2().uordblks); }
}  // namespace

void measure_memory(Report& r, int count) {
    SendBench b;
    std::vector<int> fds;
    for (int i = 0; i < count; ++i) fds.push_back(b.open(static_cast<uint16_t>(30000 + i)));
    {
        // One compile first, so the JIT's one-time state is not charged to the handles.
        auto warm = specialize_send(b.stack, b.open(29999));
    }
    specializer_wait_idle();
    malloc_trim(0);
    double heap0 = heap_bytes(), rss0 = resident_bytes();
    std::vector<SendHandle> handles;
    size_t objects = 0;
    for (int fd : fds) {
        auto h = specialize_send(b.stack, fd, {.message_size = 64});
        if (!h) return;
        objects += h->info().object_bytes;
        handles.push_back(std::move(*h));
    }
    specializer_wait_idle();
    malloc_trim(0);  // what the compiles allocated and freed is not the handles' (it is reused)
    r.heap_per_handle = (heap_bytes() - heap0) / count;
    r.rss_per_handle = (resident_bytes() - rss0) / count;
    r.object_per_handle = double(objects) / count;
    double heap1 = heap_bytes();
    configure_specializer({.cache_max_entries = 1, .cache_max_bytes = 0, .dump_objects_dir = nullptr});
    handles.clear();
    specializer_wait_idle();
    r.heap_back_per_handle = (heap1 - heap_bytes()) / count;
    configure_specializer({});
}

}  // namespace quasi::bench
