#include "guards/modes.hpp"

#include <cstdlib>

namespace quasi {

namespace {
uint32_t env_u32(const char* name) {
    const char* v = std::getenv(name);
    return v ? static_cast<uint32_t>(std::strtoul(v, nullptr, 10)) : 0;
}

GuardModes& modes() {
    static GuardModes m = [] {
        GuardModes g;
        g.verify_every = env_u32("QUASI_GUARDS_VERIFY");
        g.stress_every = env_u32("QUASI_GUARDS_STRESS");
        if (uint32_t seed = env_u32("QUASI_GUARDS_SEED")) g.seed = seed;
        return g;
    }();
    return m;
}
}  // namespace

const GuardModes& guard_modes() { return modes(); }
void set_guard_modes(const GuardModes& m) { modes() = m; }

}  // namespace quasi
