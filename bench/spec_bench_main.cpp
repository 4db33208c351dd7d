// quasi-bench-spec: generic vs specialized UDP and TCP send paths, side by side.
//
//   quasi-bench-spec [--json] [--quick] [Google Benchmark flags]
//
// Runs the Google Benchmark micro-benchmarks (time per send), then measures and
// prints one table: instructions per send (callgrind, exact; and the hardware
// counter when the kernel allows) with lwIP's udp_sendto_chksum beside the generic
// UDP path (when built with liblwip-dev: bench/lwip_baseline.hpp; both broken down by
// kind of work), machine-code bytes of a specialized handle vs the generic path's
// reachable code and vs its fast path alone, JIT latency cold
// and warm for both pipelines, cache-hit latency and memory per handle. --json prints the table's figures as
// JSON instead (and skips the Google Benchmark run). Child modes used internally:
// --callgrind-regions (under valgrind), --cold-probe fast|o2, --cold-probe-tcp fast|o2.
#include "bench/lwip_baseline.hpp"
#include "bench/spec_fixture.hpp"
#include "bench/spec_measure.hpp"
#include "jit/specialize.hpp"

#include <benchmark/benchmark.h>

#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

namespace quasi::bench {
namespace {

void BM_GenericSendTo(benchmark::State& state) {
    SendBench b;
    int fd = b.open(5000);
    UdpSocket* s = b.stack.descriptors().udp(fd);
    std::vector<uint8_t> data(state.range(0), 0x5A);
    for (auto _ : state) benchmark::DoNotOptimize(b.stack.udp().send_to(*s, data.data(), data.size(), nullptr));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GenericSendTo)->Arg(64)->Arg(1024);

// lwIP's udp_sendto_chksum on the same terms (bench/lwip_baseline.hpp): the generic path's baseline.
void BM_LwipUdpSendto(benchmark::State& state) {
    if (!lwip_baseline_init())
        return state.SkipWithError(lwip_baseline_built() ? "lwIP set-up failed" : "lwIP not built (liblwip-dev)");
    std::vector<uint8_t> data(state.range(0), 0x5A);
    for (auto _ : state) benchmark::DoNotOptimize(lwip_baseline_send(data.data(), data.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LwipUdpSendto)->Arg(64)->Arg(1024);

void BM_SpecializedSend(benchmark::State& state) {
    SendBench b;
    int fd = b.open(5000);
    auto h = specialize_send(b.stack, fd, {.message_size = uint32_t(state.range(0)), .flush = false});
    if (!h) return state.SkipWithError(h.error().message.c_str());
    std::vector<uint8_t> data(state.range(0), 0x5A);
    for (auto _ : state) benchmark::DoNotOptimize(h->send(data.data(), data.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpecializedSend)->Arg(64)->Arg(1024);

void BM_SpecializedSendAnySize(benchmark::State& state) {
    SendBench b;
    int fd = b.open(5000);
    auto h = specialize_send(b.stack, fd, {.message_size = {}, .flush = false});
    if (!h) return state.SkipWithError(h.error().message.c_str());
    std::vector<uint8_t> data(state.range(0), 0x5A);
    for (auto _ : state) benchmark::DoNotOptimize(h->send(data.data(), data.size()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpecializedSendAnySize)->Arg(64)->Arg(1024);

void BM_CacheHit(benchmark::State& state) {
    SendBench b;
    int fd = b.open(5000);
    auto keep = specialize_send(b.stack, fd);
    if (!keep) return state.SkipWithError(keep.error().message.c_str());
    for (auto _ : state) {
        auto h = specialize_send(b.stack, fd);
        benchmark::DoNotOptimize(h);
    }
}
BENCHMARK(BM_CacheHit);

// TCP, one 1448-byte segment per send (the fixture acknowledges between sends).
void BM_TcpGenericSend(benchmark::State& state) {
    TcpSendBench b;
    if (!b.established()) return state.SkipWithError("no TCP connection");
    std::vector<uint8_t> data(TcpSendBench::kSegment, 0x5A);
    for (auto _ : state) {
        benchmark::DoNotOptimize(b.a.tcp().send(*b.s, data.data(), data.size()));
        b.ack();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TcpGenericSend);

void BM_TcpSpecializedSend(benchmark::State& state) {
    TcpSendBench b;
    if (!b.established()) return state.SkipWithError("no TCP connection");
    auto h = specialize_send(b.a, b.fd, {.message_size = TcpSendBench::kSegment, .flush = false});
    if (!h) return state.SkipWithError(h.error().message.c_str());
    std::vector<uint8_t> data(TcpSendBench::kSegment, 0x5A);
    for (auto _ : state) {
        benchmark::DoNotOptimize(h->send(data.data(), data.size()));
        b.ack();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TcpSpecializedSend);

std::string self_path() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string("quasi-bench-spec");
}

}  // namespace
}  // namespace quasi::bench

int main(int argc, char** argv) {
    using namespace quasi::bench;
    bool json = false, quick = false;
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--callgrind-regions")) return run_callgrind_regions();
        if (!std::strcmp(argv[i], "--cold-probe") && i + 1 < argc) return run_cold_probe(!std::strcmp(argv[i + 1], "o2"), !std::strcmp(argv[i + 1], "prewarmed"));
        if (!std::strcmp(argv[i], "--cold-probe-tcp") && i + 1 < argc)
            return run_cold_probe_tcp(!std::strcmp(argv[i + 1], "o2"));
        if (!std::strcmp(argv[i], "--warm-probe") && i + 1 < argc) return run_warm_probe(std::atoi(argv[i + 1]));
        if (!std::strcmp(argv[i], "--json")) json = true;
        else if (!std::strcmp(argv[i], "--quick")) quick = true;
        else rest.push_back(argv[i]);
    }
    if (!json) {
        int n = static_cast<int>(rest.size());
        benchmark::Initialize(&n, rest.data());
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
        std::fflush(stdout);
    }
    std::string self = self_path();
    Report r;
    measure_instructions_callgrind(r, self);
    measure_instructions_perf(r);
    measure_wall_time(r);
    measure_code_size(r, self);
    measure_latency(r, self, quick ? 3 : 7, quick ? 9 : 31);
    measure_memory(r, quick ? 32 : 128);
    if (json)
        print_json(r);
    else
        print_table(r);
    return 0;
}
