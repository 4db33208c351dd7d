// A callgrind dump's self costs, classified by kind of work (cost_breakdown.hpp).
#include "bench/cost_breakdown.hpp"

#include <array>
#include <cstdlib>
#include <fstream>

namespace quasi::bench {

namespace {

enum class Work { copy_checksum, allocation, locking, fixture, loop, other };

bool has(const std::string& s, const char* part) {
    return s.find(part) != std::string::npos;
}

bool starts(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

// `fn`: the function's name without its parameter list (a signature that merely
// mentions PacketDeleter is not the deleter).
Work classify(const std::string& file, const std::string& fn) {
    // The measuring loop itself (its cost is the baseline region's, subtracted already).
    if (has(fn, "run_callgrind_regions") || has(fn, "Regions::run") || has(fn, "null_send")) return Work::loop;
    if (has(file, "/bench/")) return Work::fixture;
    // quasi's checksum code (inlined or not) and copy-and-sum kernel; lwIP's checksum
    // routines (not udp_sendto_chksum and its kin, which are the protocol); memcpy.
    if (has(file, "wire/checksum") || starts(fn, "quasi_checksum") || starts(fn, "lwip_standard_chksum") ||
        starts(fn, "inet_chksum") || starts(fn, "ip_chksum") || starts(fn, "ip6_chksum") ||
        starts(fn, "lwip_chksum_copy") || has(fn, "memcpy") || has(fn, "memmove"))
        return Work::copy_checksum;
    if (has(fn, "BufferPool::alloc") || has(fn, "BufferPool::free") || has(fn, "PacketDeleter") ||
        starts(fn, "pbuf_alloc") || starts(fn, "pbuf_free") || starts(fn, "mem_") || starts(fn, "memp_") ||
        has(file, "malloc.c") || has(file, "arena.c") || fn == "malloc" || fn == "free")
        return Work::allocation;
    if (has(fn, "mutex") || starts(fn, "sys_arch_protect") || starts(fn, "sys_arch_unprotect") ||
        has(fn, "core_locking") || starts(fn, "pthread_self"))
        return Work::locking;
    return Work::other;
}

// "fn=name", "fl=file": the name after '='.
std::string value_of(const std::string& line) {
    return line.substr(line.find('=') + 1);
}

}  // namespace

CostBreakdown breakdown_of_dump(const std::string& dump, int sends, double per_send) {
    std::ifstream in(dump);
    if (!in || sends <= 0) return {};
    std::array<double, 6> ir{};
    std::string file, inlined_file, fn, line;
    bool after_calls = false;  // the line after calls= is the callee's inclusive cost
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        char c = line[0];
        if (c >= '0' && c <= '9') {
            if (after_calls) {
                after_calls = false;
                continue;
            }
            auto space = line.find(' ');
            if (space == std::string::npos) continue;
            double cost = std::strtod(line.c_str() + space + 1, nullptr);
            ir[size_t(classify(inlined_file.empty() ? file : inlined_file, fn.substr(0, fn.find('('))))] += cost;
        } else if (line.rfind("fl=", 0) == 0) {
            file = value_of(line);
            inlined_file.clear();
        } else if (line.rfind("fi=", 0) == 0 || line.rfind("fe=", 0) == 0) {
            inlined_file = value_of(line);
        } else if (line.rfind("fn=", 0) == 0) {
            fn = value_of(line);
            inlined_file.clear();
        } else if (line.rfind("calls=", 0) == 0) {
            after_calls = true;
        }
    }
    auto per = [&](Work w) { return ir[size_t(w)] / sends; };
    CostBreakdown b;
    b.copy_checksum = per(Work::copy_checksum);
    b.allocation = per(Work::allocation);
    b.locking = per(Work::locking);
    b.fixture = per(Work::fixture);
    b.protocol = per_send - b.copy_checksum - b.allocation - b.locking - b.fixture;
    return b;
}

}  // namespace quasi::bench
