// A device and an in-test specialization server on one in-memory link: the device
// stack (198.18.0.1, its interface behind a VerifyTap) runs a RemoteClient; the
// server stack (198.18.0.2) listens on TCP 7700 and answers spec requests as each
// test tells it, honestly or not; a UDP sink on the server's port 9 counts what the
// device's handle sends, and a TCP sink on port 9 (open_tcp()) keeps every byte a
// device connection sends. The "code" an honest server returns is real x86-64
// machine code run from the device's code buffer: a trampoline into the frozen UDP
// or TCP path (udp_send<const FrozenUdpContext>, tcp_send_frozen<const
// FrozenTcpContext>: the references the JIT compiles) with the context the device
// sent, so the whole device side runs as it would with quasi-specd's code.
#pragma once

#include "jit/remote/device/mmap_exec_region.hpp"
#include "jit/remote/device/remote_client.hpp"
#include "jit/remote/device/target.hpp"
#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#include "tests/remote/proto_samples.hpp"

#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace quasi::remote::test {

// An executable region that counts writes and leaves its bytes readable, for tests
// that prove a refused reply never reached it (it is never executed).
class WatchedRegion final : public ExecRegion {
public:
    WatchedRegion() { bytes_.fill(0xCC); }
    std::span<uint8_t> bytes() override { return bytes_; }
    void begin_write() override { ++writes; }
    void end_write(size_t, size_t) override {}
    bool untouched() const {
        for (uint8_t b : bytes_)
            if (b != 0xCC) return false;
        return writes == 0;
    }
    int writes = 0;

private:
    std::array<uint8_t, 8192> bytes_{};
};

// The frozen contexts the honest server's code runs with (stable addresses).
inline std::deque<FrozenUdpContext>& server_contexts() {
    static std::deque<FrozenUdpContext> contexts;
    return contexts;
}
inline std::deque<FrozenTcpContext>& server_tcp_contexts() {
    static std::deque<FrozenTcpContext> contexts;
    return contexts;
}

extern "C" inline ssize_t quasi_test_interpreted_send(const uint8_t* data, size_t len, const FrozenUdpContext* c) {
    return udp_send<const FrozenUdpContext>(*c, data, len);
}
extern "C" inline ssize_t quasi_test_interpreted_tcp_send(const uint8_t* data, size_t len, const FrozenTcpContext* c) {
    return tcp_send_frozen<const FrozenTcpContext>(*c, data, len);
}
// A slow device: the clock moves on by 1 ms while the code runs (after it read the
// time), as a board's would during a long send.
inline ManualClock* slow_send_clock = nullptr;
extern "C" inline ssize_t quasi_test_slow_tcp_send(const uint8_t* data, size_t len, const FrozenTcpContext* c) {
    ssize_t rc = tcp_send_frozen<const FrozenTcpContext>(*c, data, len);
    if (slow_send_clock) slow_send_clock->advance(kMillisecond);
    return rc;
}

// 8 bytes of int3 before the entry (so the entry offset matters), then
// movabs rdx, context; movabs rax, function; jmp rax.
inline std::vector<uint8_t> trampoline_code(const void* context, const void* function, uint32_t& entry_offset) {
    std::vector<uint8_t> code(8, 0xCC);
    entry_offset = 8;
    auto imm64 = [&](uint64_t v) {
        for (int i = 0; i < 8; ++i) code.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    code.insert(code.end(), {0x48, 0xBA});
    imm64(reinterpret_cast<uintptr_t>(context));
    code.insert(code.end(), {0x48, 0xB8});
    imm64(reinterpret_cast<uintptr_t>(function));
    code.insert(code.end(), {0xFF, 0xE0});
    return code;
}

struct DeviceWorld {
    using Responder = std::function<std::vector<uint8_t>(const SpecRequest&, int request_index)>;

    static constexpr Ipv4Addr kDevice = Ipv4Addr::from_octets(198, 18, 0, 1);
    static constexpr Ipv4Addr kServer = Ipv4Addr::from_octets(198, 18, 0, 2);
    static constexpr uint16_t kServerPort = 7700;
    static constexpr uint16_t kSinkPort = 9;

    explicit DeviceWorld(ExecRegion& region, bool listening = true, uint32_t verify_sends = 4)
        : link(MemLink::Config{}), tap(link.a()), dev(config(1), clock, &pool), srv(config(2), clock, &pool) {
        dev.add_interface(tap, kDevice, 24);
        srv.add_interface(link.b(), kServer, 24);
        sink = socket(srv, kAfInet, kSockDgram);
        bind(srv, sink, {kServer, kSinkPort});
        if (listening) {
            listener = socket(srv, kAfInet, kSockStream);
            bind(srv, listener, {kServer, kServerPort});
            listen(srv, listener, 4);
        }
        udp = socket(dev, kAfInet, kSockDgram);
        connect(dev, udp, {kServer, kSinkPort});
        // Resolve the next hop once (a handle freezes a resolved MAC).
        uint8_t hello[4] = {1, 2, 3, 4};
        quasi::send(dev, udp, hello, sizeof hello);
        pump();
        drain_sink();
        RemoteConfig rc;
        rc.device_id = 7;
        rc.key = kKey;
        rc.server = {kServer, kServerPort};
        rc.verify_sends = verify_sends;
        client = std::make_unique<RemoteClient>(dev, region, &tap, rc);
    }
    ~DeviceWorld() { client.reset(); }

    static Stack::Config config(uint64_t seed) {
        Stack::Config c;
        c.seed = seed;
        return c;
    }

    // Runs everything until idle (bounded), the clock standing still.
    void pump(int rounds = 200) {
        for (int i = 0; i < rounds; ++i) {
            size_t work = dev.poll() + srv.poll();
            if (client) client->poll();
            serve();
            serve_tcp_sink();
            if (work == 0 && link.a().rx_pending() == 0 && link.b().rx_pending() == 0 && i > 4) return;
        }
    }
    void run_for(TimeNs duration, TimeNs step = 10 * kMillisecond) {
        for (TimeNs t = 0; t < duration; t += step) {
            clock.advance(step);
            pump();
        }
    }

    // The server side: accept, read whole requests, answer with what `respond` gives.
    void serve() {
        if (listener < 0) return;
        if (conn < 0) {
            int c = accept(srv, listener, nullptr);
            if (c >= 0) conn = c, rx.clear();
        }
        if (conn < 0) return;
        uint8_t buf[4096];
        for (;;) {
            ssize_t n = recv(srv, conn, buf, sizeof buf);
            if (n == -EAGAIN) break;
            if (n <= 0) {
                close(srv, conn);
                conn = -1;
                return;
            }
            rx.insert(rx.end(), buf, buf + n);
        }
        while (rx.size() >= 4) {
            uint32_t len = message_length(rx);
            if (len == 0 || rx.size() < len) break;
            std::vector<uint8_t> message(rx.begin(), rx.begin() + len);
            rx.erase(rx.begin(), rx.begin() + len);
            SpecRequest r;
            if (decode(message, kKey, r) != ProtoError::ok) {
                ++bad_requests;
                continue;
            }
            requests.push_back(message);
            std::vector<uint8_t> answer = respond ? respond(r, static_cast<int>(requests.size()) - 1) : std::vector<uint8_t>{};
            tx.insert(tx.end(), answer.begin(), answer.end());
        }
        while (!tx.empty()) {
            ssize_t n = quasi::send(srv, conn, tx.data(), tx.size());
            if (n <= 0) break;
            tx.erase(tx.begin(), tx.begin() + n);
        }
        if (tx.empty() && close_after_reply && !requests.empty()) {
            close(srv, conn);
            conn = -1;
        }
    }

    // An honest reply to `r`: code that runs the frozen path with r's context,
    // possibly edited first by `edit` (a dishonest server's code).
    std::vector<uint8_t> honest_reply(const SpecRequest& r, const std::function<void(FrozenUdpContext&)>& edit = {},
                                      const std::function<void(SpecReply&)>& tamper = {}) {
        FrozenUdpContext c{};
        std::memcpy(&c, r.context.data(), std::min(r.context.size(), sizeof c));
        if (edit) edit(c);
        server_contexts().push_back(c);
        return code_reply(r, &server_contexts().back(), reinterpret_cast<const void*>(&quasi_test_interpreted_send),
                          tamper);
    }
    std::vector<uint8_t> honest_tcp_reply(const SpecRequest& r, const std::function<void(FrozenTcpContext&)>& edit = {},
                                          bool slow = false) {
        FrozenTcpContext c{};
        std::memcpy(&c, r.context.data(), std::min(r.context.size(), sizeof c));
        if (edit) edit(c);
        server_tcp_contexts().push_back(c);
        const void* code = slow ? reinterpret_cast<const void*>(&quasi_test_slow_tcp_send)
                                : reinterpret_cast<const void*>(&quasi_test_interpreted_tcp_send);
        return code_reply(r, &server_tcp_contexts().back(), code, {});
    }
    std::vector<uint8_t> code_reply(const SpecRequest& r, const void* context, const void* function,
                                    const std::function<void(SpecReply&)>& tamper) {
        SpecReply reply;
        reply.device_id = r.device_id;
        reply.nonce = r.nonce;
        reply.status = Status::ok;
        reply.target = r.target;
        reply.path = r.path;
        reply.code_address = r.code_address;
        reply.symbol_hash = symbol_table_hash(r.symbol_table());
        code_store.push_back(trampoline_code(context, function, reply.entry_offset));
        reply.code = code_store.back();
        if (tamper) tamper(reply);
        return encoded(reply);
    }
    std::vector<uint8_t> error_reply(const SpecRequest& r, Status status) {
        SpecReply reply;
        reply.device_id = r.device_id;
        reply.nonce = r.nonce;
        reply.status = status;
        reply.message = "refused by the test server";
        reply.target = r.target;
        reply.path = r.path;
        return encoded(reply);
    }

    // Sends n datagrams of `size` bytes through the handle, each followed by a pump;
    // returns how many the call accepted.
    int send_through(int handle, int n, size_t size = 64) {
        int ok = 0;
        std::vector<uint8_t> data(size);
        for (int i = 0; i < n; ++i) {
            for (size_t j = 0; j < size; ++j) data[j] = static_cast<uint8_t>(i + j);
            if (client->send(handle, data.data(), size) == static_cast<ssize_t>(size)) ++ok;
            pump();
        }
        return ok;
    }
    // Datagrams the sink received since the last call, checked against send_through's pattern.
    int drain_sink(int* wrong = nullptr) {
        int n = 0;
        uint8_t buf[2048];
        for (;;) {
            ssize_t got = recv(srv, sink, buf, sizeof buf);
            if (got < 0) break;
            if (wrong && got >= 2 && static_cast<uint8_t>(buf[1] - buf[0]) != 1) ++*wrong;
            ++n;
        }
        return n;
    }
    // A device TCP connection to the server's TCP sink on port 9, ESTABLISHED and its
    // next hop resolved; -1 on failure.
    int open_tcp() {
        int fd = connect_tcp();
        if (fd < 0) return -1;
        pump();
        return tcp_peer >= 0 ? fd : -1;
    }
    // The same, without waiting: the device's SYN is sent, nothing has answered it.
    int connect_tcp() {
        if (tcp_listener < 0) {
            tcp_listener = socket(srv, kAfInet, kSockStream);
            bind(srv, tcp_listener, {kServer, kSinkPort});
            listen(srv, tcp_listener, 2);
        }
        int fd = socket(dev, kAfInet, kSockStream);
        return connect(dev, fd, {kServer, kSinkPort}) == -EINPROGRESS ? fd : -1;
    }
    // The sink: accepts one connection and reads everything into tcp_received.
    void serve_tcp_sink() {
        if (tcp_listener < 0) return;
        if (tcp_peer < 0) tcp_peer = accept(srv, tcp_listener, nullptr);
        if (tcp_peer < 0 || !tcp_reading) return;
        uint8_t buf[4096];
        ssize_t n;
        while ((n = recv(srv, tcp_peer, buf, sizeof buf)) > 0) tcp_received.insert(tcp_received.end(), buf, buf + n);
    }
    // Sends n messages of `size` bytes through the handle (byte j of message i is
    // i * 7 + j), a pump after each; a message the stack takes in part is finished
    // (the rest through the handle too). Returns the messages sent whole.
    int send_tcp_messages(int handle, int n, size_t size, int first = 0) {
        int ok = 0;
        std::vector<uint8_t> data(size);
        for (int i = first; i < first + n; ++i) {
            for (size_t j = 0; j < size; ++j) data[j] = static_cast<uint8_t>(i * 7 + j);
            size_t done = 0;
            for (int tries = 0; done < size && tries < 100; ++tries) {
                ssize_t rc = client->send(handle, data.data() + done, size - done);
                if (rc > 0) done += static_cast<size_t>(rc);
                pump();
                if (rc == -EAGAIN) run_for(10 * kMillisecond);
            }
            ok += done == size;
        }
        return ok;
    }
    // Whether the sink holds exactly messages [0, n) of send_tcp_messages' pattern.
    bool tcp_stream_is(int n, size_t size) const {
        if (tcp_received.size() != static_cast<size_t>(n) * size) return false;
        for (int i = 0; i < n; ++i)
            for (size_t j = 0; j < size; ++j)
                if (tcp_received[i * size + j] != static_cast<uint8_t>(i * 7 + j)) return false;
        return true;
    }
    uint64_t drops(Drop d) const { return dev.stats()[d]; }
    uint64_t count(Counter c) const { return dev.stats()[c]; }

    ManualClock clock;
    BufferPool pool{BufferPool::Config{.count = 1024}};
    MemLink link;
    VerifyTap tap;
    Stack dev;
    Stack srv;
    int sink = -1;
    int listener = -1;
    int conn = -1;
    int udp = -1;
    int tcp_listener = -1;
    int tcp_peer = -1;
    bool tcp_reading = true;  // false: the sink's window fills
    std::vector<uint8_t> tcp_received;
    std::vector<uint8_t> rx, tx;
    std::vector<std::vector<uint8_t>> requests;
    std::deque<std::vector<uint8_t>> code_store;
    int bad_requests = 0;
    bool close_after_reply = false;
    Responder respond;
    std::unique_ptr<RemoteClient> client;
};

}  // namespace quasi::remote::test
