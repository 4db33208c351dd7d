// quasi-churn: connection churn and idle connections on the in-memory link (two
// stacks in one thread, no kernel), like netperf's TCP_CRR and a holding test.
//
//   quasi-churn [--cycles N] [--concurrency C] [--request B] [--response B]
//               [--hold N] [--seconds S]
//
// CRR: C connections at a time, each connect, send a request of B bytes, the server
// answers B bytes and closes first (so TIME-WAIT records pile up on the server), the
// client reads to EOF and closes; N cycles in all. Reports cycles per second of real
// time and the TIME-WAIT records left.
// --hold N: opens N connections, each answers one 4-byte request, and reports the
// process heap (glibc mallinfo2) per idle established connection end.
#include "apps/app_common.hpp"
#include "ports/x86/mem_link.hpp"
#include "ports/x86/steady_clock.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

using namespace quasi;

namespace {

constexpr Ipv4Addr kClient = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kServer = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr uint16_t kFirstPort = 80;
constexpr uint16_t kPorts = 8;  // 8 x 16,384 ephemeral ports for the client

struct Options {
    uint64_t cycles = 200000;
    uint64_t concurrency = 64;
    uint64_t request = 64;
    uint64_t response = 64;
    uint64_t hold = 0;
    uint64_t seconds = 60;  // a bound on the whole run
};

Stack::Config config(uint64_t seed, size_t sockets) {
    Stack::Config c;
    c.seed = seed;
    c.pool.count = 16384;
    c.max_descriptors = sockets;
    c.tcp.max_sockets = sockets;
    c.tcp.max_time_wait = 262144;
    return c;
}

size_t heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

struct Pair {
    explicit Pair(size_t sockets)
        : link(MemLink::Config{.queue_frames = 8192}),
          a(config(app::random_seed(), sockets), clock, &pool),
          b(config(app::random_seed(), sockets), clock, &pool) {
        a.add_interface(link.a(), kClient, 24);
        b.add_interface(link.b(), kServer, 24);
        for (int i = 0; i < 100; ++i) a.poll(), b.poll();
        for (uint16_t p = 0; p < kPorts; ++p) {
            int l = socket(b, kAfInet, kSockStream);
            bind(b, l, SockAddr{Ipv4Addr{}, uint16_t(kFirstPort + p)});
            listen(b, l, 4096);
            listeners.push_back(l);
        }
    }
    size_t pump() {
        size_t total = 0;
        for (int i = 0; i < 1000; ++i) {
            size_t work = a.poll() + b.poll();
            total += work;
            if (work == 0 && link.a().rx_pending() == 0 && link.b().rx_pending() == 0) break;
        }
        return total;
    }

    SteadyClock clock;
    BufferPool pool{BufferPool::Config{.count = 32768}};
    MemLink link;
    Stack a;
    Stack b;
    std::vector<int> listeners;
};

struct Client {
    int fd = -1;
    uint64_t received = 0;
    bool requested = false;
};

int run_crr(const Options& o) {
    Pair p(o.concurrency * 2 + 64);
    std::vector<Client> clients(o.concurrency);
    std::vector<uint8_t> request(o.request, 'q'), response(o.response, 'r'), buf(65536);
    std::vector<int> serving;  // accepted, request not yet read
    uint64_t started = 0, finished = 0, failed = 0;
    auto t0 = std::chrono::steady_clock::now();
    auto deadline = t0 + std::chrono::seconds(o.seconds);
    while (finished < o.cycles && std::chrono::steady_clock::now() < deadline) {
        for (Client& c : clients) {
            if (c.fd < 0 && started < o.cycles) {
                c = Client{socket(p.a, kAfInet, kSockStream)};
                uint16_t port = uint16_t(kFirstPort + started % kPorts);
                if (c.fd < 0 || connect(p.a, c.fd, SockAddr{kServer, port}) != -EINPROGRESS) {
                    if (c.fd >= 0) close(p.a, c.fd);
                    c.fd = -1;
                    ++failed;
                    continue;
                }
                ++started;
            }
        }
        p.pump();
        // The server: accept, read the request, answer, close first.
        for (int l : p.listeners)
            for (int fd; (fd = accept(p.b, l, nullptr)) >= 0;) serving.push_back(fd);
        for (size_t i = 0; i < serving.size();) {
            ssize_t n = recv(p.b, serving[i], buf.data(), buf.size());
            if (n == -EAGAIN) {
                ++i;
                continue;
            }
            if (n > 0) send(p.b, serving[i], response.data(), response.size());
            close(p.b, serving[i]);
            serving[i] = serving.back();
            serving.pop_back();
        }
        for (Client& c : clients) {
            if (c.fd < 0) continue;
            if (!c.requested) {
                PollFd pfd{c.fd, events::out, 0};
                if (poll(p.a, &pfd, 1) > 0 && !(pfd.revents & events::err)) {
                    send(p.a, c.fd, request.data(), request.size());
                    c.requested = true;
                }
                continue;
            }
            ssize_t n;
            while ((n = recv(p.a, c.fd, buf.data(), buf.size())) > 0) c.received += uint64_t(n);
            if (n == 0 || (n < 0 && n != -EAGAIN)) {
                if (n < 0 || c.received != o.response) ++failed;
                close(p.a, c.fd);
                c.fd = -1;
                ++finished;
            }
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("quasi-churn: %llu connect/request/response/close cycles in %.3f s: %.0f per second "
                "(%llu at a time, %llu B request, %llu B response), %llu failed\n",
                (unsigned long long)finished, secs, double(finished) / secs, (unsigned long long)o.concurrency,
                (unsigned long long)o.request, (unsigned long long)o.response, (unsigned long long)failed);
    std::printf("quasi-churn: server TIME-WAIT records %zu (retired early %llu), sockets open %zu + %zu\n",
                p.b.tcp().time_wait().size(), (unsigned long long)p.b.stats()[Counter::tcp_time_wait_retired_early],
                p.a.tcp().open_sockets(), p.b.tcp().open_sockets());
    return failed == 0 && finished == o.cycles ? 0 : 1;
}

int run_hold(const Options& o) {
    Pair p(o.hold + 64);
    std::vector<int> clients, servers;
    clients.reserve(o.hold);
    servers.reserve(o.hold);
    p.pump();
    size_t before = heap_in_use();
    size_t tcp_before = p.a.tcp().memory_in_use() + p.b.tcp().memory_in_use();
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t done = 0; done < o.hold;) {
        uint64_t n = std::min<uint64_t>(512, o.hold - done);
        for (uint64_t i = 0; i < n; ++i) {
            int fd = socket(p.a, kAfInet, kSockStream);
            if (fd < 0 || connect(p.a, fd, SockAddr{kServer, uint16_t(kFirstPort + (done + i) % kPorts)}) != -EINPROGRESS) {
                std::fprintf(stderr, "quasi-churn: connection %llu failed\n", (unsigned long long)(done + i));
                return 1;
            }
            clients.push_back(fd);
        }
        p.pump();
        for (int l : p.listeners)
            for (int fd; (fd = accept(p.b, l, nullptr)) >= 0;) servers.push_back(fd);
        done += n;
    }
    double open_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    size_t answered = 0;
    for (size_t i = 0; i < clients.size(); ++i) {
        uint32_t v = uint32_t(i);
        send(p.a, clients[i], &v, 4);
        if (i % 512 == 511 || i + 1 == clients.size()) {
            p.pump();
            for (size_t k = i - i % 512; k <= i && k < servers.size(); ++k) {
                uint32_t w;
                if (recv(p.b, servers[k], &w, 4) == 4) send(p.b, servers[k], &w, 4);
            }
            p.pump();
            for (size_t k = i - i % 512; k <= i; ++k) {
                uint32_t w;
                answered += recv(p.a, clients[k], &w, 4) == 4;
            }
        }
    }
    p.clock.now();
    for (int i = 0; i < 10; ++i) p.pump();
    size_t after = heap_in_use();
    size_t tcp_after = p.a.tcp().memory_in_use() + p.b.tcp().memory_in_use();
    std::printf("quasi-churn: %llu connections opened in %.2f s (%zu accepted), %zu answered a request\n",
                (unsigned long long)o.hold, open_secs, servers.size(), answered);
    std::printf("quasi-churn: idle, each end: %.0f B of process heap (descriptors included), %.0f B in the TCP "
                "layer (sockets, tables, rings: %zu B)\n",
                double(after - before) / double(2 * o.hold), double(tcp_after - tcp_before) / double(2 * o.hold),
                p.a.tcp().buffer_memory() + p.b.tcp().buffer_memory());
    return answered == o.hold ? 0 : 1;
}

constexpr const char* kUsage =
    "usage: quasi-churn [--cycles N] [--concurrency C] [--request B] [--response B]\n"
    "                   [--hold N] [--seconds S]\n";

constexpr const char* kHelp =
    "Connection churn and idle connections between two quasi stacks on the in-memory link.\n"
    "\n"
    "  --cycles N       connect/request/response/close cycles in all (default 200000)\n"
    "  --concurrency C  connections at a time (default 64)\n"
    "  --request B      request bytes (default 64)\n"
    "  --response B     response bytes; the server closes first (default 64)\n"
    "  --hold N         instead: open N connections, each answers one request, and report\n"
    "                   the memory per idle connection end\n"
    "  --seconds S      bound on the whole run (default 60)\n"
    "  -h, --help       this text\n";

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const char* arg = argv[i];
        if (!std::strcmp(arg, "--help") || !std::strcmp(arg, "-h")) {
            std::printf("%s\n%s", kUsage, kHelp);
            return 0;
        }
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        bool ok = value != nullptr;
        if (!std::strcmp(arg, "--cycles") && ok) ok = app::parse_size(value, o.cycles);
        else if (!std::strcmp(arg, "--concurrency") && ok) ok = app::parse_size(value, o.concurrency) && o.concurrency > 0;
        else if (!std::strcmp(arg, "--request") && ok) ok = app::parse_size(value, o.request) && o.request > 0;
        else if (!std::strcmp(arg, "--response") && ok) ok = app::parse_size(value, o.response);
        else if (!std::strcmp(arg, "--hold") && ok) ok = app::parse_size(value, o.hold);
        else if (!std::strcmp(arg, "--seconds") && ok) ok = app::parse_size(value, o.seconds) && o.seconds > 0;
        else ok = false;
        if (!ok) {
            std::fprintf(stderr, "quasi-churn: bad or incomplete option '%s'\n%s", arg, kUsage);
            return 2;
        }
        i += 1;
    }
    return o.hold ? run_hold(o) : run_crr(o);
}
