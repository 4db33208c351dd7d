// quasi-perf's output: the figures of a run by name (unit in the name), the final
// table, the JSON document, and the machine it ran on.
#pragma once

#include "apps/perf_run.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace quasi::perf {

// Every repetition of one test, size and path.
struct Cell {
    Test test;
    size_t size;
    Path path;
    std::vector<RunResult> runs;
};

// name (unit in it: pps, gbps, tps, p99_us...) and value; the first is the main figure.
std::vector<std::pair<std::string, double>> figures(Test t, const RunResult& r);

// What the sender counted against what the receiver got, once a run has drained: TCP
// must deliver every byte on any path, UDP every datagram on the in-memory links (quasi's
// and lwIP's); where the link may drop (RunResult::lossy_link: the kernel's veth pair, the
// tap) a UDP receiver must not get more than was sent, and the difference is loss, not a
// fault. Empty when they agree.
std::string count_mismatch(Test t, Path p, const RunResult& r);

// CPU model, cores, kernel release, and the load average now.
nlohmann::json machine_info();
nlohmann::json load_average();

// The ratios pair by pair between two paths of a test and size (run i against run i).
struct RatioRow {
    Test test;
    size_t size;
    Path numerator, denominator;
    std::vector<double> ratios;
};
std::vector<RatioRow> ratio_rows(const std::vector<Cell>& cells);

void print_table(std::FILE* out, const std::vector<Cell>& cells);
nlohmann::json to_json(const std::vector<Cell>& cells);

}  // namespace quasi::perf
