// libFuzzer target: the frame receive path of a whole Stack.
//
// Each input is a sequence of frames with virtual time between them
// (frame_records.hpp), played against a fresh FrameHarness (frame_harness.hpp: a
// Stack with UDP and TCP echo services on an in-memory link, whose output and
// counters are checked after every frame and once more after 77 minutes of virtual
// time). Any violated invariant traps, so libFuzzer saves the input.
#include "frame_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace quasi::fuzz;
    {
        FrameHarness harness;
        std::span<const uint8_t> input{data, size};
        Record record;
        while (next_record(input, record)) harness.receive(record);
        harness.finish();
    }
    // The stack's destructors returned whatever they still held.
    FUZZ_CHECK(shared_pool().available() == shared_pool().capacity());
    return 0;
}
