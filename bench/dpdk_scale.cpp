// quasi-dpdk-scale: per-core stacks on DPDK, 1 core against 2 (net_ring, one process).
//
//   quasi-dpdk-scale [--seconds S] [--cores 1,2] -- [EAL args]
//
// A net_ring pair with one queue pair per core; core i runs its own two Stacks, one on
// each port's queue i, with its own mempools, in a run-to-completion loop on its own
// thread (pinned to CPU i): nothing is shared between cores but the process. Each core
// streams generic UDP (64 B) and then TCP (1448 B sends) from its A stack to its B stack;
// the figure is what the B stacks received per second, summed over the cores. It shows
// that Stacks on separate threads need no locks and what a second core adds here.
#include "apps/app_common.hpp"
#include "ports/x86/dpdk/dpdk_port.hpp"
#include "ports/x86/dpdk/eal.hpp"
#include "ports/x86/dpdk/ring_pair.hpp"
#include "ports/x86/steady_clock.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace quasi;

namespace {

constexpr Ipv4Addr kAddrA = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kAddrB = Ipv4Addr::from_octets(198, 18, 0, 2);

struct CoreResult {
    uint64_t udp_datagrams = 0;
    uint64_t tcp_bytes = 0;
    double udp_s = 0, tcp_s = 0;
    std::string error;
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void pin_to_cpu(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// One core's work: its two stacks on queue q of both ports.
void run_core(dpdk::DpdkPort& pa, dpdk::DpdkPort& pb, uint16_t q, double seconds, CoreResult& out) {
    pin_to_cpu(q);
    SteadyClock clock;
    Stack::Config config;
    config.seed = app::random_seed();
    Stack a(config, clock, &pa.pool(q));
    config.seed = app::random_seed();
    Stack b(config, clock, &pb.pool(q));
    a.add_interface(pa.netif(q), kAddrA, 24);
    b.add_interface(pb.netif(q), kAddrB, 24);
    std::vector<uint8_t> payload(1448, 0x5a), buf(256 * 1024);
    // UDP 64 B, generic send().
    int fa = socket(a, kAfInet, kSockDgram), fb = socket(b, kAfInet, kSockDgram);
    bind(b, fb, SockAddr{kAddrB, 9});
    connect(a, fa, SockAddr{kAddrB, 9});
    send(a, fa, payload.data(), 64);  // resolves ARP before the clock starts
    for (int i = 0; i < 64; ++i) a.poll(), b.poll();
    while (recv(b, fb, buf.data(), buf.size()) >= 0) {
    }
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        for (int i = 0; i < 32; ++i) send(a, fa, payload.data(), 64);
        a.poll();
        b.poll();
        while (recv(b, fb, buf.data(), buf.size()) >= 0) ++out.udp_datagrams;
    }
    out.udp_s = now_s() - t0;
    // TCP stream, 1448 B sends.
    int l = socket(b, kAfInet, kSockStream);
    bind(b, l, SockAddr{kAddrB, 80});
    listen(b, l, 1);
    int ca = socket(a, kAfInet, kSockStream), cb = -1;
    connect(a, ca, SockAddr{kAddrB, 80});
    for (int i = 0; i < 1000 && cb < 0; ++i) a.poll(), b.poll(), cb = accept(b, l, nullptr);
    if (cb < 0) {
        out.error = "TCP connection did not establish";
        return;
    }
    t0 = now_s();
    while (now_s() - t0 < seconds) {
        for (int i = 0; i < 32 && send(a, ca, payload.data(), 1448) > 0; ++i) {
        }
        a.poll();
        b.poll();
        ssize_t n;
        while ((n = recv(b, cb, buf.data(), buf.size())) > 0) out.tcp_bytes += uint64_t(n);
    }
    out.tcp_s = now_s() - t0;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 2;
    std::vector<std::string> eal;
    int i = 1;
    for (; i < argc && std::strcmp(argv[i], "--"); ++i)
        if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
    for (++i; i < argc; ++i) eal.emplace_back(argv[i]);
    if (eal.empty())
        eal = {"-l", "0", "--no-huge", "--no-pci", "-m", "256", "--no-shconf", "--no-telemetry",
               "--file-prefix=quasi-scale-" + std::to_string(getpid()), "--log-level=lib.eal:warning"};
    std::string error;
    auto eal_handle = dpdk::Eal::start("quasi-dpdk-scale", eal, &error, /*need_port=*/false);
    dpdk::RingPair pair;
    if (!eal_handle || !dpdk::create_ring_pair("qscale", 2, 1024, pair, &error)) {
        std::fprintf(stderr, "quasi-dpdk-scale: %s\n", error.c_str());
        return 1;
    }
    std::printf("cores  UDP 64 B (Mpps)  TCP 1448 B (Gbit/s)   (net_ring, generic send(), %.1f s each)\n", seconds);
    double base_udp = 0, base_tcp = 0;
    for (uint16_t cores = 1; cores <= 2; ++cores) {
        std::unique_ptr<dpdk::DpdkPort> pa, pb;
        pa = dpdk::DpdkPort::open({.port_id = pair.port_a, .queues = 2}, &error);
        if (pa) pb = dpdk::DpdkPort::open({.port_id = pair.port_b, .queues = 2}, &error);
        if (!pa || !pb) {
            std::fprintf(stderr, "quasi-dpdk-scale: %s\n", error.c_str());
            return 1;
        }
        std::vector<CoreResult> results(cores);
        std::vector<std::thread> threads;
        for (uint16_t q = 0; q < cores; ++q)
            threads.emplace_back(run_core, std::ref(*pa), std::ref(*pb), q, seconds, std::ref(results[q]));
        for (auto& t : threads) t.join();
        double udp = 0, tcp = 0;
        for (const CoreResult& r : results) {
            if (!r.error.empty()) {
                std::fprintf(stderr, "quasi-dpdk-scale: %s\n", r.error.c_str());
                return 1;
            }
            udp += double(r.udp_datagrams) / r.udp_s / 1e6;
            tcp += double(r.tcp_bytes) * 8 / r.tcp_s / 1e9;
        }
        if (cores == 1) base_udp = udp, base_tcp = tcp;
        std::printf("%5u  %8.2f (%.2fx)    %8.2f (%.2fx)\n", cores, udp, udp / base_udp, tcp, tcp / base_tcp);
        // Frames left in the rings belong to nobody now.
        std::array<PacketPtr, 32> burst;
        for (uint16_t q = 0; q < 2; ++q)
            while (pa->netif(q).rx_burst(burst) + pb->netif(q).rx_burst(burst) > 0)
                for (auto& p : burst) p.reset();
    }
    return 0;
}
