// Where the instructions of one measured send go, from a callgrind dump of its
// region (spec_measure.cpp's --callgrind-regions): so a reader can compare the
// protocol work of two stacks apart from what their configurations add.
#pragma once

#include <cmath>
#include <string>

namespace quasi::bench {

// Instructions per send by kind of work. Each instruction counts where it executes
// (self cost): inlined code counts to the source file it came from when the binary
// has debug information (quasi), else to its function's name (Debian's liblwip).
struct CostBreakdown {
    double copy_checksum = NAN;  // copying the payload in and every Internet checksum
    double allocation = NAN;     // buffer allocation and freeing (pools, pbufs, malloc/free)
    double locking = NAN;        // mutexes, protect/unprotect, core-lock checks
    double fixture = NAN;        // the bench's own device sink and call wrapper
    double protocol = NAN;       // the rest: headers, routing, ARP, demultiplexing, queueing
};

// Reads `dump` (written with --compress-strings=no --compress-pos=no) of a region
// of `sends` sends whose measured cost per send is `per_send` (the loop's own cost
// already taken out): the loop's lines are left out, and `protocol` is what remains
// of per_send after the other kinds, so the parts add up to the measured figure.
CostBreakdown breakdown_of_dump(const std::string& dump, int sends, double per_send);

}  // namespace quasi::bench
