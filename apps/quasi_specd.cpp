// quasi-specd: the remote specialization server (DESIGN.md, "Remote
// specialization"; the byte format in jit/remote/proto/README.md). A Linux daemon
// on kernel sockets:
//
//   quasi-specd --listen 198.18.0.1:7700 --keys keys.json [--compile-threads 2]
//               [--cache-bytes 16777216] [--queue 64] [--max-connections 64] [--no-warm-up]
//
// keys.json: {"devices": [{"id": 7, "key": "<32 random bytes as 64 hex digits>"}, ...]}
//
// One thread per device connection reads length-prefixed messages, finds the
// device's key by the header's device id, checks the MAC (a message that fails, or
// names an unknown device, is logged and its connection closed: a reply needs the
// device's key) and answers: spec requests through SpecService (cache, bounded
// compile queue, link), stats requests with the counters. One log line per request
// on stderr. SIGTERM/SIGINT: stop accepting, wake and close every connection, let
// running compiles finish, print the counters, exit 0. With port 0 the port the
// kernel chose is printed on stdout ("listening on ADDR:PORT").
#include "jit/remote/proto/messages.hpp"
#include "jit/remote/server/spec_service.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace proto = quasi::remote;
using quasi::jit::remote::ServiceStats;
using quasi::jit::remote::SpecService;
using Clock = std::chrono::steady_clock;

constexpr int kIdleSeconds = 60;  // a connection silent this long is closed

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::mutex log_mutex;
template <class... Args>
void log_line(const char* format, Args... args) {
    std::lock_guard lock(log_mutex);
    std::fprintf(stderr, "quasi-specd: ");
    std::fprintf(stderr, format, args...);
    std::fputc('\n', stderr);
}

// ---- keys ----

using KeyTable = std::map<uint64_t, std::vector<uint8_t>>;

bool parse_hex(const std::string& hex, std::vector<uint8_t>& out) {
    if (hex.size() % 2) return false;
    out.clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
        unsigned v;
        if (std::sscanf(hex.c_str() + i, "%2x", &v) != 1 || !isxdigit(hex[i]) || !isxdigit(hex[i + 1])) return false;
        out.push_back(uint8_t(v));
    }
    return true;
}

// Every device's key, or a message saying what is wrong with the file.
std::string load_keys(const std::string& path, KeyTable& keys) {
    std::ifstream in(path);
    if (!in) return "cannot read " + path;
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("devices") || !doc["devices"].is_array())
        return path + ": expected {\"devices\": [{\"id\": N, \"key\": \"hex\"}, ...]}";
    for (const auto& d : doc["devices"]) {
        if (!d.is_object() || !d.contains("id") || !d["id"].is_number_unsigned() || !d.contains("key") ||
            !d["key"].is_string())
            return path + ": each device needs an unsigned \"id\" and a hex \"key\"";
        std::vector<uint8_t> key;
        uint64_t id = d["id"].get<uint64_t>();
        if (!parse_hex(d["key"].get<std::string>(), key) || key.size() < proto::kMinKeyBytes ||
            key.size() > proto::kMaxKeyBytes)
            return path + ": device " + std::to_string(id) + ": the key must be " +
                   std::to_string(proto::kMinKeyBytes) + ".." + std::to_string(proto::kMaxKeyBytes) +
                   " bytes in hex";
        if (!keys.emplace(id, std::move(key)).second) return path + ": device " + std::to_string(id) + " twice";
    }
    if (keys.empty()) return path + ": no devices";
    return {};
}

// ---- one connection ----

bool read_exact(int fd, uint8_t* p, size_t n) {
    while (n) {
        ssize_t r = ::recv(fd, p, n, 0);
        if (r <= 0) return false;  // closed, reset, idle timeout, or shut down by the daemon
        p += r;
        n -= size_t(r);
    }
    return true;
}

bool write_all(int fd, const uint8_t* p, size_t n) {
    while (n) {
        ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
        if (r <= 0) return false;
        p += r;
        n -= size_t(r);
    }
    return true;
}

struct Daemon {
    KeyTable keys;
    std::unique_ptr<SpecService> service;
    std::atomic<uint64_t> refused_messages{0};  // closed without a reply (bad MAC, unknown device, framing)
    std::atomic<uint64_t> connections{0};

    void serve(int fd, const std::string& peer);
    bool answer_spec(int fd, const std::string& peer, std::span<const uint8_t> message, const std::vector<uint8_t>& key);
    bool answer_stats(int fd, const std::string& peer, std::span<const uint8_t> message, const std::vector<uint8_t>& key);
};

void Daemon::serve(int fd, const std::string& peer) {
    std::vector<uint8_t> buffer(proto::kMaxMessageBytes);
    for (;;) {
        if (!read_exact(fd, buffer.data(), 4)) return;
        uint32_t length = proto::message_length({buffer.data(), 4});
        if (length == 0) {
            ++refused_messages;
            return log_line("%s: refused: message length out of bounds; closing", peer.c_str());
        }
        if (!read_exact(fd, buffer.data() + 4, length - 4)) {
            ++refused_messages;
            return log_line("%s: refused: truncated message (%u bytes announced); closing", peer.c_str(), length);
        }
        std::span<const uint8_t> message(buffer.data(), length);
        proto::Header header;
        if (proto::ProtoError e = proto::peek_header(message, header); e != proto::ProtoError::ok) {
            ++refused_messages;
            return log_line("%s: refused: %s; closing", peer.c_str(), proto::proto_error_name(e));
        }
        auto key = keys.find(header.device_id);
        if (key == keys.end()) {
            ++refused_messages;
            return log_line("%s: refused: unknown device %" PRIu64 "; closing", peer.c_str(), header.device_id);
        }
        bool ok = header.type == proto::MessageType::spec_request    ? answer_spec(fd, peer, message, key->second)
                  : header.type == proto::MessageType::stats_request ? answer_stats(fd, peer, message, key->second)
                                                                     : false;
        if (!ok) return;
    }
}

bool Daemon::answer_spec(int fd, const std::string& peer, std::span<const uint8_t> message,
                         const std::vector<uint8_t>& key) {
    auto start = Clock::now();
    proto::SpecRequest request;
    if (proto::ProtoError e = proto::decode(message, key, request); e != proto::ProtoError::ok) {
        ++refused_messages;
        log_line("%s: refused spec request: %s; closing", peer.c_str(), proto::proto_error_name(e));
        return false;
    }
    auto answer = service->answer(request);
    proto::SpecReply reply;
    reply.device_id = request.device_id;
    reply.nonce = request.nonce;
    reply.status = answer.status;
    reply.message = answer.message;
    reply.target = request.target;
    reply.path = request.path;
    reply.code_address = request.code_address;
    reply.entry_offset = answer.entry_offset;
    reply.symbol_hash = answer.symbol_hash;
    reply.code = answer.code;
    std::vector<uint8_t> out(proto::kMaxMessageBytes);
    size_t size = 0;
    if (proto::ProtoError e = proto::encode(reply, key, out, size); e != proto::ProtoError::ok) {
        log_line("%s: cannot encode the reply: %s; closing", peer.c_str(), proto::proto_error_name(e));
        return false;
    }
    bool sent = write_all(fd, out.data(), size);
    // A miss's phases: where a cold request's time goes (README, quasi-specd).
    char phases[160] = "";
    if (answer.compile_ms > 0)
        std::snprintf(phases, sizeof phases, " (queue %.1f, clone %.1f, fold %.1f, optimize %.1f, codegen %.1f)",
                      answer.queue_ms, answer.clone_ms, answer.fold_ms, answer.optimize_ms, answer.codegen_ms);
    log_line("device %" PRIu64 " %s: spec %.*s %s: %s%s%s, %zu B code, compile %.1f ms%s, link %.2f ms, %.1f ms in all",
             request.device_id, peer.c_str(), int(request.target.size()), request.target.data(),
             request.path == proto::SendPath::udp ? "udp" : "tcp", proto::status_name(answer.status),
             answer.status == proto::Status::ok ? (answer.hit ? " (cached)" : " (compiled)") : ": ",
             answer.message.c_str(), answer.code.size(), answer.compile_ms, phases, answer.link_ms, ms_since(start));
    return sent;
}

std::vector<std::pair<const char*, uint64_t>> counters(const ServiceStats& s, uint64_t refused, uint64_t connections) {
    return {{"requests", s.requests},
            {"hits", s.hits},
            {"misses", s.misses},
            {"compiles", s.compiles},
            {"compile_failures", s.compile_failures},
            {"refusals", s.refusals},
            {"busy", s.busy},
            {"compile_us", s.compile_us},
            {"queue_us", s.queue_us},
            {"clone_us", s.clone_us},
            {"fold_us", s.fold_us},
            {"optimize_us", s.optimize_us},
            {"codegen_us", s.codegen_us},
            {"warm_up_us", s.warm_up_us},
            {"link_us", s.link_us},
            {"code_bytes", s.code_bytes},
            {"cache_bytes", s.cache_bytes},
            {"cache_entries", s.cache_entries},
            {"cache_evictions", s.cache_evictions},
            {"refused_messages", refused},
            {"connections", connections}};
}

bool Daemon::answer_stats(int fd, const std::string& peer, std::span<const uint8_t> message,
                          const std::vector<uint8_t>& key) {
    proto::StatsRequest request;
    if (proto::ProtoError e = proto::decode(message, key, request); e != proto::ProtoError::ok) {
        ++refused_messages;
        log_line("%s: refused stats request: %s; closing", peer.c_str(), proto::proto_error_name(e));
        return false;
    }
    proto::StatsReply reply;
    reply.device_id = request.device_id;
    reply.nonce = request.nonce;
    for (auto [name, value] : counters(service->stats(), refused_messages, connections))
        reply.stats[reply.stat_count++] = {name, value};
    std::vector<uint8_t> out(proto::kMaxMessageBytes);
    size_t size = 0;
    if (proto::encode(reply, key, out, size) != proto::ProtoError::ok) return false;
    log_line("device %" PRIu64 " %s: stats", request.device_id, peer.c_str());
    return write_all(fd, out.data(), size);
}

// ---- listening ----

struct Connection {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
};

int listen_on(const std::string& where, std::string& error) {
    auto colon = where.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    char* end = nullptr;
    unsigned long port = colon == std::string::npos ? 0 : std::strtoul(where.c_str() + colon + 1, &end, 10);
    if (colon == std::string::npos || !end || *end || port > 65535 ||
        inet_pton(AF_INET, where.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
        error = "--listen wants IPV4:PORT, not '" + where + "'";
        return -1;
    }
    addr.sin_port = htons(uint16_t(port));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
        error = "cannot listen on " + where + ": " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return -1;
    }
    return fd;
}

std::string peer_name(const sockaddr_in& a) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(a.sin_port));
}

// Accepts until SIGTERM/SIGINT arrives on `signals`.
void accept_loop(Daemon& daemon, int listener, int signals, size_t max_connections) {
    std::list<Connection> live;
    for (;;) {
        pollfd fds[2] = {{listener, POLLIN, 0}, {signals, POLLIN, 0}};
        if (::poll(fds, 2, 1000) < 0 && errno != EINTR) break;
        live.remove_if([](Connection& c) {
            if (!c.done) return false;
            c.thread.join();
            ::close(c.fd);
            return true;
        });
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info{};
            if (::read(signals, &info, sizeof info) == sizeof info)
                log_line("signal %u: shutting down", info.ssi_signo);
            break;
        }
        if (!(fds[0].revents & POLLIN)) continue;
        sockaddr_in from{};
        socklen_t len = sizeof from;
        int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::string peer = peer_name(from);
        if (live.size() >= max_connections) {
            log_line("%s: refused: %zu connections already", peer.c_str(), live.size());
            ::close(fd);
            continue;
        }
        timeval idle{kIdleSeconds, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a reply is one write: send it now
        ++daemon.connections;
        Connection& c = live.emplace_back();
        c.fd = fd;
        c.thread = std::thread([&daemon, &c, peer] {
            daemon.serve(c.fd, peer);
            ::shutdown(c.fd, SHUT_RDWR);  // the peer sees the close now; the loop reaps the thread
            c.done = true;
        });
    }
    // Wake every connection blocked in recv() (they see end of file and return),
    // refuse what is queued, let running compiles finish.
    daemon.service->stop();
    for (Connection& c : live) ::shutdown(c.fd, SHUT_RDWR);
    for (Connection& c : live) {
        c.thread.join();
        ::close(c.fd);
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"quasi-specd: specializes and links quasi's send paths for devices without LLVM"};
    std::string listen_at, keys_file;
    quasi::jit::remote::ServiceConfig config;
    size_t max_connections = 64;
    app.add_option("--listen", listen_at, "IPv4 address and port, e.g. 198.18.0.1:7700 (port 0: any)")->required();
    app.add_option("--keys", keys_file, "JSON file of device ids and keys")->required()->check(CLI::ExistingFile);
    app.add_option("--compile-threads", config.compile_threads, "compiles at once")
        ->capture_default_str()
        ->check(CLI::Range(1u, 64u));
    app.add_option("--cache-bytes", config.cache_bytes, "bound of the compiled-object cache")->capture_default_str();
    app.add_option("--queue", config.queue_limit, "compiles waiting at most; more are answered busy")
        ->capture_default_str()
        ->check(CLI::Range(size_t(1), size_t(100000)));
    bool no_warm_up = false;
    app.add_flag("--no-warm-up", no_warm_up,
                 "start without warming each compile thread up (its first miss per target then pays LLVM's set-up)");
    app.add_option("--max-connections", max_connections, "device connections at once")
        ->capture_default_str()
        ->check(CLI::Range(size_t(1), size_t(4096)));
    CLI11_PARSE(app, argc, argv);

    Daemon daemon;
    if (std::string error = load_keys(keys_file, daemon.keys); !error.empty()) {
        std::fprintf(stderr, "quasi-specd: %s\n", error.c_str());
        return 2;
    }
    // Signals arrive on a descriptor the accept loop polls; every thread blocks them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    int signals = ::signalfd(-1, &set, SFD_CLOEXEC);

    std::string error;
    int listener = listen_on(listen_at, error);
    if (listener < 0 || signals < 0) {
        std::fprintf(stderr, "quasi-specd: %s\n", listener < 0 ? error.c_str() : "signalfd failed");
        return 1;
    }
    config.warm_up = !no_warm_up;
    auto service = SpecService::create(config);
    if (!service) {
        std::fprintf(stderr, "quasi-specd: %s\n", service.error().message.c_str());
        return 1;
    }
    daemon.service = std::move(*service);
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
    std::printf("listening on %s\n", peer_name(bound).c_str());
    std::fflush(stdout);
    log_line("%zu devices, %u compile threads, cache %zu bytes, queue %zu, warm-up %.1f ms", daemon.keys.size(),
             config.compile_threads, config.cache_bytes, config.queue_limit,
             double(daemon.service->stats().warm_up_us) / 1000);

    accept_loop(daemon, listener, signals, max_connections);
    ::close(listener);
    std::string line;
    for (auto [name, value] : counters(daemon.service->stats(), daemon.refused_messages, daemon.connections))
        line += std::string(line.empty() ? "" : " ") + name + "=" + std::to_string(value);
    log_line("stopped: %s", line.c_str());
    daemon.service.reset();
    return 0;
}
