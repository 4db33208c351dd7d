// libFuzzer target: TCP connections of a whole Stack driven segment by segment.
//
// Each input is two configuration bytes and a sequence of records (tcp_records.hpp):
// segments from the peer with sequence numbers relative to the connection, virtual
// time passing with every TCP timer firing at its deadline, and calls of the
// application. A fresh TcpHarness (tcp_harness.hpp) plays them and checks the frames
// the stack sends and the state of every socket after each step, and once more after
// 77 minutes of virtual time. Any violated invariant traps, so libFuzzer saves the input.
#include "tcp_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace quasi::fuzz;
    std::span<const uint8_t> input{data, size};
    const size_t config = std::min(size, kTcpConfigLen);
    {
        TcpHarness harness{input.first(config)};
        TcpInputReader records{input.subspan(config)};
        harness.run(records);
        harness.finish();
    }
    // The stack's destructors returned whatever they still held.
    TCP_CHECK(tcp_pool().available() == tcp_pool().capacity());
    return 0;
}
