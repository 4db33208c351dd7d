// One specialized handle's guard: which invariants its code froze, what happens when
// one changes, and the answer to "may this handle's code run now?".
//
// The handle (jit/specialize.cpp) owns the code through a Replugger; the guard
// watches the socket's and the path's quasi-invariants (guards/quasi_invariant.hpp)
// with a kind per watch, polls the ARP cache's generation (ARP resolution is not a
// quasi-invariant: the handle compares the generation at entry), and classifies each
// change (guards/violation.hpp). Every change disarms the handle's fast path; one
// whose policy is not `reinforce` also fires the code's guard word (for every
// handle sharing the code). The handle's next send asks decide() what to do; under
// `reinforce` the guard builds an egress rule (guards/reinforce.hpp) for the stale
// code, which keeps running through it until the replugger swaps new code in.
#pragma once

#include "guards/guard_stats.hpp"
#include "guards/quasi_invariant.hpp"
#include "guards/reinforce.hpp"
#include "guards/replugger.hpp"
#include "guards/violation.hpp"
#include "stack/arp.hpp"

#include <array>
#include <cstdint>
#include <optional>

namespace quasi {

class Interface;
class Stack;
struct TcpSocket;
struct UdpSocket;

class HandleGuard final : public InvariantWatcher {
public:
    enum class Proto : uint8_t { udp, tcp };
    enum class Verdict : uint8_t {
        run,           // the guards hold (or every change is reinforced): call the code
        closed,        // the socket is gone: -EBADF
        reject,        // -ESTALE
        respecialize,  // take the generic path now and re-extract
        reinforce,     // run the stale code through rule() (reinforce_wanted(): a new change to answer)
    };

    HandleGuard(Stack& stack, int fd, Proto proto, ViolationPolicy policy, Replugger& plug);
    HandleGuard(const HandleGuard&) = delete;
    HandleGuard& operator=(const HandleGuard&) = delete;
    ~HandleGuard() { retire_rule(); }

    // After a fresh extraction: the state the code about to be plugged was made for.
    // Watches the socket's and the path's invariants from now on.
    void arm(void* socket, Interface* iface, uint64_t arp_generation);

    // The check at entry on the fast path: nothing but this compare and the code's own
    // load of its guard word while the guards hold (inline: a call cost a remote
    // handle's 64-byte send on the Cortex-M3 a further 6 instructions).
    bool arp_holds() const { return arp_->generation() == arp_generation_; }
    // The slow path's question: closed, stale (and what the policy says), or run.
    Verdict decide();
    // A send of another length than the declared message size.
    bool reject_size(size_t len, const uint32_t* message_size);
    // Fires this handle's guard as a violation of `kind` (deopt stress, forced
    // invalidation): the handle re-specializes as after any real violation.
    void force(ViolationKind kind = ViolationKind::forced);

    // A reinforceable change since the rule (if any) was made: make it again.
    bool reinforce_wanted() const { return reinforce_wanted_; }
    // Builds the rule for the running (stale) code from the live state; false when no
    // reinforcement is correct now: the change is then handled as under fallback.
    bool reinforce(const StaleCode& stale);
    EgressRule* rule() { return rule_ ? &*rule_ : nullptr; }
    // The stale code can no longer run (replugged or given back): its rule goes, and
    // with it the translation of its flow's replies.
    void retire_rule();

    bool violated() const { return violated_; }
    bool closed() const { return closed_; }
    // The socket behind the descriptor is no longer the one the handle was made for.
    bool socket_gone() const;
    void mark_closed() { closed_ = true; }
    ViolationPolicy policy() const { return policy_; }
    Interface* iface() const { return iface_; }
    void* socket() const { return tcp_socket_ ? static_cast<void*>(tcp_socket_) : static_cast<void*>(udp_socket_); }
    GuardStats& stats() { return stats_; }
    const GuardStats& stats() const { return stats_; }

private:
    void invariant_changed(uint8_t tag) override;
    void violation(ViolationKind kind);
    void count(ViolationKind kind, ViolationPolicy applied);
    void watch();

    Stack* stack_;
    int fd_;
    Proto proto_;
    ViolationPolicy policy_;
    Replugger* plug_;
    UdpSocket* udp_socket_ = nullptr;
    TcpSocket* tcp_socket_ = nullptr;
    Interface* iface_ = nullptr;
    const ArpCache* arp_ = nullptr;  // iface_'s
    uint64_t arp_generation_ = 0;  // of iface_'s ARP cache when the context was taken
    bool violated_ = false;        // a change since arm() that the code cannot run through
    bool reinforce_wanted_ = false;  // a change since arm() that a rule can make right
    std::optional<EgressRule> rule_;
    bool closed_ = false;
    GuardStats stats_;
    std::array<GuardLink, 11> links_;
};

}  // namespace quasi
