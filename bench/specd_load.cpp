// quasi-specd-load: N simulated devices against a running quasi-specd, each on its
// own kernel TCP connection, asking for UDP send paths at a fixed total rate with a
// given share of misses; reports what the server did with it (latency, refusals,
// the stats request's cache figures) and its resident memory over the run.
//
//   quasi-specd-load --print-keys N > keys.json     # the devices' keys, for quasi-specd --keys
//   quasi-specd-load --specd 127.0.0.1:7700 --devices N [--rate 100] [--miss-percent 10]
//                    [--seconds 20] [--warm-contexts 64] [--specd-pid PID]
//                    [--max-latency-ms 2000] [--max-rss-growth-kb 2048]
//
// Hits draw from --warm-contexts contexts asked for once before the clock starts
// (the server compiles each; then every device asks for one of them once, so its
// connection's memory is taken before the clock starts too); a miss is a context no one asked for before (another
// source and destination port). Device d's k-th request is due at
// start + (k + d / N) * N / rate (open loop): latency runs from that time, so a
// server that falls behind shows it. Once a second the server's counters (a stats
// request) and, with --specd-pid, its VmRSS are sampled; the run "holds" when every
// request got its code (no busy, no error), the rate was kept (>= 95%), every reply
// came within --max-latency-ms (2 s: a device's request timeout), and the resident memory of the last
// half of the run grew by at most --max-rss-growth-kb (a miss must not grow it: the
// cache is bounded). The devices' keys are derived from their ids (a benchmark's
// keys, not secrets). Exit 0 when the run holds, 1 when not, 2 on errors.
#include "apps/cli_options.hpp"
#include "bench/spec_fixture.hpp"
#include "context/udp_context.hpp"
#include "jit/remote/device/target.hpp"
#include "jit/remote/proto/messages.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

namespace proto = quasi::remote;
using Clock = std::chrono::steady_clock;
using quasi::FrozenUdpContext;

constexpr uint64_t kFirstDevice = 1000;
constexpr uint64_t kCodeAddress = 0x7f0000000000;
constexpr uint32_t kCodeCapacity = 16384;

std::vector<uint8_t> key_of(uint64_t device) {
    std::vector<uint8_t> key(32);
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(device * 131 + i * 29 + 7);
    return key;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

uint64_t rss_kb(long pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string word;
    while (in >> word)
        if (word == "VmRSS:") {
            uint64_t kb = 0;
            in >> kb;
            return kb;
        }
    return 0;
}

int connect_to(const quasi::SockAddr& where) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(where.port);
    a.sin_addr.s_addr = htonl(where.addr.value);
    timeval t{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    return fd;
}

// One request's message for `context`, from `device`.
std::vector<uint8_t> request_bytes(const FrozenUdpContext& context, uint64_t device, uint64_t nonce) {
    proto::SpecRequest r;
    r.device_id = device;
    r.nonce = nonce;
    r.target = proto::device_target();
    r.path = proto::SendPath::udp;
    r.pointer_bytes = sizeof(void*);
    r.layout_tag = proto::udp_context_layout_tag();
    r.context = {reinterpret_cast<const uint8_t*>(&context), sizeof context};
    r.code_address = kCodeAddress;
    r.code_capacity = kCodeCapacity;
    auto symbols = proto::udp_host_symbols();
    std::copy(symbols.begin(), symbols.end(), r.symbols.begin());
    r.symbol_count = static_cast<uint8_t>(symbols.size());
    std::vector<uint8_t> out(proto::kMaxMessageBytes);
    size_t size = 0;
    if (proto::encode(r, key_of(device), out, size) != proto::ProtoError::ok) return {};
    out.resize(size);
    return out;
}

bool write_all(int fd, const std::vector<uint8_t>& m) {
    size_t off = 0;
    while (off < m.size()) {
        ssize_t n = ::send(fd, m.data() + off, m.size() - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 100);
            continue;
        }
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

// One whole message from a blocking socket (empty: closed or timed out).
std::vector<uint8_t> read_message(int fd) {
    std::vector<uint8_t> m(4);
    auto read_exact = [fd](uint8_t* p, size_t n) {
        while (n) {
            ssize_t r = ::recv(fd, p, n, 0);
            if (r <= 0) return false;
            p += r;
            n -= size_t(r);
        }
        return true;
    };
    if (!read_exact(m.data(), 4)) return {};
    uint32_t len = proto::message_length(m);
    if (len == 0) return {};
    m.resize(len);
    if (!read_exact(m.data() + 4, len - 4)) return {};
    return m;
}

struct Options {
    quasi::SockAddr specd;
    uint64_t devices = 10;
    uint64_t rate = 100;
    uint64_t miss_percent = 10;
    uint64_t seconds = 20;
    uint64_t warm_contexts = 64;
    uint64_t specd_pid = 0;
    uint64_t max_latency_ms = 2000;  // RemoteConfig::request_timeout: later, a device gives up
    uint64_t max_rss_growth_kb = 2048;
};

struct Device {
    uint64_t id = 0;
    int fd = -1;
    bool waiting = false;
    uint64_t nonce = 0;
    uint64_t sent = 0;  // requests sent; the next is due at due(sent)
    Clock::time_point due_of_outstanding;
    std::vector<uint8_t> rx;
    size_t rx_len = 0;
};

struct Totals {
    uint64_t sent = 0, ok = 0, busy = 0, failed = 0;
    std::vector<double> latency_ms;
};

class Load {
public:
    Load(const Options& o, const FrozenUdpContext& base) : o_(o), base_(base), rng_(12345) {}

    bool connect_all();
    bool warm_up();
    bool run();

private:
    Clock::time_point due(const Device& d, uint64_t k) const {
        double period_s = double(o_.devices) / double(o_.rate);
        double at = (double(k) + double(d.id - kFirstDevice) / double(o_.devices)) * period_s;
        return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
    }
    FrozenUdpContext next_context() {
        FrozenUdpContext c = base_;
        if (std::uniform_int_distribution<uint64_t>(0, 99)(rng_) < o_.miss_percent) {
            // A context never asked for: ports outside the warm set's.
            ++fresh_;
            c.src_port = static_cast<uint16_t>(20000 + fresh_ % 40000);
            c.dst_port = static_cast<uint16_t>(1 + fresh_ / 40000);
        } else {
            c.src_port = static_cast<uint16_t>(10000 + std::uniform_int_distribution<uint64_t>(0, o_.warm_contexts - 1)(rng_));
        }
        return c;
    }
    bool send_next(Device& d);
    bool receive(Device& d, Clock::time_point now);
    void sample(double t);

    const Options& o_;
    FrozenUdpContext base_;
    std::mt19937_64 rng_;
    uint64_t fresh_ = 0;
    std::vector<Device> devices_;
    Clock::time_point start_;
    Totals totals_;
    int stats_fd_ = -1;
    std::map<std::string, uint64_t> stats_;
    uint64_t rss_mid_ = 0, rss_max_late_ = 0, rss_first_ = 0;
};

bool Load::connect_all() {
    devices_.resize(o_.devices);
    for (uint64_t i = 0; i < o_.devices; ++i) {
        Device& d = devices_[i];
        d.id = kFirstDevice + i;
        d.fd = connect_to(o_.specd);
        d.rx.resize(proto::kMaxMessageBytes);
        // Devices arrive over a few seconds, not in one burst (the daemon accepts
        // one connection per wake-up of its accept loop).
        if (i % 32 == 31) ::usleep(20000);
        if (d.fd < 0) {
            std::fprintf(stderr, "quasi_specd_load: connection %" PRIu64 " failed: %s\n", i, std::strerror(errno));
            return false;
        }
    }
    stats_fd_ = connect_to(o_.specd);
    return stats_fd_ >= 0;
}

// One request and its reply over device d's connection (blocking); false unless ok.
bool ask_blocking(const Device& d, const FrozenUdpContext& c, uint64_t nonce) {
    if (!write_all(d.fd, request_bytes(c, d.id, nonce))) return false;
    auto m = read_message(d.fd);
    proto::SpecReply reply;
    return !m.empty() && proto::decode(m, key_of(d.id), reply) == proto::ProtoError::ok && reply.nonce == nonce &&
           reply.status == proto::Status::ok;
}

// The warm contexts compiled (device 0 asks for each), then one hit from every
// device: what a connection costs the daemon is paid before the clock starts.
bool Load::warm_up() {
    for (uint64_t i = 0; i < o_.warm_contexts; ++i) {
        FrozenUdpContext c = base_;
        c.src_port = static_cast<uint16_t>(10000 + i);
        if (!ask_blocking(devices_.front(), c, rng_())) {
            std::fprintf(stderr, "quasi_specd_load: warm-up request %" PRIu64 " failed\n", i);
            return false;
        }
    }
    // Every device's first request at once, then every reply.
    std::vector<uint64_t> nonces(devices_.size());
    for (size_t i = 0; i < devices_.size(); ++i) {
        FrozenUdpContext c = base_;
        c.src_port = static_cast<uint16_t>(10000 + i % o_.warm_contexts);
        nonces[i] = rng_();
        if (!write_all(devices_[i].fd, request_bytes(c, devices_[i].id, nonces[i]))) return false;
    }
    for (size_t i = 0; i < devices_.size(); ++i) {
        auto m = read_message(devices_[i].fd);
        proto::SpecReply reply;
        if (m.empty() || proto::decode(m, key_of(devices_[i].id), reply) != proto::ProtoError::ok ||
            reply.nonce != nonces[i] || reply.status != proto::Status::ok) {
            std::fprintf(stderr, "quasi_specd_load: device %zu's first request failed\n", i);
            return false;
        }
    }
    return true;
}

bool Load::send_next(Device& d) {
    d.nonce = rng_();
    d.due_of_outstanding = due(d, d.sent);
    ++d.sent;
    ++totals_.sent;
    d.waiting = true;
    return write_all(d.fd, request_bytes(next_context(), d.id, d.nonce));
}

// Reads what arrived; a whole reply is checked (MAC, nonce) and counted.
bool Load::receive(Device& d, Clock::time_point now) {
    ssize_t n = ::recv(d.fd, d.rx.data() + d.rx_len, d.rx.size() - d.rx_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return false;
    if (n > 0) d.rx_len += size_t(n);
    if (d.rx_len < 4) return true;
    uint32_t len = proto::message_length({d.rx.data(), 4});
    if (len == 0) return false;
    if (d.rx_len < len) return true;
    proto::SpecReply reply;
    if (proto::decode({d.rx.data(), len}, key_of(d.id), reply) != proto::ProtoError::ok || reply.nonce != d.nonce)
        return false;
    if (reply.status == proto::Status::ok)
        ++totals_.ok;
    else if (reply.status == proto::Status::busy)
        ++totals_.busy;
    else
        ++totals_.failed;
    totals_.latency_ms.push_back(ms_between(d.due_of_outstanding, now));
    std::memmove(d.rx.data(), d.rx.data() + len, d.rx_len - len);
    d.rx_len -= len;
    d.waiting = false;
    return true;
}

void Load::sample(double t) {
    proto::StatsRequest r{kFirstDevice, rng_()};
    std::vector<uint8_t> out(proto::kMaxMessageBytes);
    size_t size = 0;
    proto::StatsReply reply;
    if (proto::encode(r, key_of(kFirstDevice), out, size) == proto::ProtoError::ok) {
        out.resize(size);
        auto m = write_all(stats_fd_, out) ? read_message(stats_fd_) : std::vector<uint8_t>{};
        if (!m.empty() && proto::decode(m, key_of(kFirstDevice), reply) == proto::ProtoError::ok)
            for (const proto::Stat& s : reply.entries()) stats_[std::string(s.name)] = s.value;
    }
    uint64_t rss = o_.specd_pid ? rss_kb(long(o_.specd_pid)) : 0;
    if (!rss_first_) rss_first_ = rss;
    if (t < double(o_.seconds) / 2)
        rss_mid_ = rss;  // the last sample of the first half
    else
        rss_max_late_ = std::max(rss_max_late_, rss);
    std::printf("quasi_specd_load: t=%.0f s rss_kb=%" PRIu64 " requests=%" PRIu64 " hits=%" PRIu64
                " compiles=%" PRIu64 " busy=%" PRIu64 " cache_bytes=%" PRIu64 " cache_entries=%" PRIu64
                " cache_evictions=%" PRIu64 "\n",
                t, rss, stats_["requests"], stats_["hits"], stats_["compiles"], stats_["busy"], stats_["cache_bytes"],
                stats_["cache_entries"], stats_["cache_evictions"]);
}

bool Load::run() {
    start_ = Clock::now() + std::chrono::milliseconds(100);
    const auto end = start_ + std::chrono::seconds(o_.seconds);
    std::vector<pollfd> fds(devices_.size());
    double next_sample = 0;
    for (;;) {
        auto now = Clock::now();
        double t = std::chrono::duration<double>(now - start_).count();
        if (t >= next_sample) {
            sample(std::max(0.0, t));
            next_sample += 1;
        }
        bool all_idle = true;
        for (Device& d : devices_) {
            if (!d.waiting && now < end && due(d, d.sent) <= now && !send_next(d)) return false;
            all_idle = all_idle && !d.waiting;
        }
        if (now >= end && all_idle) break;
        if (now >= end + std::chrono::seconds(30)) {
            std::fprintf(stderr, "quasi_specd_load: replies still missing 30 s after the end\n");
            return false;
        }
        for (size_t i = 0; i < devices_.size(); ++i) fds[i] = {devices_[i].fd, POLLIN, 0};
        ::poll(fds.data(), fds.size(), 1);
        now = Clock::now();
        for (size_t i = 0; i < devices_.size(); ++i)
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && !receive(devices_[i], now)) {
                std::fprintf(stderr, "quasi_specd_load: device %zu: connection closed or bad reply (%s)\n", i,
                             std::strerror(errno));
                return false;
            }
    }
    sample(double(o_.seconds));
    auto& lat = totals_.latency_ms;
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, size_t(p * double(lat.size())))]; };
    const double achieved = double(totals_.sent) / double(o_.seconds);
    const int64_t growth = int64_t(rss_max_late_) - int64_t(rss_mid_);
    const bool holds = totals_.failed == 0 && totals_.busy == 0 && totals_.ok == totals_.sent &&
                       achieved >= 0.95 * double(o_.rate) && (lat.empty() || lat.back() <= double(o_.max_latency_ms)) &&
                       (!o_.specd_pid || growth <= int64_t(o_.max_rss_growth_kb));
    std::printf("quasi_specd_load: devices=%" PRIu64 " rate=%" PRIu64 " miss_percent=%" PRIu64 " seconds=%" PRIu64
                " sent=%" PRIu64 " ok=%" PRIu64 " busy=%" PRIu64 " failed=%" PRIu64
                " achieved=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rss_kb_first=%" PRIu64 " rss_kb_mid=%" PRIu64
                " rss_kb_late_max=%" PRIu64 " rss_growth_kb=%" PRId64 " cache_bytes=%" PRIu64
                " cache_evictions=%" PRIu64 " compiles=%" PRIu64 " holds=%d\n",
                o_.devices, o_.rate, o_.miss_percent, o_.seconds, totals_.sent, totals_.ok, totals_.busy,
                totals_.failed, achieved, pct(0.5), pct(0.99), lat.empty() ? 0.0 : lat.back(), rss_first_, rss_mid_,
                rss_max_late_, growth, stats_["cache_bytes"], stats_["cache_evictions"], stats_["compiles"],
                holds ? 1 : 0);
    return holds;
}

void print_keys(uint64_t n) {
    std::printf("{\"devices\": [");
    for (uint64_t i = 0; i < n; ++i) {
        std::printf("%s{\"id\": %" PRIu64 ", \"key\": \"", i ? ", " : "", kFirstDevice + i);
        for (uint8_t b : key_of(kFirstDevice + i)) std::printf("%02x", b);
        std::printf("\"}");
    }
    std::printf("]}\n");
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    uint64_t print_n = 0;
    CLI::App app{"N simulated devices against quasi-specd: latency, refusals, cache and memory", "quasi-specd-load"};
    quasi::app::take_last_values(app);
    quasi::app::add_size(app, "--print-keys", print_n, 1, 100000, "print the keys file of N devices and exit");
    quasi::app::add_endpoint(app, "--specd", o.specd, "quasi-specd's address and port");
    quasi::app::add_size(app, "--devices", o.devices, 1, 100000, "simulated devices, a connection each");
    quasi::app::add_size(app, "--rate", o.rate, 1, 1000000, "requests per second, all devices together");
    quasi::app::add_size(app, "--miss-percent", o.miss_percent, 0, 100, "share of requests for a new context");
    quasi::app::add_size(app, "--seconds", o.seconds, 2, 3600, "length of the measured run");
    quasi::app::add_size(app, "--warm-contexts", o.warm_contexts, 1, 30000, "contexts the hits draw from");
    quasi::app::add_size(app, "--specd-pid", o.specd_pid, 0, 1u << 30, "the daemon's pid, for its VmRSS");
    quasi::app::add_size(app, "--max-latency-ms", o.max_latency_ms, 1, 1000000,
                         "latency every reply of a holding run stays under (a device's request timeout)");
    quasi::app::add_size(app, "--max-rss-growth-kb", o.max_rss_growth_kb, 0, 1u << 30,
                         "VmRSS growth over the second half a holding run stays under");
    if (int rc = quasi::app::parse_command_line(app, argc, argv); rc >= 0) return rc;
    if (print_n) {
        print_keys(print_n);
        return 0;
    }
    if (o.specd.port == 0) {
        std::fprintf(stderr, "quasi_specd_load: --specd ADDR:PORT is required\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    // A real frozen context of this build (its pointers are never followed: the
    // code is compiled, not run); the ports make each context distinct.
    quasi::bench::SendBench fixture;
    auto snap = quasi::freeze_udp_send(fixture.stack, fixture.open(10000), 64u);
    if (!snap) {
        std::fprintf(stderr, "quasi_specd_load: %s\n", snap.error().message.c_str());
        return 2;
    }
    Load load(o, snap->context);
    if (!load.connect_all()) return 2;
    auto t0 = Clock::now();
    if (!load.warm_up()) return 2;
    std::printf("quasi_specd_load: %" PRIu64 " devices connected, %" PRIu64
                " warm contexts compiled and one hit per device in %.0f ms\n",
                o.devices, o.warm_contexts, ms_between(t0, Clock::now()));
    return load.run() ? 0 : 1;
}
