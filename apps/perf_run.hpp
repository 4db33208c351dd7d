// quasi-perf's tests and paths (netperf's names and meanings), one run's result, and the
// measuring loop every path shares: a warm-up that is left out of the figures, then a
// window bounded by a duration or a count, with a progress callback.
#pragma once

#include "apps/perf_stats.hpp"
#include "apps/perf_wire.hpp"
#include "stack/buffer.hpp"
#include "stack/netif.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace quasi::perf {

// STREAM: one way, the receiver counts. MAERTS: TCP_STREAM the other way (the remote
// sends). RR: `size` bytes out, `size` bytes back, one transaction, timed. CRR: an RR
// transaction on a connection of its own: connect, request, response, then a full
// close (the client's FIN first, the server's, both acknowledged).
enum class Test { udp_stream, tcp_stream, tcp_maerts, udp_rr, tcp_rr, tcp_crr };
// generic: send(); specialized: a send handle compiled for the socket and the size
// (jit/specialize.hpp); kernel / kernel_capped: Linux sockets across a veth pair, with
// segmentation offloads on / capped to 1500-byte segments; lwip: lwIP 2.1.3, two netifs
// joined in memory in this process (perf_lwip.hpp).
enum class Path { generic, specialized, kernel, kernel_capped, lwip };

const char* test_name(Test t);
const char* path_name(Path p);
bool is_rr(Test t);  // RR and CRR: transactions, latency
bool is_tcp(Test t);
// False for CRR: a handle compiled per connection would be the figure (a JIT compile per
// transaction), not its sends.
bool can_specialize(Test t);
// The largest message a test carries: a UDP datagram's payload, or any TCP send().
size_t max_size(Test t);

struct RunSpec {
    Test test = Test::udp_stream;
    size_t size = 64;
    Path path = Path::generic;
    double duration_s = 3;
    double warmup_s = 0.5;
    uint64_t count = 0;  // messages (STREAM) or transactions (RR) in the window; 0: duration
    // Stream tests on the in-memory link: the receiving stack polled on a thread of its
    // own (a ThreadLink between the two), as netperf's receiver runs on another CPU.
    bool receiver_thread = false;
    bool wire = false;  // count what each stack transmits by kind (apps/perf_wire.hpp); mem link
};

struct Counters {
    uint64_t msgs_sent = 0, bytes_sent = 0;
    uint64_t msgs_received = 0, bytes_received = 0;
    uint64_t transactions = 0;
};

struct RunResult {
    std::string error;  // empty: the run completed
    Counters total;     // warm-up included: what the sender counted and the receiver got
    Counters window;    // the measured window only
    double window_s = 0;
    LatencyHistogram latency_ns;                            // RR only, window only
    uint64_t specialized_sends = 0, generic_fallbacks = 0;  // a handle's own counts
    // TCP_CRR on quasi's stacks, after the run: TIME-WAIT records entered (one per
    // transaction, the client's) and sockets still open but the listener (none).
    uint64_t time_wait_records = 0, sockets_left = 0;
    // The link may drop datagrams (the kernel's veth pair, a tap into the kernel): UDP
    // counts must only satisfy received <= sent, the difference is loss.
    bool lossy_link = false;
    // receiver_thread: the sender and the receiver run apart, so the sender's rate is
    // a figure of its own (UDP: what the receiver missed is dropped, by reason here).
    bool receiver_thread = false;
    uint64_t drops_link_full = 0;       // the sender's frames refused by the full ring
    uint64_t drops_receive_queue = 0;   // UDP datagrams the receiving socket had no room for
    double sender_cpu_s = 0, receiver_cpu_s = 0;  // each thread's CPU time over the whole run
    // RunSpec::wire, stream tests: what the sending and the receiving stack transmitted.
    bool wire = false;
    WireCounts wire_sender, wire_receiver;

    double pps() const { return window_s > 0 ? double(window.msgs_received) / window_s : 0; }
    double sent_pps() const { return window_s > 0 ? double(window.msgs_sent) / window_s : 0; }
    double gbps() const { return window_s > 0 ? double(window.bytes_received) * 8 / window_s / 1e9 : 0; }
    double tps() const { return window_s > 0 ? double(window.transactions) / window_s : 0; }
};

// Called about every 250 ms during a run: seconds into the window (negative during the
// warm-up) and the current rate in the test's main unit (pps, Gb/s or tps).
using Progress = std::function<void(double elapsed_s, double rate)>;

double main_figure(Test t, const RunResult& r);  // pps for UDP_STREAM, gbps for TCP streams, tps for RR
const char* main_unit(Test t);

// Runs `step` (one burst or one transaction, updating the counters `read` returns)
// through the warm-up and the window. `step` returns false to abort (error set).
template <class Step, class Read>
void measure(const RunSpec& spec, const Progress& progress, RunResult& r, Step step, Read read) {
    using clock = std::chrono::steady_clock;
    auto seconds_since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
    clock::time_point start = clock::now(), window_start = start, last_progress = start;
    Counters at_window_start{}, at_last_progress{};
    bool in_window = spec.warmup_s <= 0;
    while (true) {
        if (!step()) return;
        double elapsed = seconds_since(window_start);
        if (!in_window && elapsed >= spec.warmup_s) {
            in_window = true;
            window_start = clock::now();
            at_window_start = read();
            r.latency_ns.clear();
            elapsed = 0;
        }
        if (in_window) {
            Counters now = read();
            bool done = spec.count ? (is_rr(spec.test) ? now.transactions - at_window_start.transactions
                                                       : now.msgs_sent - at_window_start.msgs_sent) >= spec.count
                                   : elapsed >= spec.duration_s;
            if (done) break;
        }
        if (progress && seconds_since(last_progress) >= 0.25) {
            Counters now = read();
            RunResult delta;
            delta.window_s = seconds_since(last_progress);
            delta.window = {0, 0, now.msgs_received - at_last_progress.msgs_received,
                            now.bytes_received - at_last_progress.bytes_received,
                            now.transactions - at_last_progress.transactions};
            progress(in_window ? elapsed : elapsed - spec.warmup_s, main_figure(spec.test, delta));
            last_progress = clock::now();
            at_last_progress = now;
        }
    }
    r.window_s = seconds_since(window_start);
    Counters end = read();
    r.window = {end.msgs_sent - at_window_start.msgs_sent, end.bytes_sent - at_window_start.bytes_sent,
                end.msgs_received - at_window_start.msgs_received, end.bytes_received - at_window_start.bytes_received,
                end.transactions - at_window_start.transactions};
}

// One RR or CRR transaction: `exchange` timed into the latency histogram and counted
// when it succeeds.
template <class Exchange>
bool timed_transaction(RunResult& r, Counters& c, Exchange exchange) {
    auto t0 = std::chrono::steady_clock::now();
    if (!exchange()) return false;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0);
    r.latency_ns.record(uint64_t(ns.count()));
    ++c.transactions;
    return true;
}


// The two devices (and their pools) the quasi stacks use instead of the in-memory link,
// e.g. a DPDK net_ring pair (quasi-perf --link dpdk).
struct QuasiLink {
    BufferPool* pool_a = nullptr;
    BufferPool* pool_b = nullptr;
    Netif* a = nullptr;
    Netif* b = nullptr;
};

// Two quasi stacks in this process on the in-memory link (ports/x86/mem_link.hpp), or
// on `link` when given, polled alternately on one thread. Path generic or specialized.
RunResult run_mem(const RunSpec& spec, const Progress& progress, const QuasiLink* link = nullptr);

}  // namespace quasi::perf
