// Two identical worlds with one TCP connection each, A -> B: `generic` sends with
// send(), `special` through a specialized handle (or the frozen path run natively).
// Every frame A puts on the link is captured before B gets it, so the two worlds'
// frames and socket states can be compared after each step while both connections
// run normally (ACKs, windows, timers). Shared by spec_tcp_test and
// spec_tcp_differential_test.
#pragma once

#include "jit/specialize.hpp"
#include "stack/tcp.hpp"
#include "tests/jit/jit_world.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace quasi::test {

constexpr uint16_t kTcpPortA = 40000;
constexpr uint16_t kTcpPortB = 5001;

// The sender's state a send can change, as text (readable in failure messages).
inline std::string sender_state(const TcpSocket& s) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "state=%s una=%u nxt=%u max=%u wnd=%u cwnd=%u ssthresh=%u buffered=%zu rcv_nxt=%u rcv_adv=%u "
                  "last_ack_sent=%u ack_now=%d rtt_timing=%d rtt_seq=%u rtx_armed=%d retransmits=%llu "
                  "recovery=%d high_rxt=%u last_send=%llu",
                  name(s.state), s.snd_una, s.snd_nxt, s.snd_max, s.snd_wnd, s.cc.cwnd(), s.cc.ssthresh(),
                  s.send_buffer.size(), s.rcv_nxt, s.rcv_adv, s.last_ack_sent, int(s.ack_now), int(s.rtt_timing),
                  s.rtt_seq, int(s.retransmit_timer.armed()), (unsigned long long)s.total_retransmits,
                  int(s.in_recovery), s.high_rxt, (unsigned long long)s.last_send_time);
    return buf;
}

struct TcpTwins {
    explicit TcpTwins(const WorldConfig& config = {}) : generic(config), special(config) {
        auto g = generic.tcp_connection(kTcpPortA, kTcpPortB);
        auto s = special.tcp_connection(kTcpPortA, kTcpPortB);
        fd_generic = g.first;
        fd_special = s.first;
        peer_generic = g.second;
        peer_special = s.second;
    }
    World* worlds[2] = {&generic, &special};

    TcpSocket& socket(World& w) { return *w.a.descriptors().tcp(&w == &generic ? fd_generic : fd_special); }
    int peer(World& w) { return &w == &generic ? peer_generic : peer_special; }

    // Runs both worlds until quiet, B reading everything (unless `read` is false),
    // and checks they sent the same frames and hold the same sender state.
    void settle_and_compare(bool read = true) {
        for (int round = 0; round < 50; ++round) {
            std::vector<Frame> fg = generic.settle(), fs = special.settle();
            ASSERT_EQ(fg, fs) << "round " << round;
            frames += fg.size();
            size_t got = 0;
            if (read) {
                for (World* w : worlds) {
                    uint8_t buf[65536];
                    ssize_t n;
                    size_t total = 0;
                    while ((n = recv(w->b, peer(*w), buf, sizeof buf)) > 0) {
                        total += size_t(n);
                        (w == &generic ? received_generic : received_special)
                            .insert((w == &generic ? received_generic : received_special).end(), buf, buf + n);
                    }
                    got += total;
                }
            }
            ASSERT_EQ(sender_state(socket(generic)), sender_state(socket(special)));
            if (got == 0 && fg.empty()) break;
        }
        ASSERT_EQ(received_generic, received_special);
    }

    // One send through each world; results, frames and states must agree.
    void send_both(SendHandle& h, const std::vector<uint8_t>& data, ssize_t expect, bool read = true) {
        ssize_t rg = send(generic.a, fd_generic, data.data(), data.size());
        ssize_t rs = h.send(data.data(), data.size());
        EXPECT_EQ(rg, expect);
        EXPECT_EQ(rs, expect);
        settle_and_compare(read);
    }

    void advance(TimeNs t) {
        generic.clock.advance(t);
        special.clock.advance(t);
    }

    World generic;
    World special;
    int fd_generic = -1, fd_special = -1;
    int peer_generic = -1, peer_special = -1;
    size_t frames = 0;
    std::vector<uint8_t> received_generic, received_special;
};

}  // namespace quasi::test
