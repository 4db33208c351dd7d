// Holds the specializer's background thread for a test's scope (Specializer::
// hold_background): an async handle's compile waits until release(), so the test
// knows which sends must go through the generic path, whatever the machine's speed.
#pragma once

#include "jit/specializer.hpp"

namespace quasi::test {

class HeldCompiles {
public:
    HeldCompiles() { jit::Specializer::instance().hold_background(true); }
    ~HeldCompiles() { release(); }
    HeldCompiles(const HeldCompiles&) = delete;
    HeldCompiles& operator=(const HeldCompiles&) = delete;
    void release() { jit::Specializer::instance().hold_background(false); }
};

}  // namespace quasi::test
