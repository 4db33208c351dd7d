// quasi-perf's statistics (histogram percentiles, min/median/max, ratios pair by pair)
// and a short run of every test on the in-memory link, generic and specialized, where
// what the sender counted must equal what the receiver got.
#include "apps/perf_lwip.hpp"
#include "apps/perf_plot.hpp"
#include "apps/perf_report.hpp"
#include "apps/perf_run.hpp"
#include "apps/perf_stats.hpp"
#include "jit/specialize.hpp"

#include <gtest/gtest.h>

using namespace quasi::perf;
using PerfTest = quasi::perf::Test;  // inside TEST(), `Test` is gtest's

TEST(LatencyHistogram, ExactBelow128) {
    LatencyHistogram h;
    for (uint64_t v = 1; v <= 100; ++v) h.record(v);
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.percentile(50), 50u);
    EXPECT_EQ(h.percentile(90), 90u);
    EXPECT_EQ(h.percentile(99), 99u);
    EXPECT_EQ(h.percentile(100), 100u);
    EXPECT_EQ(h.percentile(0), 1u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogram, RelativeErrorBoundedAndNeverBelow) {
    // Values 1000..100999 ns in steps of 1000: the q-th percentile is the
    // ceil(q% of n)-th value; the histogram may report at most 1/64 above it.
    LatencyHistogram h;
    std::vector<uint64_t> values;
    for (uint64_t i = 1; i <= 101; ++i) values.push_back(i * 1000 - 1);
    for (uint64_t v : values) h.record(v);
    for (double q : {50.0, 90.0, 99.0, 99.9}) {
        size_t rank = size_t(std::ceil(q / 100 * double(values.size())));
        uint64_t exact = values[rank - 1];
        uint64_t got = h.percentile(q);
        EXPECT_GE(got, exact) << "q=" << q;
        EXPECT_LE(double(got), double(exact) * (1 + 1.0 / 64)) << "q=" << q;
    }
}

TEST(LatencyHistogram, BucketsAreContiguousAndOrdered) {
    // Every value maps to a bucket whose upper bound is >= the value, and the bucket of
    // the upper bound + 1 is the next one: no gaps, no overlaps.
    for (uint64_t v : {0ull, 127ull, 128ull, 129ull, 255ull, 256ull, 1000ull, 123456789ull, ~0ull >> 1, ~0ull}) {
        size_t b = LatencyHistogram::bucket_of(v);
        ASSERT_LT(b, LatencyHistogram::kBuckets);
        EXPECT_GE(LatencyHistogram::bucket_upper(b), v);
        uint64_t upper = LatencyHistogram::bucket_upper(b);
        if (upper != ~0ull) {
            EXPECT_EQ(LatencyHistogram::bucket_of(upper + 1), b + 1) << v;
        }
    }
}

TEST(LatencyHistogram, MergeAddsCounts) {
    LatencyHistogram a, b;
    for (int i = 0; i < 10; ++i) a.record(10), b.record(1000000);
    a.merge(b);
    EXPECT_EQ(a.count(), 20u);
    EXPECT_EQ(a.percentile(50), 10u);
    EXPECT_GE(a.percentile(51), 1000000u);
    EXPECT_EQ(a.max(), 1000000u);
}

TEST(Summary, MinMedianMax) {
    Summary odd = summarize({3, 1, 2});
    EXPECT_EQ(odd.runs, 3u);
    EXPECT_DOUBLE_EQ(odd.min, 1);
    EXPECT_DOUBLE_EQ(odd.median, 2);
    EXPECT_DOUBLE_EQ(odd.max, 3);
    Summary even = summarize({4, 1, 3, 2});
    EXPECT_DOUBLE_EQ(even.median, 2.5);
    EXPECT_EQ(summarize({}).runs, 0u);
}

TEST(PairRatios, RunByRun) {
    // A load swing halves both paths in run 2: the ratio per pair stays 2.
    auto r = pair_ratios({200, 100, 220}, {100, 50, 110});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 3u);
    for (double x : *r) EXPECT_DOUBLE_EQ(x, 2.0);
    EXPECT_FALSE(pair_ratios({1, 2}, {1}));
    EXPECT_FALSE(pair_ratios({1}, {0}));
    EXPECT_FALSE(pair_ratios({}, {}));
}

TEST(RatioRows, PairsSpecializedWithGeneric) {
    RunResult g1, g2, s1, s2;
    g1.window_s = g2.window_s = s1.window_s = s2.window_s = 1;
    g1.window.msgs_received = 100, g2.window.msgs_received = 50;
    s1.window.msgs_received = 300, s2.window.msgs_received = 150;
    std::vector<Cell> cells{{PerfTest::udp_stream, 64, Path::generic, {g1, g2}},
                            {PerfTest::udp_stream, 64, Path::specialized, {s1, s2}}};
    auto rows = ratio_rows(cells);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].numerator, Path::specialized);
    EXPECT_EQ(rows[0].ratios, (std::vector<double>{3.0, 3.0}));
    nlohmann::json j = to_json(cells);
    EXPECT_DOUBLE_EQ(j["UDP_STREAM"]["64"]["ratios"]["specialized/generic_pps"]["median"].get<double>(), 3.0);
    EXPECT_DOUBLE_EQ(j["UDP_STREAM"]["64"]["generic"]["pps"]["max"].get<double>(), 100.0);
}

TEST(Plot, OneLinePerPathOnePointPerSize) {
    auto run = [](double gbps) {
        RunResult r;
        r.window_s = 1;
        r.window.bytes_received = uint64_t(gbps * 1e9 / 8);
        return r;
    };
    std::vector<Cell> cells{{PerfTest::udp_stream, 64, Path::generic, {run(1), run(3), run(2)}},
                            {PerfTest::udp_stream, 1472, Path::generic, {run(10)}},
                            {PerfTest::udp_stream, 64, Path::lwip, {run(0.5)}},
                            {PerfTest::tcp_rr, 64, Path::generic, {run(1)}}};  // RR: not a throughput
    std::string script = plot_script(cells, "out.png");
    EXPECT_NE(script.find("set output \"out.png\""), std::string::npos);
    EXPECT_NE(script.find("64 2\n1472 10\nEOD"), std::string::npos) << script;  // the medians, by size
    EXPECT_NE(script.find("title 'lwip'"), std::string::npos);
    EXPECT_EQ(script.find("TCP_RR"), std::string::npos);
    EXPECT_EQ(plot_script({cells.back()}, "out.png"), "");
}

TEST(CountMismatch, TcpBytesAlwaysUdpExactInMemoryNoMoreThanSentElsewhere) {
    RunResult r;
    r.total.bytes_sent = 100, r.total.bytes_received = 99;
    r.total.msgs_sent = 10, r.total.msgs_received = 9;
    EXPECT_NE(count_mismatch(PerfTest::tcp_stream, Path::kernel, r), "");
    EXPECT_NE(count_mismatch(PerfTest::udp_stream, Path::generic, r), "");
    EXPECT_EQ(count_mismatch(PerfTest::udp_stream, Path::kernel_capped, r), "");  // loss across veth
    r.lossy_link = true;  // the tap: quasi's paths may lose datagrams into the kernel
    EXPECT_EQ(count_mismatch(PerfTest::udp_stream, Path::generic, r), "");
    r.total.msgs_received = 11;  // but never receive more than was sent
    EXPECT_NE(count_mismatch(PerfTest::udp_stream, Path::generic, r), "");
    EXPECT_NE(count_mismatch(PerfTest::udp_rr, Path::kernel, r), "");
    r.lossy_link = false;
    r.total.bytes_received = 100, r.total.msgs_received = 10;
    EXPECT_EQ(count_mismatch(PerfTest::tcp_rr, Path::specialized, r), "");
    EXPECT_EQ(count_mismatch(PerfTest::udp_rr, Path::generic, r), "");
}

TEST(Measure, WarmupLeftOutOfTheWindow) {
    // The warm-up always runs at least one burst before the window opens: what it sent
    // is in the totals and not in the window.
    RunSpec spec;
    spec.warmup_s = 0.01;
    spec.count = 1000;
    RunResult r = run_mem(spec, nullptr);
    ASSERT_EQ(r.error, "");
    EXPECT_GE(r.window.msgs_sent, spec.count);
    EXPECT_LT(r.window.msgs_sent, r.total.msgs_sent);
    EXPECT_LE(r.window.msgs_received, r.window.msgs_sent + 32);  // at most one burst in flight at the start
}

// Every test, both quasi paths (and lwIP), a counted run with no warm-up: the totals must match.
class MemRun : public ::testing::TestWithParam<std::tuple<PerfTest, Path>> {};

std::string mem_run_name(const ::testing::TestParamInfo<MemRun::ParamType>& info) {
    return std::string(test_name(std::get<0>(info.param))) + "_" + path_name(std::get<1>(info.param));
}

TEST_P(MemRun, SenderCountEqualsReceiverCount) {
    auto [test, path] = GetParam();
    RunSpec spec;
    spec.test = test;
    spec.path = path;
    spec.size = is_rr(test) ? 100 : is_tcp(test) ? 1448 : 64;
    spec.warmup_s = 0;
    spec.count = is_rr(test) ? 500 : 4000;
    if (path == Path::lwip && !lwip_built()) GTEST_SKIP() << "built without lwIP";
    RunResult r = path == Path::lwip ? run_lwip(spec, nullptr) : run_mem(spec, nullptr);
    ASSERT_EQ(r.error, "");
    EXPECT_GT(r.window_s, 0);
    EXPECT_GE(is_rr(test) ? r.window.transactions : r.window.msgs_sent, spec.count);
    if (is_tcp(test)) {
        EXPECT_EQ(r.total.bytes_sent, r.total.bytes_received);
    } else {
        EXPECT_EQ(r.total.msgs_sent, r.total.msgs_received);
    }
    if (is_rr(test)) {
        EXPECT_EQ(r.total.transactions * 2, r.total.msgs_sent);
        EXPECT_EQ(r.latency_ns.count(), r.window.transactions);
        EXPECT_GT(r.latency_ns.percentile(50), 0u);
    }
    if (path == Path::specialized) {
        EXPECT_GT(r.specialized_sends, 0u);
    }
    EXPECT_GT(main_figure(test, r), 0);
}

INSTANTIATE_TEST_SUITE_P(AllTests, MemRun,
                         ::testing::Combine(::testing::Values(PerfTest::udp_stream, PerfTest::tcp_stream,
                                                              PerfTest::tcp_maerts, PerfTest::udp_rr, PerfTest::tcp_rr),
                                            ::testing::Values(Path::generic, Path::specialized)),
                         mem_run_name);
// lwIP's two netifs in memory (--baseline lwip): the tests it runs.
INSTANTIATE_TEST_SUITE_P(Lwip, MemRun,
                         ::testing::Combine(::testing::Values(PerfTest::udp_stream, PerfTest::tcp_stream, PerfTest::tcp_rr),
                                            ::testing::Values(Path::lwip)),
                         mem_run_name);
// TCP_CRR: a connection per transaction, generic only (can_specialize()).
INSTANTIATE_TEST_SUITE_P(Crr, MemRun, ::testing::Values(std::make_tuple(PerfTest::tcp_crr, Path::generic)),
                         mem_run_name);

// netperf's TCP_CRR closes every connection: a transaction counts only once both FINs
// are acknowledged, so every counted one left exactly one TIME-WAIT record (the
// client's, which closes first) and no socket is left open after the run.
TEST(MemCrr, EveryTransactionClosesIntoTimeWait) {
    RunSpec spec;
    spec.test = PerfTest::tcp_crr;
    spec.size = 64;
    spec.warmup_s = 0;
    spec.count = 300;
    RunResult r = run_mem(spec, nullptr);
    ASSERT_EQ(r.error, "");
    EXPECT_GE(r.total.transactions, spec.count);
    EXPECT_EQ(r.time_wait_records, r.total.transactions);
    EXPECT_EQ(r.sockets_left, 0u);
}

// --threads 2: the receiving stack on a thread of its own across a ThreadLink. TCP
// delivers every byte; UDP may lose datagrams (the sender can outrun the receiver) but
// every one sent was received or counted as dropped by a stack (the run fails
// otherwise), and both threads ran.
class MemThreadRun : public ::testing::TestWithParam<std::tuple<PerfTest, Path>> {};

TEST_P(MemThreadRun, EveryMessageReceivedOrCountedDropped) {
    auto [test, path] = GetParam();
    RunSpec spec;
    spec.test = test;
    spec.path = path;
    spec.size = is_tcp(test) ? 1448 : 64;
    spec.warmup_s = 0;
    spec.count = 20000;
    spec.receiver_thread = true;
    RunResult r = run_mem(spec, nullptr);
    ASSERT_EQ(r.error, "");
    EXPECT_TRUE(r.receiver_thread);
    EXPECT_GE(r.window.msgs_sent, spec.count);
    if (is_tcp(test)) {
        EXPECT_EQ(r.total.bytes_sent, r.total.bytes_received);
    } else {
        EXPECT_GT(r.total.msgs_received, 0u);
        EXPECT_EQ(r.total.msgs_sent, r.total.msgs_received + r.drops_link_full + r.drops_receive_queue);
        EXPECT_EQ(count_mismatch(test, path, r), "");
    }
    EXPECT_GT(r.receiver_cpu_s, 0);
    EXPECT_GT(r.sender_cpu_s, 0);
    if (path == Path::specialized) {
        EXPECT_GT(r.specialized_sends, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Streams, MemThreadRun,
                         ::testing::Combine(::testing::Values(PerfTest::udp_stream, PerfTest::tcp_stream,
                                                              PerfTest::tcp_maerts),
                                            ::testing::Values(Path::generic, Path::specialized)),
                         mem_run_name);

TEST(MemThreadRun, RequestResponseRefused) {
    RunSpec spec;
    spec.test = PerfTest::tcp_rr;
    spec.count = 10;
    spec.receiver_thread = true;
    EXPECT_NE(run_mem(spec, nullptr).error, "");
}

// --wire: a TCP_STREAM of full-sized messages puts one data segment per message on the
// wire, and the receiver's pure ACKs and window updates are counted apart.
TEST(MemWire, TcpStreamSegmentsByKind) {
    RunSpec spec;
    spec.test = PerfTest::tcp_stream;
    spec.size = 1448;
    spec.warmup_s = 0;
    spec.count = 4000;
    spec.wire = true;
    RunResult r = run_mem(spec, nullptr);
    ASSERT_EQ(r.error, "");
    ASSERT_TRUE(r.wire);
    EXPECT_EQ(r.wire_sender.data_segments, r.total.msgs_sent);
    EXPECT_EQ(r.wire_sender.payload_bytes, r.total.bytes_received);
    EXPECT_EQ(r.wire_receiver.data_segments, 0u);
    EXPECT_GT(r.wire_receiver.pure_acks, 0u);
    // At least one ACK per two full segments (RFC 5681 4.2), never one per segment here.
    EXPECT_GE(2 * (r.wire_receiver.pure_acks + r.wire_receiver.window_updates) + 2, r.wire_sender.data_segments);
    EXPECT_LE(r.wire_receiver.frames, r.wire_sender.data_segments);
}
