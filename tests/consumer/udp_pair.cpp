// A consumer of the installed package: two stacks joined by the in-memory link, one
// UDP datagram from one to the other (through a specialized send handle when built
// with quasi::jit). Exit status 0 when it arrives intact.
#include "ports/x86/mem_link.hpp"
#include "ports/x86/steady_clock.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#ifdef CONSUMER_JIT
#include "jit/specialize.hpp"
#endif

#include <cstdio>
#include <cstring>

using namespace quasi;

int main() {
    SteadyClock clock;
    BufferPool pool{BufferPool::Config{.count = 256}};
    MemLink link;
    Stack a(Stack::Config{}, clock, &pool), b(Stack::Config{}, clock, &pool);
    const Ipv4Addr addr_a = Ipv4Addr::from_octets(198, 18, 0, 1), addr_b = Ipv4Addr::from_octets(198, 18, 0, 2);
    a.add_interface(link.a(), addr_a, 24);
    b.add_interface(link.b(), addr_b, 24);
    int fa = socket(a, kAfInet, kSockDgram), fb = socket(b, kAfInet, kSockDgram);
    bind(b, fb, SockAddr{addr_b, 9000});
    connect(a, fa, SockAddr{addr_b, 9000});
    const char message[] = "hello from an installed quasi";
    // Delivers one datagram sent by `send_one`, polling both stacks; true when intact.
    auto deliver = [&](auto send_one) {
        ssize_t sent = send_one();
        char got[64] = {};
        ssize_t n = -1;
        for (int i = 0; i < 100 && n < 0; ++i) {  // ARP on the first, then the datagram
            a.poll();
            b.poll();
            n = recv(b, fb, got, sizeof got);
        }
        bool ok = sent == ssize_t(sizeof message) && n == ssize_t(sizeof message) && !std::memcmp(got, message, n);
        std::printf("udp_pair: sent %zd, received %zd%s\n", sent, n, ok ? ", intact" : "");
        return ok;
    };
    if (!deliver([&] { return send(a, fa, message, sizeof message); })) return 1;
#ifdef CONSUMER_JIT
    // Specialized once the route is resolved, as an application would after connecting.
    auto handle = specialize_send(a, fa);
    if (!handle) {
        std::fprintf(stderr, "udp_pair: specialize_send: %s\n", handle.error().message.c_str());
        return 1;
    }
    if (!deliver([&] { return handle->send(message, sizeof message); })) return 1;
#endif
    return 0;
}
