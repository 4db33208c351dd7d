// Two stacks joined by an in-memory link, on a manual clock: the fixture for
// stack-level tests. A is 198.18.0.1/24, B is 198.18.0.2/24.
#pragma once

#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cstring>
#include <string>

namespace quasi::test {

inline Stack::Config small_config(uint64_t seed) {
    Stack::Config c;
    c.seed = seed;
    return c;
}

// "name=count ..." of every non-zero drop reason, for failure messages.
inline std::string drops_of(const Stats& stats) {
    std::string out;
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (stats.drops[i]) out += std::string(name(Drop(i))) + "=" + std::to_string(stats.drops[i]) + " ";
    return out;
}

// Drops other than the gratuitous ARP each stack hears from its peer at start-up
// (an announcement is an ARP request for an address that is not ours).
inline uint64_t unexpected_drops(const Stats& stats) { return stats.total_drops() - stats[Drop::arp_not_for_us]; }

struct StackPair {
    explicit StackPair(uint16_t mtu = 1500, uint64_t seed = 1)
        : link(MemLink::Config{.mtu = mtu}),
          a(small_config(seed), clock, &pool),
          b(small_config(seed + 1), clock, &pool) {
        a.add_interface(link.a(), addr_a, 24);
        b.add_interface(link.b(), addr_b, 24);
        pump();
    }

    // Polls both stacks until neither has anything left to do (bounded).
    void pump(int max_rounds = 1000) {
        for (int i = 0; i < max_rounds; ++i) {
            size_t work = a.poll() + b.poll();
            if (work == 0 && link.a().rx_pending() == 0 && link.b().rx_pending() == 0) return;
        }
    }
    // Advances the clock in steps, pumping after each.
    void run_for(TimeNs duration, TimeNs step = 10 * kMillisecond) {
        for (TimeNs t = 0; t < duration; t += step) {
            clock.advance(step);
            pump();
        }
    }

    static constexpr Ipv4Addr addr_a = Ipv4Addr::from_octets(198, 18, 0, 1);
    static constexpr Ipv4Addr addr_b = Ipv4Addr::from_octets(198, 18, 0, 2);

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 4096}};
    MemLink link;
    Stack a;
    Stack b;
};

}  // namespace quasi::test
