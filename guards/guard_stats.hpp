// What a handle's guards did (SendHandleInfo::guards); the stack counts the same
// events in its Stats (stack/stats.hpp, guard_* counters) for all its handles.
#pragma once

#include "guards/violation.hpp"

#include <cstdint>

namespace quasi {

struct GuardStats {
    uint64_t checks = 0;  // guard checks: sends on the fast path plus the slow path's decisions
    uint64_t violations[kViolationKindCount] = {};
    uint64_t by_policy[kViolationPolicyCount] = {};  // violations by the policy that applied
    uint64_t reinforced_frames = 0;                  // frames of stale code rewritten at egress
    uint64_t reinforced_bytes = 0;
    uint64_t recut_segments = 0;  // TCP segments cut from oversize ones at egress
    uint64_t fragments = 0;       // IPv4 fragments made from oversize UDP datagrams at egress
    uint64_t translations = 0;    // source addresses NAT-translated at egress
    uint64_t translations_back = 0;  // replies to the translated address translated back on ingress
    uint64_t replugs = 0;         // code versions that started running
    uint64_t verified = 0;        // verify mode's comparisons of the frozen and the live context
    uint64_t respecializations = 0;
    uint64_t respecialize_ns_total = 0;  // from a violation to the new code running
    uint64_t respecialize_ns_max = 0;

    uint64_t operator[](ViolationKind kind) const { return violations[static_cast<size_t>(kind)]; }
    uint64_t operator[](ViolationPolicy policy) const { return by_policy[static_cast<size_t>(policy)]; }
    uint64_t total_violations() const {
        uint64_t n = 0;
        for (uint64_t v : violations) n += v;
        return n;
    }
};

}  // namespace quasi
