#include "apps/perf_report.hpp"

#include <sys/utsname.h>

#include <fstream>
#include <thread>

namespace quasi::perf {

const char* test_name(Test t) {
    switch (t) {
        case Test::udp_stream: return "UDP_STREAM";
        case Test::tcp_stream: return "TCP_STREAM";
        case Test::tcp_maerts: return "TCP_MAERTS";
        case Test::udp_rr: return "UDP_RR";
        case Test::tcp_rr: return "TCP_RR";
        case Test::tcp_crr: return "TCP_CRR";
    }
    return "?";
}

const char* path_name(Path p) {
    switch (p) {
        case Path::generic: return "generic";
        case Path::specialized: return "specialized";
        case Path::kernel: return "kernel";
        case Path::kernel_capped: return "kernel-capped";
        case Path::lwip: return "lwip";
    }
    return "?";
}

bool is_rr(Test t) {
    return t == Test::udp_rr || t == Test::tcp_rr || t == Test::tcp_crr;
}
bool is_tcp(Test t) {
    return t == Test::tcp_stream || t == Test::tcp_maerts || t == Test::tcp_rr || t == Test::tcp_crr;
}
bool can_specialize(Test t) {
    return t != Test::tcp_crr;
}
size_t max_size(Test t) {
    return is_tcp(t) ? size_t(1) << 20 : 65507;
}

const char* main_unit(Test t) {
    return is_rr(t) ? "tps" : is_tcp(t) ? "gbps" : "pps";
}

double main_figure(Test t, const RunResult& r) {
    return is_rr(t) ? r.tps() : is_tcp(t) ? r.gbps() : r.pps();
}

std::vector<std::pair<std::string, double>> figures(Test t, const RunResult& r) {
    if (is_rr(t)) {
        auto us = [&](double q) { return double(r.latency_ns.percentile(q)) / 1e3; };
        return {{"tps", r.tps()}, {"p50_us", us(50)}, {"p90_us", us(90)}, {"p99_us", us(99)}, {"p99_9_us", us(99.9)}};
    }
    if (is_tcp(t)) return {{"gbps", r.gbps()}};
    // Apart, the sender may outrun the receiver: its own rate is a figure too.
    if (r.receiver_thread) return {{"pps", r.pps()}, {"gbps", r.gbps()}, {"sent_pps", r.sent_pps()}};
    return {{"pps", r.pps()}, {"gbps", r.gbps()}};
}

std::string count_mismatch(Test t, Path p, const RunResult& r) {
    char text[160];
    if (is_tcp(t) && r.total.bytes_sent != r.total.bytes_received) {
        std::snprintf(text, sizeof text, "the senders counted %llu bytes, the receivers got %llu",
                      (unsigned long long)r.total.bytes_sent, (unsigned long long)r.total.bytes_received);
        return text;
    }
    bool mem = p == Path::generic || p == Path::specialized || p == Path::lwip;
    bool lossless = mem && !r.lossy_link;
    if (!is_tcp(t) && (lossless ? r.total.msgs_sent != r.total.msgs_received
                                : r.total.msgs_received > r.total.msgs_sent)) {
        std::snprintf(text, sizeof text, "the senders counted %llu datagrams, the receivers got %llu",
                      (unsigned long long)r.total.msgs_sent, (unsigned long long)r.total.msgs_received);
        return text;
    }
    return {};
}

nlohmann::json load_average() {
    std::ifstream in("/proc/loadavg");
    double one = 0, five = 0, fifteen = 0;
    in >> one >> five >> fifteen;
    return {{"1min", one}, {"5min", five}, {"15min", fifteen}};
}

nlohmann::json machine_info() {
    std::string model;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; model.empty() && std::getline(cpuinfo, line);)
        if (line.rfind("model name", 0) == 0) model = line.substr(line.find(':') + 2);
    utsname u{};
    uname(&u);
    return {{"cpu_model", model},
            {"cores", std::thread::hardware_concurrency()},
            {"kernel", u.release},
            {"machine", u.machine}};
}

std::vector<RatioRow> ratio_rows(const std::vector<Cell>& cells) {
    // Which pairs: specialized against generic, and quasi's generic path against the kernel's and lwIP's.
    const std::pair<Path, Path> pairs[] = {{Path::specialized, Path::generic},
                                           {Path::generic, Path::kernel},
                                           {Path::generic, Path::kernel_capped},
                                           {Path::generic, Path::lwip}};
    std::vector<RatioRow> rows;
    for (auto [n, d] : pairs) {
        for (const Cell& num : cells) {
            if (num.path != n) continue;
            for (const Cell& den : cells) {
                if (den.test != num.test || den.size != num.size || den.path != d) continue;
                std::vector<double> a, b;
                for (const RunResult& r : num.runs) a.push_back(main_figure(num.test, r));
                for (const RunResult& r : den.runs) b.push_back(main_figure(den.test, r));
                if (auto ratios = pair_ratios(a, b)) rows.push_back({num.test, num.size, n, d, std::move(*ratios)});
            }
        }
    }
    return rows;
}

namespace {

// 2.31M, 845k, 12.3: three significant figures, SI prefix for large counts.
std::string human(double v) {
    char buf[32];
    if (v >= 1e6)
        std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
    else if (v >= 1e4)
        std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

nlohmann::json summary_json(const std::vector<double>& values) {
    Summary s = summarize(values);
    return {{"min", s.min}, {"median", s.median}, {"max", s.max}, {"runs", values}};
}

std::string ratio_key(const RatioRow& row) {
    return std::string(path_name(row.numerator)) + "/" + path_name(row.denominator);
}

}  // namespace

namespace {

// UDP: datagrams sent and not received (a lossy link's; 0 in memory).
uint64_t lost(const RunResult& r) {
    return r.total.msgs_sent > r.total.msgs_received ? r.total.msgs_sent - r.total.msgs_received : 0;
}

// --wire: each stack's transmitted segments by kind, per MB of payload received.
nlohmann::json wire_json(const RunResult& r) {
    double mb = double(r.total.bytes_received) / 1e6;
    auto per_mb = [&](const WireCounts& w) {
        auto f = [&](uint64_t v) { return mb > 0 ? double(v) / mb : 0.0; };
        return nlohmann::json{{"frames_per_mb", f(w.frames)},           {"data_segments_per_mb", f(w.data_segments)},
                              {"psh_per_mb", f(w.psh)},                 {"pure_acks_per_mb", f(w.pure_acks)},
                              {"window_updates_per_mb", f(w.window_updates)}};
    };
    return {{"sender", per_mb(r.wire_sender)}, {"receiver", per_mb(r.wire_receiver)}};
}

void print_cell(std::FILE* out, const Cell& cell) {
    std::fprintf(out, "%-11s %7zu %-14s", test_name(cell.test), cell.size, path_name(cell.path));
    std::string error;
    for (const RunResult& r : cell.runs)
        if (!r.error.empty()) error = r.error;
    if (!error.empty() || cell.runs.empty()) {
        std::fprintf(out, " failed: %s\n", error.c_str());
        return;
    }
    auto names = figures(cell.test, cell.runs.front());
    for (size_t i = 0; i < names.size(); ++i) {
        std::vector<double> values;
        for (const RunResult& r : cell.runs) values.push_back(figures(cell.test, r)[i].second);
        Summary s = summarize(values);
        if (s.runs > 1)
            std::fprintf(out, "  %s %s [%s..%s]", names[i].first.c_str(), human(s.median).c_str(), human(s.min).c_str(),
                         human(s.max).c_str());
        else
            std::fprintf(out, "  %s %s", names[i].first.c_str(), human(s.median).c_str());
    }
    uint64_t sent = 0, missing = 0;
    for (const RunResult& r : cell.runs) sent += r.total.msgs_sent, missing += lost(r);
    if (!is_tcp(cell.test) && missing > 0)
        std::fprintf(out, "  lost %.2f%% (%llu of %llu)", 100.0 * double(missing) / double(sent),
                     (unsigned long long)missing, (unsigned long long)sent);
    std::fprintf(out, "\n");
}

}  // namespace

void print_table(std::FILE* out, const std::vector<Cell>& cells) {
    std::fprintf(out, "%-11s %7s %-14s  %s\n", "test", "size(B)", "path", "figure median [min..max] over the runs");
    std::vector<RatioRow> ratios = ratio_rows(cells);
    for (size_t i = 0; i < cells.size(); ++i) {
        print_cell(out, cells[i]);
        bool group_ends =
            i + 1 == cells.size() || cells[i + 1].test != cells[i].test || cells[i + 1].size != cells[i].size;
        if (!group_ends) continue;
        for (const RatioRow& row : ratios) {
            if (row.test != cells[i].test || row.size != cells[i].size) continue;
            Summary s = summarize(row.ratios);
            std::fprintf(out, "%-11s %7zu %-14s  %s x%.2f [%.2f..%.2f] %s, run by run\n", test_name(row.test), row.size,
                         "ratio", main_unit(row.test), s.median, s.min, s.max, ratio_key(row).c_str());
        }
    }
}

nlohmann::json to_json(const std::vector<Cell>& cells) {
    nlohmann::json results = nlohmann::json::object();
    for (const Cell& cell : cells) {
        nlohmann::json& node = results[test_name(cell.test)][std::to_string(cell.size)][path_name(cell.path)];
        std::vector<std::string> errors;
        nlohmann::json totals = nlohmann::json::array();
        for (const RunResult& r : cell.runs) {
            if (!r.error.empty()) errors.push_back(r.error);
            totals.push_back({{"msgs_sent", r.total.msgs_sent},
                              {"msgs_received", r.total.msgs_received},
                              {"bytes_sent", r.total.bytes_sent},
                              {"bytes_received", r.total.bytes_received},
                              {"transactions", r.total.transactions},
                              {"window_s", r.window_s}});
            if (!is_tcp(cell.test)) totals.back()["msgs_lost"] = lost(r);
            if (r.receiver_thread) {
                totals.back()["drops_link_full"] = r.drops_link_full;
                totals.back()["drops_receive_queue"] = r.drops_receive_queue;
                totals.back()["sender_cpu_s"] = r.sender_cpu_s;
                totals.back()["receiver_cpu_s"] = r.receiver_cpu_s;
            }
            if (r.wire) totals.back()["wire"] = wire_json(r);
            if (cell.path == Path::specialized) {
                totals.back()["specialized_sends"] = r.specialized_sends;
                totals.back()["generic_fallbacks"] = r.generic_fallbacks;
            }
        }
        if (!errors.empty()) node["errors"] = errors;
        if (cell.runs.empty() || !errors.empty()) continue;
        auto names = figures(cell.test, cell.runs.front());
        for (size_t i = 0; i < names.size(); ++i) {
            std::vector<double> values;
            for (const RunResult& r : cell.runs) values.push_back(figures(cell.test, r)[i].second);
            node[names[i].first] = summary_json(values);
        }
        node["totals"] = totals;
    }
    for (const RatioRow& row : ratio_rows(cells))
        results[test_name(row.test)][std::to_string(row.size)]["ratios"][ratio_key(row) + "_" + main_unit(row.test)] =
            summary_json(row.ratios);
    return results;
}

}  // namespace quasi::perf
