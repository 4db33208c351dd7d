// quasi-perf's end of a run on a quasi stack: the sender, send() (the generic path) or a
// send handle specialized for the socket and the message size (jit/specialize.hpp) with
// the handle's own counts, and the receiver's count. Shared by the in-memory link's
// runs (perf_mem.cpp) and the tap's (perf_tap.cpp).
#pragma once

#include "apps/perf_run.hpp"
#include "jit/specialize.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <string>
#include <vector>

namespace quasi::perf {

// send() or a handle specialized for the socket and the size.
struct Sender {
    Stack* stack = nullptr;
    int fd = -1;
    SendHandle handle;

    bool init(Stack& s, int f, Path path, size_t size, bool tcp, std::string& error) {
        stack = &s;
        fd = f;
        if (path != Path::specialized) return true;
        SpecOptions spec;
        // UDP: the size is declared when one frame carries it; TCP: as the ADU.
        if (tcp || size <= 1472) spec.message_size = static_cast<uint32_t>(size);
        auto h = specialize_send(s, f, spec);
        if (!h) {
            error = "specialization failed: " + h.error().message;
            return false;
        }
        handle = std::move(*h);
        return true;
    }
    ssize_t send(const uint8_t* p, size_t n) {
        return handle.valid() ? handle.send(p, n) : quasi::send(*stack, fd, p, n);
    }
    void add_counts(RunResult& r) const {
        if (!handle.valid()) return;
        SendHandleInfo info = handle.info();
        r.specialized_sends += info.specialized_sends;
        r.generic_fallbacks += info.generic_sends;
    }
};

// Receives whatever is queued for fd, counting it; UDP counts datagrams, TCP bytes.
inline void receive_all(Stack& s, int fd, std::vector<uint8_t>& buf, Counters& c) {
    ssize_t n;
    while ((n = recv(s, fd, buf.data(), buf.size())) > 0) {
        ++c.msgs_received;
        c.bytes_received += uint64_t(n);
    }
}

}  // namespace quasi::perf
