// quasi-perf: netperf's tests between two quasi stacks, generic and specialized send
// paths side by side, optionally the Linux kernel beside them.
//
//   quasi-perf --test UDP_STREAM,TCP_RR --mode both --sizes 64,1472 --duration 3 --repeat 3 [--json]
//
// Tests (netperf's meanings): UDP_STREAM and TCP_STREAM (one way, the receiver counts),
// TCP_MAERTS (TCP_STREAM from the far end), UDP_RR and TCP_RR (SIZE bytes each way per
// transaction; transactions/s and latency percentiles from a histogram), TCP_CRR (a
// connection per transaction: connect, request, response, close).
// --mode both runs generic and specialized back to back, run by run, and gives their
// ratio pair by pair, so load swings on a shared machine cancel out within a pair.
// --baseline kernel adds the same test over Linux sockets across a veth pair between two
// namespaces quasi-perf creates (root), with offloads on and capped to 1500 B segments;
// --baseline lwip the same between two lwIP netifs in memory (UDP_STREAM, TCP_STREAM, TCP_RR).
// --link tap puts one quasi stack on a tap in a namespace quasi-perf creates (root), with
// the kernel's sockets as the peer (apps/perf_tap.hpp).
#include "apps/app_dpdk.hpp"
#include "apps/perf_kernel.hpp"
#include "apps/perf_lwip.hpp"
#include "apps/perf_plot.hpp"
#include "apps/perf_report.hpp"
#include "apps/perf_tap.hpp"
#include "jit/specialize.hpp"

#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>

using namespace quasi::perf;

namespace {

struct Options {
    std::vector<std::string> tests{"UDP_STREAM"};
    std::string link = "mem";
    std::string mode = "both";
    std::vector<std::string> baselines;  // kernel, lwip
    std::vector<size_t> sizes;  // empty: each test's default
    double duration_s = 3;
    double warmup_s = 0.5;
    uint64_t count = 0;
    unsigned repeat = 1;
    unsigned threads = 1;  // 2: the receiving stack on a thread of its own (stream tests, mem link)
    bool wire = false;     // --wire: segments by kind in the JSON (mem link)
    bool json = false;
    std::string plot;  // PNG path, empty: none
    bool progress = true;
    std::vector<std::string> eal_args;  // --link dpdk: EAL's arguments, after `--`
    const QuasiLink* quasi_link = nullptr;  // null: the in-memory link
    TapPeer* tap = nullptr;                 // --link tap
};

const std::map<std::string, Test> kTests{{"UDP_STREAM", Test::udp_stream},
                                         {"TCP_STREAM", Test::tcp_stream},
                                         {"TCP_MAERTS", Test::tcp_maerts},
                                         {"UDP_RR", Test::udp_rr},
                                         {"TCP_RR", Test::tcp_rr},
                                         {"TCP_CRR", Test::tcp_crr}};

std::vector<size_t> default_sizes(Test t) {
    if (is_rr(t)) return {64};
    if (is_tcp(t)) return {1448};
    return {64, 1472};
}

bool has(const std::vector<std::string>& list, const char* name) {
    return std::find(list.begin(), list.end(), name) != list.end();
}

std::vector<Path> paths_of(const Options& o, Test t) {
    std::vector<Path> paths;
    // On the tap the kernel sends TCP_MAERTS: quasi has nothing to specialize.
    bool specializable = can_specialize(t) && !(o.tap && t == Test::tcp_maerts);
    // TCP_CRR runs generic even under --mode specialized: see can_specialize().
    if (o.mode != "specialized" || !specializable) paths.push_back(Path::generic);
    if (o.mode != "generic" && specializable) paths.push_back(Path::specialized);
    if (has(o.baselines, "kernel")) {
        paths.push_back(Path::kernel);
        paths.push_back(Path::kernel_capped);
    }
    if (has(o.baselines, "lwip") && lwip_runs(t)) paths.push_back(Path::lwip);
    return paths;
}

// One line, rewritten in place on a terminal: what runs, how far, the current rate.
struct ProgressLine {
    bool on = false;
    void show(const RunSpec& s, unsigned run, unsigned runs, double elapsed, double rate) const {
        if (!on) return;
        std::printf("\r\033[K  %-10s %6zu B %-13s run %u/%u %6.1f s  %s %s", test_name(s.test), s.size,
                    path_name(s.path), run, runs, elapsed, main_unit(s.test), format_rate(s.test, rate).c_str());
        std::fflush(stdout);
    }
    void clear() const {
        if (on) std::printf("\r\033[K"), std::fflush(stdout);
    }
    static std::string format_rate(Test t, double v) {
        char buf[32];
        if (is_tcp(t) && !is_rr(t))
            std::snprintf(buf, sizeof buf, "%.2f", v);
        else
            std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
};

int parse(int argc, char** argv, Options& o) {
    CLI::App app{
        "quasi-perf: netperf's tests between two quasi stacks (generic and specialized send paths), "
        "optionally beside the Linux kernel"};
    // A repeated option takes its last value (scripts/demo.sh appends the caller's);
    // the lists (--test, --sizes) gather every value given.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("-t,--test", o.tests, "tests, comma-separated: UDP_STREAM, TCP_STREAM, TCP_MAERTS, UDP_RR, TCP_RR, TCP_CRR (generic only)")
        ->delimiter(',')
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->check(CLI::IsMember(kTests))
        ->capture_default_str();
    app.add_option("--link", o.link,
                   "the link between the two quasi stacks (mem: both in this process, no root; dpdk: a DPDK "
                   "net_ring pair, EAL's arguments after `--`, default -l 0 --no-huge --no-pci -m 256 --no-shconf); "
                   "tap: one quasi stack on a tap, the Linux kernel's sockets as the peer, in a network namespace "
                   "quasi-perf creates and that goes with it (root; quasi 198.18.0.1, the kernel 198.18.0.2); "
                   "af_packet: the same with quasi on DPDK's net_af_packet over a veth pair in that namespace "
                   "(EAL's arguments after `--` as for dpdk; the vdev is added)")
        ->check(CLI::IsMember({"mem", "dpdk", "tap", "af_packet"}))
        ->capture_default_str();
    app.add_option("--mode", o.mode, "quasi's send path: generic (send()), specialized (a JIT send handle), both")
        ->check(CLI::IsMember({"generic", "specialized", "both"}))
        ->capture_default_str();
    app.add_option("--baseline", o.baselines,
                   "comma-separated: kernel (the same test over Linux sockets across a veth pair in two namespaces; "
                   "root), lwip (lwIP 2.1.3, two netifs joined in memory: UDP_STREAM, TCP_STREAM, TCP_RR)")
        ->delimiter(',')
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->check(CLI::IsMember({"none", "kernel", "lwip"}));
    app.add_option("-s,--sizes", o.sizes,
                   "message sizes in bytes, comma-separated (default: 64,1472 UDP_STREAM; 1448 TCP streams; 64 RR)")
        ->delimiter(',')
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->check(CLI::Range(size_t(1), size_t(1) << 20));
    app.add_option("-l,--duration", o.duration_s, "seconds measured per run, after the warm-up")
        ->check(CLI::Range(0.01, 3600.0))
        ->capture_default_str();
    app.add_option("--warmup", o.warmup_s, "seconds run before each measurement and left out of it")
        ->check(CLI::Range(0.0, 60.0))
        ->capture_default_str();
    app.add_option("-n,--count", o.count, "messages (STREAM) or transactions (RR) per run instead of a duration");
    app.add_option("-r,--repeat", o.repeat, "runs of each test, size and path (reported as min/median/max)")
        ->check(CLI::Range(1u, 1000u))
        ->capture_default_str();
    app.add_option("--threads", o.threads,
                   "1: both quasi stacks polled on one thread; 2: the receiving stack on a thread of its own, the "
                   "link between them a pair of lock-free rings (stream tests on the mem link; the sender's rate "
                   "is then a figure of its own and UDP may lose datagrams, each counted)")
        ->check(CLI::Range(1u, 2u))
        ->capture_default_str();
    app.add_option("--plot", o.plot, "draw throughput against message size (stream tests, every path) into this PNG (gnuplot)")
        ->type_name("FILE.png");
    app.add_flag("--wire", o.wire,
                 "mem link, stream tests: count what each stack transmits (data segments, PSH, pure ACKs, window "
                 "updates; per MB received, in the JSON's totals)");
    app.add_flag("--json", o.json, "print every figure and the machine as JSON instead of the table");
    app.add_flag("!--no-progress", o.progress, "no live progress line (it is shown only when stdout is a terminal)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return -1;
}

// Every test and size, `repeat` runs of every path; run by run, every path in turn, so a
// load swing hits neighbours alike. False when a run failed.
bool run_all(const Options& o, const std::vector<Test>& tests, KernelPair* kernel, std::vector<Cell>& cells) {
    ProgressLine line{o.progress && !o.json && isatty(STDOUT_FILENO)};
    bool ok = true;
    for (Test t : tests) {
        std::vector<Path> paths = paths_of(o, t);
        for (size_t size : o.sizes.empty() ? default_sizes(t) : o.sizes) {
            size_t first = cells.size();
            for (Path p : paths) cells.push_back({t, size, p, {}});
            for (unsigned run = 1; run <= o.repeat; ++run) {
                for (size_t i = 0; i < paths.size(); ++i) {
                    bool quasi_path = paths[i] == Path::generic || paths[i] == Path::specialized;
                    RunSpec spec{t, size, paths[i], o.duration_s, o.warmup_s, o.count};
                    spec.receiver_thread = quasi_path && o.threads == 2;
                    spec.wire = quasi_path && o.wire && !o.quasi_link && !o.tap;
                    Progress progress = [&](double elapsed, double rate) {
                        line.show(spec, run, o.repeat, elapsed, rate);
                    };
                    bool on_kernel = paths[i] == Path::kernel || paths[i] == Path::kernel_capped;
                    RunResult r = on_kernel                  ? kernel->run(spec, progress)
                                  : paths[i] == Path::lwip ? run_lwip(spec, progress)
                                  : o.tap                  ? o.tap->run(spec, progress)
                                                           : run_mem(spec, progress, o.quasi_link);
                    line.clear();
                    if (r.error.empty()) r.error = count_mismatch(t, paths[i], r);
                    ok &= r.error.empty();
                    cells[first + i].runs.push_back(std::move(r));
                }
            }
        }
    }
    return ok;
}

void print_header(const Options& o) {
    char window[64];
    if (o.count)
        std::snprintf(window, sizeof window, "%llu messages or transactions", (unsigned long long)o.count);
    else
        std::snprintf(window, sizeof window, "%g s", o.duration_s);
    std::printf("quasi-perf: link %s%s, mode %s%s%s; each run: %g s warm-up, then %s; %u run(s) of each\n",
                o.link.c_str(),
                o.tap            ? (std::string(" (") + o.tap->description() + ")").c_str()
                : o.threads == 2 ? " (the receiving stack on a thread of its own)"
                                 : "",
                o.mode.c_str(), has(o.baselines, "kernel") ? ", kernel across a veth pair" : "",
                has(o.baselines, "lwip") ? ", lwIP 2.1.3 in memory" : "", o.warmup_s, window, o.repeat);
}

void print_json(const Options& o, const nlohmann::json& load_start, const std::vector<Cell>& cells) {
    nlohmann::json doc = {{"tool", "quasi-perf"},
                          {"link", o.link},
                          {"mode", o.mode},
                          {"baseline", o.baselines},
                          {"duration_s", o.duration_s},
                          {"warmup_s", o.warmup_s},
                          {"count", o.count},
                          {"repeat", o.repeat},
                          {"threads", o.threads},
                          {"machine", machine_info()},
                          {"load_average_start", load_start},
                          {"load_average_end", load_average()},
                          {"results", to_json(cells)}};
    if (o.tap)
        doc["tap"] = {{"device", o.tap->tap_name()},
                      {"netns", o.tap->netns_id()},
                      {"quasi_address", "198.18.0.1/24"},
                      {"kernel_address", "198.18.0.2/24"}};
    std::cout << doc.dump(2) << "\n";
}

}  // namespace

// EAL's arguments when none follow `--`: no hugepages, no PCI, a run directory of our own.
void default_eal_args(Options& o) {
    if (o.eal_args.empty())
        o.eal_args = {"-l", "0", "--no-huge", "--no-pci", "-m", "256", "--no-shconf", "--no-telemetry",
                      "--file-prefix=quasi-perf-" + std::to_string(getpid()), "--log-level=lib.eal:warning"};
}

// --link dpdk: EAL and the net_ring pair, for the whole run.
std::unique_ptr<quasi::app::DpdkRingLink> open_dpdk(Options& o, QuasiLink& link) {
    default_eal_args(o);
    std::string error;
    auto ring = quasi::app::open_dpdk_ring_link("quasi-perf", o.eal_args, &error);
    if (!ring) {
        std::fprintf(stderr, "quasi-perf: --link dpdk: %s\n", error.c_str());
        return nullptr;
    }
    link = {&ring->pool(0), &ring->pool(1), &ring->netif(0), &ring->netif(1)};
    o.quasi_link = &link;
    return ring;
}

int main(int argc, char** argv) {
    Options o;
    std::vector<char*> args;
    quasi::app::split_eal_args(argc, argv, args, o.eal_args);
    if (int rc = parse(static_cast<int>(args.size()), args.data(), o); rc >= 0) return rc;
    QuasiLink dpdk_link;
    std::unique_ptr<quasi::app::DpdkRingLink> dpdk;
    if (o.link == "dpdk" && !(dpdk = open_dpdk(o, dpdk_link))) return 1;
    std::vector<Test> tests;
    for (const std::string& name : o.tests) tests.push_back(kTests.at(name));
    if (o.threads == 2) {
        if (o.link != "mem") {
            std::fprintf(stderr, "quasi-perf: --threads 2 runs on the mem link only\n");
            return 2;
        }
        for (Test t : tests)
            if (is_rr(t)) {
                std::fprintf(stderr, "quasi-perf: --threads 2 runs the stream tests only (not %s)\n", test_name(t));
                return 2;
            }
    }
    for (Test t : tests)
        for (size_t size : o.sizes.empty() ? default_sizes(t) : o.sizes)
            if (size > max_size(t)) {
                std::fprintf(stderr, "quasi-perf: %s carries at most %zu bytes per message (got %zu)\n", test_name(t),
                             max_size(t), size);
                return 2;
            }
    std::unique_ptr<KernelPair> kernel;
    if (has(o.baselines, "lwip") && !lwip_built()) {
        std::fprintf(stderr, "quasi-perf: --baseline lwip: built without lwIP (install liblwip-dev, reconfigure)\n");
        return 1;
    }
    if (has(o.baselines, "kernel")) {
        std::string error;
        kernel = KernelPair::create(error);
        if (!kernel) {
            std::fprintf(stderr, "quasi-perf: --baseline kernel: %s\n", error.c_str());
            return 1;
        }
    }
    std::unique_ptr<TapPeer> tap;
    if (o.link == "tap" || o.link == "af_packet") {
        std::string error;
        if (o.link == "af_packet") default_eal_args(o);
        tap = o.link == "tap" ? TapPeer::create(error) : TapPeer::create_af_packet(o.eal_args, error);
        if (!tap) {
            std::fprintf(stderr, "quasi-perf: --link %s: %s\n", o.link.c_str(), error.c_str());
            return 1;
        }
        o.tap = tap.get();
    }
    // The JIT readies itself while the first stacks come up; from here on main() returns
    // through the wait for it below.
    if (o.mode != "generic") quasi::prewarm_specializer();
    nlohmann::json load_start = load_average();
    if (!o.json) print_header(o), std::fflush(stdout);
    std::vector<Cell> cells;
    bool ok = run_all(o, tests, kernel.get(), cells);
    if (o.json) {
        print_json(o, load_start, cells);
    } else {
        print_table(stdout, cells);
        std::printf("load average (1 min): %.2f at start, %.2f at end\n", load_start["1min"].get<double>(),
                    load_average()["1min"].get<double>());
    }
    if (!o.plot.empty()) {
        std::string error;
        if (write_plot(cells, o.plot, error))
            std::fprintf(stderr, "quasi-perf: plot written to %s\n", o.plot.c_str());
        else
            std::fprintf(stderr, "quasi-perf: --plot %s: %s\n", o.plot.c_str(), error.c_str()), ok = false;
    }
    // The JIT's background thread may still be warming up (a short run, or no path that
    // specializes, e.g. TCP_MAERTS on the tap): LLVM must not be torn down under it.
    if (o.mode != "generic") quasi::specializer_wait_idle();
    return ok ? 0 : 1;
}
