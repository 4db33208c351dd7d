#include "apps/perf_plot.hpp"

#include <cstdio>
#include <map>
#include <sstream>

namespace quasi::perf {

namespace {

// Median Gbit/s of a cell (payload throughput on every stream test), 0 when it failed.
double median_gbps(const Cell& cell) {
    std::vector<double> values;
    for (const RunResult& r : cell.runs) {
        if (!r.error.empty()) return 0;
        values.push_back(r.gbps());
    }
    return summarize(values).median;
}

// gnuplot string literal: the quoting gnuplot accepts in double quotes.
std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char ch : text) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + "\"";
}

}  // namespace

std::string plot_script(const std::vector<Cell>& cells, const std::string& png_path) {
    // test -> path -> size -> Gbit/s
    std::map<Test, std::map<Path, std::map<size_t, double>>> series;
    for (const Cell& cell : cells) {
        if (is_rr(cell.test)) continue;
        double v = median_gbps(cell);
        if (v > 0) series[cell.test][cell.path][cell.size] = v;
    }
    if (series.empty()) return {};
    std::ostringstream s;
    s << "set terminal pngcairo size " << 640 * series.size() << ",480 font ',10'\n"
      << "set output " << quoted(png_path) << "\n"
      << "set multiplot layout 1," << series.size() << "\n"
      << "set logscale x 2\nset logscale y 10\nset grid\nset key bottom right noenhanced\n"
      << "set xlabel 'message size (bytes)'\nset ylabel 'Gbit/s (payload)'\n";
    for (const auto& [test, paths] : series) {
        s << "set title '" << test_name(test) << "' noenhanced\n";
        std::string plot = "plot ";
        for (const auto& [path, points] : paths) {
            std::string block = std::string("$") + test_name(test) + "_" + std::to_string(int(path));
            s << block << " << EOD\n";
            for (const auto& [size, gbps] : points) s << size << " " << gbps << "\n";
            s << "EOD\n";
            if (plot.size() > 5) plot += ", ";
            plot += block + " using 1:2 with linespoints title '" + path_name(path) + "'";
        }
        s << plot << "\n";
    }
    s << "unset multiplot\n";
    return s.str();
}

bool write_plot(const std::vector<Cell>& cells, const std::string& png_path, std::string& error) {
    std::string script = plot_script(cells, png_path);
    if (script.empty()) {
        error = "no stream test (UDP_STREAM, TCP_STREAM, TCP_MAERTS) with a figure to plot";
        return false;
    }
    std::FILE* gnuplot = popen("gnuplot", "w");
    if (!gnuplot) {
        error = "cannot start gnuplot";
        return false;
    }
    std::fwrite(script.data(), 1, script.size(), gnuplot);
    int status = pclose(gnuplot);
    if (status != 0) {
        error = "gnuplot failed (status " + std::to_string(status) + "; installed? scripts/setup.sh test adds gnuplot-nox)";
        return false;
    }
    return true;
}

}  // namespace quasi::perf
