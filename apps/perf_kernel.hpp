// quasi-perf --baseline kernel: the same tests over Linux kernel sockets across a veth
// pair between two network namespaces this process creates (198.18.0.1 and .2/24).
// The namespaces are anonymous (unshare), held only by this process's file
// descriptors: when the process ends, however it ends, the kernel frees them and the
// veth pair with them, so nothing outlives a run. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
#pragma once

#include "apps/perf_run.hpp"

#include <memory>
#include <string>

namespace quasi::perf {

class KernelPair {
public:
    // nullptr and `error` set when the namespaces or the veth pair cannot be made.
    static std::unique_ptr<KernelPair> create(std::string& error);
    ~KernelPair();
    KernelPair(const KernelPair&) = delete;
    KernelPair& operator=(const KernelPair&) = delete;

    // Path kernel: segmentation offloads on (GSO/GRO up to 64 KiB); kernel_capped: capped
    // to 1500-byte segments, the per-segment comparison for a stack without offloads.
    RunResult run(const RunSpec& spec, const Progress& progress);

private:
    KernelPair() = default;
    bool set_offloads(bool capped, std::string& error);

    int ns_a_ = -1, ns_b_ = -1;  // sender side (198.18.0.1), receiver side (198.18.0.2)
    int offloads_capped_ = -1;   // unknown, 0 on, 1 capped
};

}  // namespace quasi::perf
