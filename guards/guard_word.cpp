#include "guards/guard_word.hpp"

extern "C" const uint32_t quasi_guard_holds = 0;
