#include "guards/handle_guard.hpp"

#include "stack/stack.hpp"

#include <initializer_list>

namespace quasi {

HandleGuard::HandleGuard(Stack& stack, int fd, Proto proto, ViolationPolicy policy, Replugger& plug)
    : stack_(&stack), fd_(fd), proto_(proto), policy_(policy), plug_(&plug) {}

void HandleGuard::arm(void* socket, Interface* iface, uint64_t arp_generation) {
    if (proto_ == Proto::udp)
        udp_socket_ = static_cast<UdpSocket*>(socket);
    else
        tcp_socket_ = static_cast<TcpSocket*>(socket);
    iface_ = iface;
    arp_ = &iface->arp();
    arp_generation_ = arp_generation;
    violated_ = false;
    reinforce_wanted_ = false;
    watch();
}

void HandleGuard::watch() {
    size_t i = 0;
    auto watch_all = [&](ViolationKind kind, std::initializer_list<InvariantBase*> invariants) {
        for (InvariantBase* inv : invariants) inv->watch(links_[i++], *this, static_cast<uint8_t>(kind));
    };
    if (proto_ == Proto::udp) {
        UdpSocket* s = udp_socket_;
        watch_all(ViolationKind::socket_identity, {&s->local_addr, &s->local_port, &s->remote_addr, &s->remote_port});
        watch_all(ViolationKind::socket_option, {&s->ttl, &s->tos, &s->checksum_enabled, &s->dont_fragment});
    } else {
        TcpSocket* s = tcp_socket_;
        watch_all(ViolationKind::socket_identity, {&s->local_addr, &s->local_port, &s->remote_addr, &s->remote_port});
        watch_all(ViolationKind::socket_option, {&s->ttl, &s->tos, &s->nodelay});
        // Lowered by PMTU discovery (RFC 1191) or set with TCP_MAXSEG.
        watch_all(ViolationKind::mss, {&s->snd_mss});
    }
    watch_all(ViolationKind::route, {&stack_->routes().version});
    watch_all(ViolationKind::interface_mtu, {&iface_->mtu});
    watch_all(ViolationKind::path_mtu, {&stack_->path_mtu().version});
}

// UdpLayer::close clears the addresses after marking the socket free; a TCP socket's
// invariants notify when its slot is reused (TcpLayer::alloc_socket). TcpLayer::close
// gives the descriptor up (fd = -1) while the connection finishes in the background:
// nothing to watch there, so TCP compares at each slow-path send.
bool HandleGuard::socket_gone() const {
    if (udp_socket_) return !udp_socket_->in_use;
    if (tcp_socket_) return !tcp_socket_->in_use || tcp_socket_->fd != fd_;
    return false;
}

void HandleGuard::invariant_changed(uint8_t tag) { violation(static_cast<ViolationKind>(tag)); }

// The stack's counters of the same events as the handle's (stack/stats.hpp).
static_assert(static_cast<size_t>(Counter::guard_violation_message_size) -
                      static_cast<size_t>(Counter::guard_violation_socket_identity) + 1 ==
                  kViolationKindCount,
              "one guard_violation_* counter per ViolationKind, in its order");
void HandleGuard::count(ViolationKind kind, ViolationPolicy applied) {
    ++stats_.violations[static_cast<size_t>(kind)];
    ++stats_.by_policy[static_cast<size_t>(applied)];
    Stats& st = stack_->stats();
    st.count(static_cast<Counter>(static_cast<size_t>(Counter::guard_violation_socket_identity) + static_cast<size_t>(kind)));
    st.count(applied == ViolationPolicy::reinforce ? Counter::guard_policy_reinforce
             : applied == ViolationPolicy::reject  ? Counter::guard_policy_reject
                                                   : Counter::guard_policy_fallback);
}

void HandleGuard::violation(ViolationKind kind) {
    ViolationPolicy applied = policy_for(kind, policy_);
    count(kind, applied);
    plug_->disarm();
    if (socket_gone()) closed_ = true;
    if (applied == ViolationPolicy::reinforce && !closed_) {
        reinforce_wanted_ = true;  // the stale code keeps running, through a rule (decide())
        return;
    }
    violated_ = true;
    // For every handle sharing this code; a handle that re-extracts this very state clears it.
    if (PluggableCode* code = plug_->newest()) code->guard.fire();
}

bool HandleGuard::reinforce(const StaleCode& stale) {
    reinforce_wanted_ = false;
    retire_rule();
    rule_ = make_egress_rule(*stack_, stats_, stale);
    if (rule_) {
        attach_ingress(*rule_);
        return true;
    }
    stack_->stats().count(Counter::guard_reinforce_unavailable);
    violated_ = true;
    if (PluggableCode* code = plug_->newest()) code->guard.fire();
    return false;
}

void HandleGuard::retire_rule() {
    if (!rule_) return;
    detach_ingress(*rule_);
    rule_.reset();
}

void HandleGuard::force(ViolationKind kind) { violation(kind); }

HandleGuard::Verdict HandleGuard::decide() {
    ++stats_.checks;
    stack_->stats().count(Counter::guard_checks_slow);
    if (!closed_ && socket_gone()) closed_ = true;
    if (closed_) return Verdict::closed;
    // Under a rule every frame takes the live neighbour anyway.
    if (!violated_ && !reinforce_wanted_ && !rule_ && !arp_holds()) violation(ViolationKind::neighbour);
    PluggableCode* code = plug_->newest();
    // Fired from elsewhere: another handle of this code saw a change, or a forced
    // invalidation (jit's invalidate_specializations) from another thread.
    if (!violated_ && code && !code->guard.holds()) violation(ViolationKind::forced);
    if (!violated_ && !reinforce_wanted_ && !rule_ && code) return Verdict::run;
    if (violated_ && policy_ == ViolationPolicy::reject) return Verdict::reject;
    if (!violated_ && (reinforce_wanted_ || rule_) && plug_->running()) return Verdict::reinforce;
    return Verdict::respecialize;
}

bool HandleGuard::reject_size(size_t len, const uint32_t* message_size) {
    if (!message_size || len == *message_size) return false;
    ViolationPolicy applied = policy_for(ViolationKind::message_size, policy_);
    count(ViolationKind::message_size, applied);
    return applied == ViolationPolicy::reject;
}

}  // namespace quasi
