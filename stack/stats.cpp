#include "stack/stats.hpp"

namespace quasi {

namespace {
#define QUASI_NAME(name, text) #name,
#define QUASI_TEXT(name, text) text,
constexpr const char* kDropNames[] = {QUASI_DROP_REASONS(QUASI_NAME)};
constexpr const char* kDropTexts[] = {QUASI_DROP_REASONS(QUASI_TEXT)};
constexpr const char* kCounterNames[] = {QUASI_COUNTERS(QUASI_NAME)};
#undef QUASI_NAME
#undef QUASI_TEXT
}  // namespace

const char* name(Drop reason) { return kDropNames[static_cast<size_t>(reason)]; }
const char* description(Drop reason) { return kDropTexts[static_cast<size_t>(reason)]; }
const char* name(Counter counter) { return kCounterNames[static_cast<size_t>(counter)]; }

uint64_t Stats::total_drops() const {
    uint64_t total = 0;
    for (uint64_t d : drops) total += d;
    return total;
}

}  // namespace quasi
