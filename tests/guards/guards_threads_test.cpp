// Two stacks on two threads with specialized handles from the one process-wide code
// cache while a third thread fires every cached code's guard word and shrinks the
// cache (evictions, frees on the compile thread): every datagram still arrives once
// and in order, and the handles are replugged. Run under ThreadSanitizer by
// scripts/test.sh (phase tsan); label `guards`.
#include "jit/specialize.hpp"
#include "tests/jit/jit_world.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace quasi::test {
namespace {

struct StackResult {
    bool intact = true;
    uint64_t received = 0;
    uint64_t replugs = 0;
    uint64_t specialized = 0;
};

void run_stack(ViolationPolicy policy, uint16_t port, int datagrams, StackResult& r) {
    World w{WorldConfig{}};
    int fd = w.connected_socket(port, w.config.addr_b, uint16_t(port + 1));
    auto h = specialize_send(w.a, fd, {.message_size = 64, .on_violation = policy});
    if (!h) {
        r.intact = false;
        return;
    }
    std::vector<uint8_t> d(64);
    for (int i = 0; i < datagrams; ++i) {
        store_be32(d.data(), uint32_t(i));
        if (h->send(d.data(), d.size()) != 64) r.intact = false;
        // What A sent, in order, from the link (B does not receive: the frames are the check).
        for (const auto& frame : w.take_frames()) {
            if (frame.size() < 14 + 20 + 8 + 4) continue;  // ARP
            uint32_t seq = load_be32(frame.data() + 14 + 20 + 8);
            if (seq != r.received) r.intact = false;
            ++r.received;
        }
        w.pump();
    }
    SendHandleInfo info = h->info();
    r.replugs = info.guards.replugs;
    r.specialized = info.specialized_sends;
}

TEST(GuardsThreads, TwoStacksShareTheCacheWhileAThirdInvalidates) {
    constexpr int kDatagrams = 20000;
    StackResult r1, r2;
    std::atomic<bool> done{false};
    std::thread invalidator([&] {
        // Bounded: at most 2,000,000 rounds, and it stops when the stacks are done.
        for (int i = 0; i < 2'000'000 && !done.load(); ++i) {
            invalidate_specializations();
            if (i % 1000 == 0)
                configure_specializer({.cache_max_entries = 3 + size_t(i % 3), .cache_max_bytes = 1 << 20});
            std::this_thread::yield();
        }
    });
    std::thread t1([&] { run_stack(ViolationPolicy::reinforce, 7100, kDatagrams, r1); });
    std::thread t2([&] { run_stack(ViolationPolicy::fallback_and_respecialize, 7200, kDatagrams, r2); });
    t1.join();
    t2.join();
    done = true;
    invalidator.join();
    configure_specializer({});
    specializer_wait_idle();
    for (const StackResult* r : {&r1, &r2}) {
        EXPECT_TRUE(r->intact);
        EXPECT_EQ(r->received, uint64_t(kDatagrams));
        EXPECT_GT(r->replugs, 1u);  // invalidated and replugged
        EXPECT_GT(r->specialized, 0u);
    }
}

}  // namespace
}  // namespace quasi::test
