// quasi-bench-guards: what the guards cost, in instructions per send (callgrind's
// exact counts; run it through bench/guards_callgrind.sh). Regions of 2000 UDP sends
// each, the loop's own cost (an empty call) subtracted by the script:
//   code        the specialized code called directly: its own guard-word check only
//   handle      SendHandle::send: the handle's check at entry (code, ARP generation,
//               modes) and dispatch around the same code. Built with
//               -DQUASI_BENCH_NO_GUARD_CHECK=ON (the code's word check and the check at
//               entry compiled out), the differences are what the guards cost
//   reinforced  the handle with its route moved to the second link and the new
//               code's compile held: the stale code runs and every frame is rewritten
//               by the egress rule (NAT included); reinforced - handle per frame
//   handle_1400 / fragmented  1400 B datagrams, then the interface MTU lowered to
//               1000 with the compile held: each datagram leaves in two fragments
//   generic     send() on the socket, for scale
#include "jit/specialize.hpp"
#include "jit/specializer.hpp"
#include "tests/guards/two_links.hpp"

#include <valgrind/callgrind.h>

#include <cstdio>
#include <vector>

namespace {

using namespace quasi;
using test::TwoLinks;
using SendFn = ssize_t (*)(const uint8_t*, size_t);

constexpr int kWarmup = 256;
constexpr int kMeasured = 2000;

[[gnu::noinline]] ssize_t empty_send(const uint8_t*, size_t len) { return static_cast<ssize_t>(len); }

struct Bench {
    TwoLinks w;
    int fa = -1;
    Expected<SendHandle> h = Error{};

    explicit Bench(size_t size) {
        int fb = socket(w.b, kAfInet, kSockDgram);
        bind(w.b, fb, SockAddr{{}, 6001});
        fa = socket(w.a, kAfInet, kSockDgram);
        bind(w.a, fa, SockAddr{{}, 6000});
        connect(w.a, fa, SockAddr{TwoLinks::kB0, 6001});
        uint8_t probe = 0;
        send(w.a, fa, &probe, 1);
        w.pump();
        h = specialize_send(w.a, fa, {.message_size = uint32_t(size), .on_violation = ViolationPolicy::reinforce, .pipeline = JitPipeline::fast, .flush = false});
        if (!h) std::fprintf(stderr, "specialize_send: %s\n", h.error().message.c_str());
    }
    // Frames on the links are dropped at B's end outside the measured loop.
    void drain() {
        for (MemLink* l : {&w.link0, &w.link1}) {
            std::array<PacketPtr, 32> burst;
            while (l->b().rx_burst(burst)) {
            }
        }
        w.a.poll();
    }
};

template <class Fn>
void region(const char* name, size_t size, Bench& b, Fn&& send_one) {
    std::vector<uint8_t> data(size, 0x5a);
    for (int i = 0; i < kWarmup; ++i) send_one(data.data(), size), b.drain();
    char label[64];
    std::snprintf(label, sizeof label, "region %s %zu", name, size);
    CALLGRIND_ZERO_STATS;
    for (int i = 0; i < kMeasured; ++i) {
        CALLGRIND_TOGGLE_COLLECT;
        send_one(data.data(), size);
        CALLGRIND_TOGGLE_COLLECT;
        b.drain();
    }
    CALLGRIND_DUMP_STATS_AT(label);
}

void run(size_t size) {
    Bench b(size);
    if (!b.h) return;
    auto code = reinterpret_cast<SendFn>(const_cast<void*>(b.h->info().code));
    region("baseline", size, b, [](const uint8_t* d, size_t n) { return empty_send(d, n); });
    region("code", size, b, [&](const uint8_t* d, size_t n) { return code(d, n); });
    region("handle", size, b, [&](const uint8_t* d, size_t n) { return b.h->send(d, n); });
    region("generic", size, b, [&](const uint8_t* d, size_t n) { return send(b.w.a, b.fa, d, n); });
    // The change, with the new code's compile held: the stale code runs reinforced.
    jit::Specializer::instance().hold_background(true);
    if (size > 1000)
        b.w.a.interface(0)->mtu.guarded_write(1000);
    else
        b.w.a.add_route(TwoLinks::kB0, 32, Ipv4Addr{}, 1);
    // One send with B answering, so the new next hop is resolved (the rule sends there).
    std::vector<uint8_t> first(size, 0x5a);
    b.h->send(first.data(), size);
    b.w.pump();
    const char* reinforced = size > 1000 ? "fragmented" : "reinforced";
    region(reinforced, size, b, [&](const uint8_t* d, size_t n) { return b.h->send(d, n); });
    GuardStats g = b.h->info().guards;
    std::fprintf(stderr, "%zu B %s: frames rewritten %llu, fragments %llu, translations %llu\n", size, reinforced,
                 (unsigned long long)g.reinforced_frames, (unsigned long long)g.fragments,
                 (unsigned long long)g.translations);
    jit::Specializer::instance().hold_background(false);
    b.h->wait_ready();
}

}  // namespace

int main() {
    run(64);
    run(1400);
    return 0;
}
