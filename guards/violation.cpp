#include "guards/violation.hpp"

namespace quasi {

namespace {
constexpr const char* kKindNames[] = {
#define QUASI_NAME(name, text) #name,
    QUASI_VIOLATION_KINDS(QUASI_NAME)
#undef QUASI_NAME
};
constexpr const char* kKindDescriptions[] = {
#define QUASI_TEXT(name, text) text,
    QUASI_VIOLATION_KINDS(QUASI_TEXT)
#undef QUASI_TEXT
};
}  // namespace

const char* name(ViolationKind kind) { return kKindNames[static_cast<size_t>(kind)]; }
const char* description(ViolationKind kind) { return kKindDescriptions[static_cast<size_t>(kind)]; }

const char* name(ViolationPolicy policy) {
    switch (policy) {
    case ViolationPolicy::fallback_and_respecialize: return "fallback_and_respecialize";
    case ViolationPolicy::reject: return "reject";
    case ViolationPolicy::reinforce: return "reinforce";
    }
    return "?";
}

}  // namespace quasi
