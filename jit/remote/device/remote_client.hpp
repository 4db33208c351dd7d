// The device side of remote specialization: a board (or any stack without LLVM)
// asks quasi-specd for the specialized send path of a connected UDP socket or an
// ESTABLISHED TCP connection, over the stack's own TCP, and runs the code it gets
// back from a bounded code buffer.
//
//   RemoteClient client(stack, region, &tap, {.device_id = 7, .key = key, .server = {addr, 7700}});
//   int h = client.specialize_send(fd, {.message_size = 64});  // at once; the request goes out
//   for (...) { stack.poll(); client.poll(); client.send(h, data, 64); }
//
// A handle sends through the generic path (UdpLayer::send_to, TcpLayer::send) until its code has
// arrived, whenever its guard is violated (then it asks again), after its code was
// evicted, and for good if verify mode caught its code building a wrong frame. A
// reply is checked whole before anything of it is copied into the code buffer: its
// MAC under the device's key, type, nonce (only the outstanding request's), status,
// target, send path, load address, size against the reservation, entry offset and
// symbol-table hash. Refused replies, timeouts and connection failures are counted
// (stack/stats.hpp, remote_*) and the handle keeps sending generic; the request is
// retried after `retry_after`.
//
// Verify mode (the first `verify_sends` sends of each newly installed code, needs
// the VerifyTap between the interface and its port): the specialized code builds
// its frame, the frame is held back, the generic path builds its own for the same
// send from the same state (IP ID counter and statistics rewound), the two are
// compared byte for byte and the generic one leaves. A mismatch drops the handle's
// code for good, counts remote_verify_mismatch and records it in the handle's info.
// TCP (tcp_verify.hpp): the code's segments are held back, the sender state they
// moved (SND.NXT/SND.MAX, the RTT sample, timers, ACK bookkeeping, IP ID,
// statistics) is rewound, and TcpLayer's output sends the same bytes the code put in
// the send ring (checked against the caller's): each message leaves once, as the
// generic path cut it, and the two states after must agree too.
//
// Guards are the host's (guards/): each handle has a HandleGuard over the socket's
// and the path's quasi-invariants and a Replugger over the versions of its code
// (PluggableCode, whose guard word the code reads at entry); the client is their
// CodeOwner, giving a version's code-buffer room back when the replugger releases it.
//
// Single-threaded like the Stack: create, send, poll and release on its thread.
// Fixed tables, no allocation after construction: the board runs this.
#pragma once

#include "context/tcp_context.hpp"
#include "context/udp_context.hpp"
#include "jit/remote/device/code_buffer.hpp"
#include "guards/handle_guard.hpp"
#include "guards/replugger.hpp"
#include "jit/remote/device/verify_tap.hpp"
#include "jit/remote/proto/messages.hpp"
#include "stack/clock.hpp"
#include "stack/stats.hpp"
#include "stack/udp.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <span>
#include <sys/types.h>

namespace quasi {
class Stack;
}

namespace quasi::remote {

struct RemoteConfig {
    uint64_t device_id = 0;
    std::span<const uint8_t> key;  // kMinKeyBytes..kMaxKeyBytes; must outlive the client
    SockAddr server;
    TimeNs request_timeout = 2 * kSecond;  // connect and reply, each
    TimeNs retry_after = 1 * kSecond;      // after a timeout, a refusal or a failed connection
    uint32_t verify_sends = 8;             // per newly installed code; 0: off
    uint32_t code_capacity = 2048;         // bytes reserved per UDP request
    uint32_t tcp_code_capacity = 8192;     // per TCP request (3-6 KB of code: more when a message takes two segments)
};

struct RemoteSpecOptions {
    std::optional<uint32_t> message_size;
    bool flush = true;  // as SpecOptions::flush (jit/specialize.hpp)
};

struct RemoteHandleInfo {
    bool specialized = false;  // code installed and its guard holds
    bool waiting = false;      // a request is queued or outstanding
    bool verify_failed = false;
    uint64_t requests = 0;
    uint64_t installs = 0;
    uint64_t specialized_sends = 0;
    uint64_t generic_sends = 0;
    uint64_t verified_sends = 0;
    Status last_status = Status::ok;  // of the last reply that arrived
    size_t code_bytes = 0;
    uint64_t code_address = 0;
};

class RemoteClient final : private CodeBuffer::EvictListener, private CodeOwner {
public:
    static constexpr size_t kMaxHandles = 16;

    // `tap` may be null (no verify mode). The region and tap must outlive the client.
    RemoteClient(Stack& stack, ExecRegion& region, VerifyTap* tap, const RemoteConfig& config);
    ~RemoteClient();
    RemoteClient(const RemoteClient&) = delete;
    RemoteClient& operator=(const RemoteClient&) = delete;

    // A handle for connected UDP socket or ESTABLISHED TCP connection fd, at once (its
    // request is queued): >= 0, or -errno: EBADF (no such socket), ENOSPC (handle table
    // full), or freeze_udp_send's / freeze_tcp_send's (ENOTCONN, ENETUNREACH, EMSGSIZE...).
    // A TCP connection still in its handshake (connect() said EINPROGRESS) gets its
    // handle too: the context is the SYN-ACK's (MSS, window scale, timestamps, SACK),
    // so the request leaves from the poll() that sees ESTABLISHED, the connection to
    // the server opened meanwhile; until the code arrives, sends go generic.
    int specialize_send(int fd, const RemoteSpecOptions& options = {});
    // As send(): bytes sent or -errno; -EBADF once the socket is closed.
    ssize_t send(int handle, const void* data, size_t len);
    void release(int handle);
    // Drives the connection to the server: connect, send the next request, read and
    // check replies, time out. Call it in the loop beside Stack::poll().
    void poll();

    RemoteHandleInfo info(int handle) const;
    const CodeBuffer& code_buffer() const { return code_; }
    bool connected() const { return conn_ == Conn::open; }

private:
    // idle: no code and none asked for (the next send asks); connecting: a TCP
    // connection in its handshake (asked at ESTABLISHED; no guard armed until then);
    // queued: to be asked; waiting: its request is on the wire; ready: code installed
    // (it runs while the guards hold); dead: verify mode caught its code, or the
    // server refuses for good.
    enum class State : uint8_t { idle, connecting, queued, waiting, ready, dead };
    using SendFn = ssize_t (*)(const uint8_t*, size_t);
    // One version of a handle's code: the replugger's view, plus where it lives.
    struct Version {
        PluggableCode code;
        int entry = CodeBuffer::kNone;  // in the code buffer
        bool in_use = false;
    };
    using Proto = HandleGuard::Proto;
    struct Handle {
        Handle(Stack& stack, int descriptor, Proto p, void* s, const RemoteSpecOptions& o, CodeOwner& owner)
            : fd(descriptor), proto(p), socket(s), options(o), plug(owner),
              guard(stack, descriptor, p, ViolationPolicy::fallback_and_respecialize, plug) {}
        State state = State::queued;
        int fd;
        Proto proto;
        void* socket;  // UdpSocket or TcpSocket, as proto says
        RemoteSpecOptions options;
        std::array<Version, 2> versions;  // running and the one asked for
        Replugger plug;                   // before guard: the guard points at it
        HandleGuard guard;
        // As sent in the last request (the one of proto).
        FrozenUdpContext udp_context{};
        FrozenTcpContext tcp_context{};
        uint32_t verify_left = 0;
        TimeNs retry_at = 0;
        RemoteHandleInfo info;

        UdpSocket& udp() const { return *static_cast<UdpSocket*>(socket); }
        TcpSocket& tcp() const { return *static_cast<TcpSocket*>(socket); }
        SendFn code() const { return reinterpret_cast<SendFn>(plug.function()); }
        Version* running() { return version_of(plug.running()); }
        Version* version_of(const PluggableCode* c) {
            for (Version& v : versions)
                if (&v.code == c) return &v;
            return nullptr;
        }
    };
    enum class Conn : uint8_t { closed, connecting, open };

    void code_evicted(uint32_t owner, int entry) override;
    void release(PluggableCode* code) override;
    // Inline: every send looks its handle up.
    Handle* slot(int handle) {
        if (handle < 0 || static_cast<size_t>(handle) >= handles_.size() || !handles_[handle]) return nullptr;
        return &*handles_[handle];
    }
    Version* fresh_version(Handle& h);
    void unplug(Handle& h, State next);
    ssize_t generic_send(Handle& h, const uint8_t* data, size_t len);
    ssize_t verified_send(Handle& h, const uint8_t* data, size_t len);
    ssize_t verified_udp_send(Handle& h, const uint8_t* data, size_t len);
    ssize_t verified_tcp_send(Handle& h, const uint8_t* data, size_t len);
    using Frames = std::array<PacketPtr, VerifyTap::kMaxCaptured>;
    size_t take_frames(Frames& out);
    void verify_outcome(Handle& h, bool same, Frames& generic, size_t n_gen);
    // A fresh extraction of a socket's context, either path's (the one of `proto`).
    struct Frozen {
        FrozenUdpContext udp{};
        FrozenTcpContext tcp{};
        void* socket = nullptr;
        Interface* iface = nullptr;
        uint64_t arp_generation = 0;
    };
    // 0, or freeze_udp_send's / freeze_tcp_send's -errno.
    int freeze(int fd, Proto proto, std::optional<uint32_t> message_size, Frozen& out);

    // remote_link.cpp: the connection and the request/reply exchange.
    void open_connection();
    // Closes the connection, counting `reason` (none: a clean close); the request on
    // the wire, if any, is given up and retried after retry_after.
    void close_connection(std::optional<Drop> reason = std::nullopt);
    void fail_outstanding(TimeNs retry_at);
    void fail_version(Handle& h, State next, TimeNs retry_at);
    bool send_request(Handle& h, int index);
    void pump_tx();
    void pump_rx();
    void on_message(std::span<const uint8_t> message);
    bool reply_matches(const Handle& h, int entry, const SpecReply& r);
    int next_queued() const;
    bool queue_established();

    Stack& stack_;
    VerifyTap* tap_;
    RemoteConfig config_;
    CodeBuffer code_;
    std::array<std::optional<Handle>, kMaxHandles> handles_;
    uint64_t serial_ = 0;  // of code versions

    Conn conn_ = Conn::closed;
    int sock_ = -1;
    TimeNs deadline_ = 0;      // of the connect, then of the outstanding reply
    TimeNs reconnect_at_ = 0;  // no new connection before this after a failure
    int outstanding_ = -1;  // the handle whose request is on the wire
    uint64_t nonce_ = 0;    // its nonce: the only one a reply may carry
    std::array<uint8_t, kMaxMessageBytes> tx_{};
    size_t tx_len_ = 0;
    size_t tx_sent_ = 0;
    std::array<uint8_t, kMaxMessageBytes> rx_{};
    size_t rx_len_ = 0;
};

}  // namespace quasi::remote
