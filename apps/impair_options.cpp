#include "apps/impair_options.hpp"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

namespace quasi::app {

namespace {

bool parse_probability(const char* text, double& out) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(text, &end);
    if (end == text || errno != 0 || !std::isfinite(v)) return false;
    if (*end == '%') {
        v /= 100.0;
        ++end;
    }
    if (*end != '\0' || v < 0.0 || v > 1.0) return false;
    out = v;
    return true;
}

bool parse_duration(const char* text, TimeNs& out) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(text, &end);
    if (end == text || errno != 0 || !std::isfinite(v) || v < 0) return false;
    double unit = double(kMillisecond);  // a bare number is milliseconds
    if (!std::strcmp(end, "ns")) unit = 1;
    else if (!std::strcmp(end, "us")) unit = double(kMicrosecond);
    else if (!std::strcmp(end, "ms") || *end == '\0') unit = double(kMillisecond);
    else if (!std::strcmp(end, "s")) unit = double(kSecond);
    else return false;
    const double ns = v * unit;
    if (ns > double(3600) * double(kSecond)) return false;  // an hour of delay is a typo
    out = static_cast<TimeNs>(ns);
    return true;
}

bool parse_unsigned(const char* text, uint64_t& out) {
    if (*text < '0' || *text > '9') return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text, &end, 0);
    if (*end != '\0' || errno != 0) return false;
    out = v;
    return true;
}

}  // namespace

bool parse_impair_spec(const char* spec, ImpairedNetif::Config& config, char* error, size_t error_len) {
    auto fail = [&](const std::string& item, const char* why) {
        std::snprintf(error, error_len, "'%s': %s", item.c_str(), why);
        return false;
    };
    if (!spec) return fail("", "missing SPEC");
    std::string all(spec);
    size_t pos = 0;
    while (pos <= all.size()) {
        size_t comma = all.find(',', pos);
        if (comma == std::string::npos) comma = all.size();
        std::string item = all.substr(pos, comma - pos);
        pos = comma + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) return fail(item, "expected KEY=VALUE");
        std::string key = item.substr(0, eq);
        const char* value = item.c_str() + eq + 1;
        bool rx = true, tx = true;
        if (key.rfind("rx.", 0) == 0) tx = false, key.erase(0, 3);
        else if (key.rfind("tx.", 0) == 0) rx = false, key.erase(0, 3);
        ImpairedNetif::Impairments* lanes[2] = {rx ? &config.rx : nullptr, tx ? &config.tx : nullptr};
        auto set_probability = [&](double ImpairedNetif::Impairments::*field) {
            double p = 0;
            if (!parse_probability(value, p)) return fail(item, "probability must be 0..1 or 0%..100%");
            for (auto* lane : lanes)
                if (lane) lane->*field = p;
            return true;
        };
        auto set_duration = [&](TimeNs ImpairedNetif::Impairments::*field) {
            TimeNs t = 0;
            if (!parse_duration(value, t)) return fail(item, "duration must be like 20ms, 500us, 1s (bare number: ms)");
            for (auto* lane : lanes)
                if (lane) lane->*field = t;
            return true;
        };
        bool ok;
        if (key == "loss") ok = set_probability(&ImpairedNetif::Impairments::loss);
        else if (key == "dup" || key == "duplicate") ok = set_probability(&ImpairedNetif::Impairments::duplicate);
        else if (key == "corrupt") ok = set_probability(&ImpairedNetif::Impairments::corrupt);
        else if (key == "reorder") ok = set_probability(&ImpairedNetif::Impairments::reorder);
        else if (key == "delay") ok = set_duration(&ImpairedNetif::Impairments::delay_ns);
        else if (key == "jitter") ok = set_duration(&ImpairedNetif::Impairments::jitter_ns);
        else if (key == "gap") {
            uint64_t n = 0;
            if (!parse_unsigned(value, n) || n < 1 || n > 1000) return fail(item, "gap must be 1..1000");
            for (auto* lane : lanes)
                if (lane) lane->reorder_gap = static_cast<uint32_t>(n);
            ok = true;
        } else if (key == "seed" && rx && tx) {
            ok = parse_unsigned(value, config.seed);
            if (!ok) return fail(item, "seed must be an unsigned integer");
        } else if (key == "hold" && rx && tx) {
            uint64_t n = 0;
            if (!parse_unsigned(value, n) || n < 1 || n > (1u << 20)) return fail(item, "hold must be 1..1048576");
            config.hold_frames = static_cast<size_t>(n);
            ok = true;
        } else {
            return fail(item, "unknown key (loss, dup, corrupt, reorder, gap, delay, jitter, seed, hold; "
                              "rx./tx. prefix for one direction)");
        }
        if (!ok) return false;
    }
    return true;
}

bool LinkImpairment::parse(const char* spec) {
    char error[256];
    ImpairedNetif::Config config = config_;
    if (!parse_impair_spec(spec, config, error, sizeof error)) {
        std::fprintf(stderr, "--impair: %s\n", error);
        return false;
    }
    config_ = config;
    requested_ = !config_.rx.is_pass_through() || !config_.tx.is_pass_through();
    auto lane = [](char* out, size_t len, const char* name, const ImpairedNetif::Impairments& i) {
        return std::snprintf(out, len, "%s loss=%g dup=%g corrupt=%g reorder=%g(gap %u) delay=%.3gms jitter=%.3gms", name,
                             i.loss, i.duplicate, i.corrupt, i.reorder, i.reorder_gap,
                             double(i.delay_ns) / double(kMillisecond), double(i.jitter_ns) / double(kMillisecond));
    };
    int n = lane(description_, sizeof description_, "rx", config_.rx);
    if (n > 0 && size_t(n) < sizeof description_) {
        int m = lane(description_ + n, sizeof description_ - size_t(n), "; tx", config_.tx);
        if (m > 0 && size_t(n + m) < sizeof description_)
            std::snprintf(description_ + n + m, sizeof description_ - size_t(n + m), "; seed=%llu",
                          (unsigned long long)config_.seed);
    }
    return true;
}

Netif& LinkImpairment::wrap(Netif& inner, BufferPool& pool, const Clock& clock) {
    if (!requested_) return inner;
    decorator_ = std::make_unique<ImpairedNetif>(inner, pool, clock, config_);
    return *decorator_;
}

void LinkImpairment::idle_wait(int fd, const Clock& clock, TimeNs max_wait) const {
    TimeNs wait = max_wait;
    if (decorator_) {
        const TimeNs due = decorator_->next_due();
        if (due != std::numeric_limits<TimeNs>::max()) {
            const TimeNs now = clock.now();
            wait = due <= now ? 0 : std::min(wait, due - now);
        }
    }
    if (wait == 0) return;
    pollfd pfd{fd, POLLIN, 0};
    timespec ts{static_cast<time_t>(wait / kSecond), static_cast<long>(wait % kSecond)};
    ::ppoll(&pfd, 1, &ts, nullptr);
}

void LinkImpairment::print(std::FILE* out) const {
    if (!decorator_) return;
    std::fprintf(out, "impairment: %s\n", description_);
    auto lane = [out](const char* name, const ImpairedNetif::Counters& c) {
        std::fprintf(out,
                     "impairment %s: passed %llu lost %llu duplicated %llu duplicate_failed %llu corrupted %llu "
                     "reordered %llu delayed %llu overflowed %llu\n",
                     name, (unsigned long long)c.passed, (unsigned long long)c.lost, (unsigned long long)c.duplicated,
                     (unsigned long long)c.duplicate_failed, (unsigned long long)c.corrupted,
                     (unsigned long long)c.reordered, (unsigned long long)c.delayed, (unsigned long long)c.overflowed);
    };
    lane("rx", decorator_->rx_counters());
    lane("tx", decorator_->tx_counters());
}

}  // namespace quasi::app
