// quasi-perf --plot FILE.png: throughput against message size, one panel per stream test
// (UDP_STREAM, TCP_STREAM, TCP_MAERTS), one line per path (generic, specialized, kernel,
// kernel-capped, lwip), each point the median of its runs. Drawn by gnuplot (pngcairo).
#pragma once

#include "apps/perf_report.hpp"

#include <string>
#include <vector>

namespace quasi::perf {

// The gnuplot script, data inline; empty when no stream test has a figure.
std::string plot_script(const std::vector<Cell>& cells, const std::string& png_path);

// Runs gnuplot on plot_script(); false and `error` set when there is nothing to plot or
// gnuplot fails (not installed: scripts/setup.sh test installs gnuplot-nox).
bool write_plot(const std::vector<Cell>& cells, const std::string& png_path, std::string& error);

}  // namespace quasi::perf
