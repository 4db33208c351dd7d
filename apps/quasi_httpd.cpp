// quasi-httpd: a minimal HTTP/1.1 server (keep-alive) on a tap device or a DPDK port.
//
//   quasi-httpd --tap IFNAME --ip 198.18.0.2/24 [--gw ADDR] [--port 80] [--seconds N]
//               [--impair SPEC] [--max-sockets N]
//   quasi-httpd --dpdk --ip 198.18.0.2/24 [--port 80] ... -- EAL ARGS
//
// `--help` lists every option; on DPDK the port's counters and the mbufs not back in
// their mempools are printed at exit (as quasi-echo).
// --max-sockets N caps the TCP socket table (and the descriptors) at N (default
// 65536); connections the server closed first wait out TIME-WAIT as records beside it.
//
// GET /           a small HTML page
// GET /bytes/N    N deterministic pseudo-random bytes: byte i is the top byte of
//                 (i * 2654435761) mod 2^32, so a client can check them independently.
#include "apps/app_common.hpp"
#include "apps/app_link.hpp"
#include "apps/tcp_server.hpp"
#include "ports/x86/steady_clock.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace quasi;

namespace {

constexpr uint64_t kMaxBytes = uint64_t{1} << 34;  // 16 GiB per response at most
constexpr size_t kMaxRequest = 16384;

const char kIndex[] =
    "<!doctype html><html><head><title>quasi</title></head><body>"
    "<h1>quasi-httpd</h1><p>A userspace TCP/IP stack. Try <a href=\"/bytes/1024\">/bytes/1024</a>.</p>"
    "</body></html>\n";

uint8_t pattern_byte(uint64_t i) { return static_cast<uint8_t>((static_cast<uint32_t>(i) * 2654435761u) >> 24); }

void respond(app::TcpServer::Connection& c, int status, const char* reason, const char* type, uint64_t length,
             bool keep_alive) {
    char head[256];
    std::snprintf(head, sizeof head,
                  "HTTP/1.1 %d %s\r\nServer: quasi-httpd\r\nContent-Type: %s\r\nContent-Length: %llu\r\n%s\r\n",
                  status, reason, type, (unsigned long long)length, keep_alive ? "" : "Connection: close\r\n");
    c.out += head;
    if (!keep_alive) c.close_after_output = true;
}

// Parses every complete request in c.in (pipelining allowed) and queues responses.
void handle(app::TcpServer::Connection& c, void*) {
    for (;;) {
        if (c.to_generate > c.generated) return;  // finish streaming the previous body first
        size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (c.in.size() > kMaxRequest) {
                respond(c, 431, "Request Header Fields Too Large", "text/plain", 0, false);
                c.in.clear();
            }
            return;
        }
        std::string request = c.in.substr(0, end);
        c.in.erase(0, end + 4);
        char method[16] = {}, path[1024] = {}, version[16] = {};
        if (std::sscanf(request.c_str(), "%15s %1023s %15s", method, path, version) != 3) {
            respond(c, 400, "Bad Request", "text/plain", 0, false);
            return;
        }
        bool keep_alive = std::strcmp(version, "HTTP/1.0") != 0;
        for (auto& ch : request) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (request.find("\r\nconnection: close") != std::string::npos) keep_alive = false;
        if (request.find("\r\nconnection: keep-alive") != std::string::npos) keep_alive = true;
        bool head_only = !std::strcmp(method, "HEAD");
        if (std::strcmp(method, "GET") && !head_only) {
            respond(c, 405, "Method Not Allowed", "text/plain", 0, keep_alive);
            continue;
        }
        if (!std::strcmp(path, "/")) {
            respond(c, 200, "OK", "text/html", sizeof kIndex - 1, keep_alive);
            if (!head_only) c.out += kIndex;
            continue;
        }
        char* tail = nullptr;
        if (!std::strncmp(path, "/bytes/", 7)) {
            unsigned long long n = std::strtoull(path + 7, &tail, 10);
            if (tail != path + 7 && *tail == '\0' && n <= kMaxBytes) {
                respond(c, 200, "OK", "application/octet-stream", n, keep_alive);
                if (!head_only) {
                    c.generated = 0;
                    c.to_generate = n;
                }
                continue;
            }
        }
        respond(c, 404, "Not Found", "text/plain", 0, keep_alive);
    }
}

void generate(app::TcpServer::Connection& c, void*) {
    uint64_t n = std::min<uint64_t>(c.to_generate - c.generated, 65536);
    c.out.resize(n);
    for (uint64_t i = 0; i < n; ++i) c.out[i] = static_cast<char>(pattern_byte(c.generated + i));
    c.generated += n;
    if (c.generated == c.to_generate) {
        c.generated = c.to_generate = 0;
        handle(c, nullptr);  // pipelined requests waiting behind this body
    }
}

// One core's server: its Stack (on its own queue with DPDK) and listener.
struct HttpCore {
    std::unique_ptr<Stack> stack;
    std::unique_ptr<app::TcpServer> server;
};

bool set_up_core(HttpCore& core, uint16_t index, app::AppLink& link, uint16_t port, uint64_t max_sockets,
                 const Clock& clock) {
    Stack::Config config;
    config.seed = app::random_seed();
    config.pool.count = 8192;
    // Rings take memory as data flows through them, up to 1 GiB for all together.
    config.tcp.max_buffer_memory = size_t{1} << 30;
    config.tcp.max_sockets = max_sockets;
    config.max_descriptors = max_sockets + 16;
    link.configure(config, index);
    core.stack = std::make_unique<Stack>(config, clock, link.shared_pool(index));
    std::string error;
    if (!link.attach(*core.stack, clock, &error, index)) {
        std::fprintf(stderr, "quasi-httpd: %s\n", error.c_str());
        return false;
    }
    core.server = std::make_unique<app::TcpServer>(*core.stack, handle, generate, nullptr);
    if (int rc = core.server->listen(port); rc < 0) {
        std::fprintf(stderr, "quasi-httpd: cannot listen on port %u: %s\n", port, std::strerror(-rc));
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    app::AppLinkOptions link_options;
    uint16_t port = 80;
    uint64_t seconds = 0, max_sockets = 65536;
    std::vector<char*> args;
    app::split_eal_args(argc, argv, args, link_options.eal_args);
    CLI::App cli{"quasi-httpd: HTTP/1.1 (GET / and GET /bytes/N) on a tap or a DPDK port"};
    link_options.add_to(cli);
    cli.add_option("--port", port, "TCP port")->check(CLI::Range(1, 65535))->capture_default_str();
    cli.add_option("--seconds", seconds, "stop after N seconds (default: at SIGINT/SIGTERM)");
    cli.add_option("--max-sockets", max_sockets, "cap on the TCP socket table and the descriptors")
        ->check(CLI::Range(uint64_t{2}, uint64_t{1} << 24))
        ->capture_default_str();
    try {
        cli.parse(static_cast<int>(args.size()), args.data());
    } catch (const CLI::ParseError& e) {
        return cli.exit(e);
    }
    std::string error;
    if (!link_options.check(&error)) {
        std::fprintf(stderr, "quasi-httpd: %s\n%s", error.c_str(), cli.help().c_str());
        return 2;
    }
    auto link = app::AppLink::open("quasi-httpd", link_options, &error);
    if (!link) {
        std::fprintf(stderr, "quasi-httpd: %s\n", error.c_str());
        return 1;
    }
    SteadyClock clock;
    std::vector<HttpCore> cores(link->cores());
    for (uint16_t i = 0; i < cores.size(); ++i)
        if (!set_up_core(cores[i], i, *link, port, max_sockets, clock)) return 1;
    char text[16];
    std::printf("quasi-httpd: http://%s:%u/ on %s", format(link_options.ip, text, sizeof text), port, link->name());
    if (cores.size() > 1) std::printf(", %zu cores", cores.size());
    std::printf("\n");
    if (link_options.impair.requested()) std::printf("quasi-httpd: impairment %s\n", link_options.impair.describe());
    std::fflush(stdout);
    app::install_stop_handlers();
    TimeNs deadline = seconds ? clock.now() + seconds * kSecond : 0;
    link->run([&](uint16_t i) {
        HttpCore& c = cores[i];
        while (!app::stop_requested() && (deadline == 0 || clock.now() < deadline)) {
            size_t work = c.stack->poll();
            work += c.server->serve();
            link->flush_due();
            if (work == 0) link->idle_wait(clock, kMillisecond);
        }
    });
    uint64_t accepted = 0;
    Stats stats;
    for (const HttpCore& c : cores) {
        accepted += c.server->accepted();
        app::add_stats(stats, c.stack->stats());
    }
    std::printf("quasi-httpd: %llu connections accepted\n", (unsigned long long)accepted);
    for (size_t i = 0; cores.size() > 1 && i < cores.size(); ++i)
        std::printf("quasi-httpd: core %zu: tcp connections accepted %llu\n", i,
                    (unsigned long long)cores[i].server->accepted());
    app::print_stats(stdout, "stack statistics:", stats);
    link->detach(stdout);
    cores.clear();  // servers, then stacks: every buffer back before the port goes
    return link->finish(stdout) == 0 ? 0 : 1;
}
