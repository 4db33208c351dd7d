// Compiled by ctest twice (tests/unit/CMakeLists.fragment.guards.cmake): as it is it
// must compile; with -DQUASI_ASSIGN the plain assignment must not (the TypeGuard:
// a QuasiInvariant changes only through guarded_write, which tells the guards).
#include "guards/quasi_invariant.hpp"

#include <cstdint>

int main() {
    quasi::QuasiInvariant<uint16_t> mss{1460};
    mss.guarded_write(1200);
#ifdef QUASI_ASSIGN
    mss = 1000;
#endif
    return mss.get() == 1200 ? 0 : 1;
}
