// Specialized send handles: the public API of the specializer (no LLVM in sight).
//
//   auto h = quasi::specialize_send(stack, fd, {.message_size = 64});
//   if (!h) ... h.error().code (errno), h.error().message
//   h->send(data, 64);   // straight-line code compiled for this socket
//   h->release();
//
// A handle freezes the socket's send path and runs code compiled for exactly that.
// UDP (a connected socket): addresses, ports, TTL, TOS, DF, checksum, route,
// next-hop MAC, path MTU, optionally the message size. TCP (an ESTABLISHED
// connection): addresses, ports, TTL, TOS, route, next-hop MAC, the send MSS, the
// options negotiated (timestamps, SACK, window scale), TCP_NODELAY, optionally the
// application data unit (context/tcp_context.hpp); the sequence space, windows and
// buffers stay dynamic. Guards keep it correct: the handle watches every
// quasi-invariant it froze (socket options and addresses, the MSS, the route table
// version, the interface MTU, the path-MTU cache) and polls the ARP cache's
// generation at entry. A violated guard sends the call down the generic path
// (UdpLayer::send_to, TcpLayer::send), never into wrong code; then, per handle,
// either the stale code keeps running with its frames corrected at egress while new
// code compiles (ViolationPolicy::reinforce, the default, for changes of the route,
// neighbour, MTU or MSS), or the call is refused (reject), or the handle
// re-specializes (fallback_and_respecialize, and reinforce for what no egress
// rewrite can correct: cache hits at once, misses on the background compiler while
// the generic path carries the traffic). A TCP connection that leaves
// ESTABLISHED (the peer's FIN, our shutdown) is no violation: its code declines and
// TcpLayer::send takes every call from then on.
//
// Threading: a Stack is single-threaded and so are its handles: create, send and
// release them on the stack's thread. Only compiling runs elsewhere (one background
// thread per process); the handle picks the finished code up at its next send.
// Release every handle before destroying its Stack.
#pragma once

#include "context/expected.hpp"
#include "guards/guard_stats.hpp"
#include "guards/violation.hpp"  // ViolationPolicy

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <sys/types.h>

namespace quasi {

class Stack;

enum class JitPipeline : uint8_t {
    fast,        // a short custom pass pipeline: compiles ~2x faster, code within a few % of O2
    default_o2,  // LLVM's default O2 module pipeline
};

struct SpecOptions {
    // Declared message size (ADU): the code is compiled for this one length; other
    // lengths are refused (reject) or take the generic path. Empty: any length up to
    // the path MTU runs specialized (UDP); any length runs TCP's general segmentation
    // loop over the frozen frame (TCP). With TCP, a declared message is appended and
    // cut into its segments straight when the windows take it whole; otherwise it is
    // queued by the generic path (TcpLayer::send), which sends what the windows allow.
    std::optional<uint32_t> message_size;
    // The default reinforces where a reinforcement exists (route, neighbour, MTU,
    // MSS) and falls back elsewhere (guards/violation.hpp policy_for).
    ViolationPolicy on_violation = ViolationPolicy::reinforce;
    JitPipeline pipeline = JitPipeline::fast;
    // true: like send(), the frame is handed to the device before send() returns.
    // false: like UdpLayer::send_to, it waits in the interface's transmit batch for
    // the next Stack::poll() (or until the batch is full).
    bool flush = true;
};

struct SendHandleInfo {
    bool specialized = false;   // specialized code installed and its guards hold
    bool compiling = false;     // a compile for this handle is in flight
    uint64_t code_version = 0;  // the installed code's serial number (0: none)
    uint64_t installs = 0;      // code installed so far (1 + re-specializations)
    uint64_t specialized_sends = 0;
    uint64_t generic_sends = 0;
    size_t code_bytes = 0;      // executable bytes of the installed code
    size_t object_bytes = 0;    // all bytes the JIT allocated for it
    double compile_ms = 0;      // how long the installed code took to compile (0: cache hit)
    const void* code = nullptr;
    int last_error = 0;         // errno of the last failed (re)specialization
    GuardStats guards;          // what this handle's guards did (checks, violations, reinforcement, replugs)
};

namespace detail {
struct HandleState;
}

class SendHandle {
public:
    SendHandle();
    SendHandle(SendHandle&&) noexcept;
    SendHandle& operator=(SendHandle&&) noexcept;
    SendHandle(const SendHandle&) = delete;
    SendHandle& operator=(const SendHandle&) = delete;
    ~SendHandle();

    // Sends one datagram to the connected peer (UDP), or queues and sends bytes of the
    // stream (TCP): bytes sent or accepted, or -errno, as send() (TCP: fewer bytes
    // than asked when the send buffer has less room, -EAGAIN when it has none, -EPIPE
    // after shutdown). -EBADF once the socket is closed; -ESTALE / -EMSGSIZE under
    // the reject policy.
    ssize_t send(const void* data, size_t len);
    // Gives the code back to the cache (it is freed when no handle uses it and the
    // cache needs room) and stops watching the socket. Idempotent.
    void release();
    // Re-specializes from the socket's current state (after -ESTALE): 0 or -errno.
    int respecialize();

    bool valid() const { return state_ != nullptr; }
    // Specialized code is installed (an async compile finished) and its guards hold.
    bool ready() const;
    // Waits (blocking the caller: not for the data path) until no compile is pending
    // for this handle, and installs the result. True when specialized code is ready.
    bool wait_ready(uint32_t timeout_ms = 30000);
    SendHandleInfo info() const;

private:
    friend Expected<SendHandle> specialize_send(Stack&, int, const SpecOptions&);
    friend Expected<SendHandle> specialize_send_async(Stack&, int, const SpecOptions&);
    explicit SendHandle(std::unique_ptr<detail::HandleState> state);
    std::unique_ptr<detail::HandleState> state_;
};

// Specializes the send path of fd (a connected UDP socket or an ESTABLISHED TCP
// connection, by the descriptor's kind) and returns once the code is ready (a cache
// hit costs microseconds, a compile milliseconds). Errors: EBADF (not a socket), see
// freeze_udp_send (ENOTCONN, ENETUNREACH, EHOSTUNREACH, EOPNOTSUPP, EMSGSIZE) and
// freeze_tcp_send (ENOTCONN, EPIPE, ENETUNREACH, EHOSTUNREACH, EMSGSIZE), ENOSPC
// (the code cache is full of code in use), ENOSYS / EINVAL (the JIT failed; the
// message says why).
Expected<SendHandle> specialize_send(Stack& stack, int fd, const SpecOptions& options = {});
// Returns at once; the compile runs on the background thread and the handle sends
// through the generic path until its code is ready.
Expected<SendHandle> specialize_send_async(Stack& stack, int fd, const SpecOptions& options = {});

// Readies the JIT on the background thread and returns at once: creates the engine,
// loads the send paths' bitcode and compiles (then frees) a throw-away specialization
// of each, so the process's first real request does not pay for LLVM's first-touch
// costs (page faults, lazy symbol binding, one-time tables): quasi-bench-spec's
// "cold after prewarm" row. Call it at start-up, before connections open; calling it
// again does nothing. A failure shows in the first real request.
void prewarm_specializer();

struct SpecializerConfig {
    size_t cache_max_entries = 256;
    size_t cache_max_bytes = 4u << 20;
    const char* dump_objects_dir = nullptr;  // non-null: every compiled object is written there
};
// Applies to what follows (and trims the cache now). Thread-safe.
void configure_specializer(const SpecializerConfig& config);
// Fires the guard word of every cached code, from any thread: each handle running
// it re-specializes at its next send (a cache hit) and is replugged.
void invalidate_specializations();

struct SpecializerStats {
    uint64_t compiles = 0;
    uint64_t compile_failures = 0;
    uint64_t cache_hits = 0;
    uint64_t cache_misses = 0;
    uint64_t evictions = 0;
    uint64_t code_freed = 0;
    size_t entries = 0;
    size_t entries_in_use = 0;
    size_t cached_bytes = 0;
    size_t live_code = 0;  // code objects the JIT holds
    uint64_t prewarmed = 0;  // send paths prewarm_specializer() compiled (and freed)
};
SpecializerStats specializer_stats();
// Blocks until the background thread has nothing queued (compiles and frees).
void specializer_wait_idle();

}  // namespace quasi
