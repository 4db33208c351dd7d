#include "apps/app_common.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sys/random.h>
#include <time.h>

namespace quasi::app {

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

bool parse_cidr(const char* text, Ipv4Addr& addr, uint8_t& prefix_len) {
    const char* slash = std::strchr(text, '/');
    if (!slash || slash - text >= 16) return false;
    char ip[16] = {};
    std::memcpy(ip, text, static_cast<size_t>(slash - text));
    char* end = nullptr;
    long len = std::strtol(slash + 1, &end, 10);
    if (*end != '\0' || end == slash + 1 || len < 0 || len > 32) return false;
    prefix_len = static_cast<uint8_t>(len);
    return parse_ipv4(ip, addr);
}

bool parse_endpoint(const char* text, SockAddr& out) {
    const char* colon = std::strchr(text, ':');
    if (!colon || colon - text >= 16) return false;
    char ip[16] = {};
    std::memcpy(ip, text, static_cast<size_t>(colon - text));
    uint64_t port = 0;
    if (!parse_ipv4(ip, out.addr) || !parse_size(colon + 1, port) || port == 0 || port > 65535) return false;
    out.port = static_cast<uint16_t>(port);
    return true;
}

bool parse_size(const char* text, uint64_t& out) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(text, &end, 10);
    if (end == text) return false;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': v <<= 10; ++end; break;
    case 'M': v <<= 20; ++end; break;
    case 'G': v <<= 30; ++end; break;
    default: return false;
    }
    if (*end != '\0') return false;
    out = v;
    return true;
}

void print_stats(std::FILE* out, const char* title, const Stats& stats) {
    std::fprintf(out, "%s\n", title);
    for (size_t i = 0; i < kCounterCount; ++i)
        if (stats.counters[i]) std::fprintf(out, "  %-24s %llu\n", name(Counter(i)), (unsigned long long)stats.counters[i]);
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (stats.drops[i])
            std::fprintf(out, "  drop %-19s %llu  (%s)\n", name(Drop(i)), (unsigned long long)stats.drops[i],
                         description(Drop(i)));
}

uint64_t random_seed() {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = 0x9E3779B97F4A7C15ull;
    return seed;
}

void install_stop_handlers() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

bool stop_requested() { return g_stop != 0; }

std::string link_operstate(const char* name) {
    std::string path = std::string("/sys/class/net/") + name + "/operstate";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return {};
    char line[32] = {};
    if (!std::fgets(line, sizeof line, f)) line[0] = '\0';
    std::fclose(f);
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace quasi::app

namespace quasi::app {

std::unique_ptr<TapNetif> open_tap_and_wait(const char* program, const char* name, BufferPool& pool,
                                            const MacAddr& mac, uint64_t wait_link_ms, const Clock& clock) {
    int error = 0;
    auto tap = TapNetif::open(name, pool, TapNetif::Config{.mac = mac, .mode = TapNetif::Mode::attach_only}, &error);
    if (!tap) {
        std::fprintf(stderr, "%s: cannot open tap '%s': %s (%s)\n", program, name, std::strerror(error),
                     TapNetif::open_error_hint(error));
        return nullptr;
    }
    if (wait_link_ms == 0) return tap;
    const TimeNs t0 = clock.now(), until = t0 + static_cast<TimeNs>(wait_link_ms) * kMillisecond;
    std::string state;
    while ((state = link_operstate(tap->name())) != "up" && clock.now() < until) {
        timespec ts{0, 5 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    std::printf("%s: kernel operstate of %s is '%s' after %.1f ms%s\n", program, tap->name(), state.c_str(),
                double(clock.now() - t0) / double(kMillisecond),
                state == "up" ? "" : " (not up: the kernel may drop its first replies)");
    return tap;
}

namespace {
uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
}  // namespace

void stream_bytes(uint64_t seed, uint64_t offset, uint8_t* out, size_t len) {
    const uint64_t base = seed << 32;
    for (size_t i = 0; i < len;) {
        const uint64_t pos = offset + i;
        const uint64_t word = splitmix64(base + pos / 8);
        for (unsigned b = static_cast<unsigned>(pos % 8); b < 8 && i < len; ++b, ++i)
            out[i] = static_cast<uint8_t>(word >> (8 * b));
    }
}

}  // namespace quasi::app
