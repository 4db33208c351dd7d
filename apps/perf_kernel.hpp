// quasi-perf --baseline kernel: the same tests over Linux kernel sockets across a veth
// pair between two network namespaces this process creates (198.18.0.1 and .2/24).
// The namespaces are anonymous (unshare), held only by this process's file
// descriptors: when the process ends, however it ends, the kernel frees them and the
// veth pair with them, so nothing outlives a run. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
#pragma once

#include "apps/perf_run.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace quasi::perf {

// A new anonymous network namespace, held only by the returned descriptor (the calling
// thread stays in its own); -1 and `error` set on failure. Closing the last descriptor
// (or the process ending) frees it and every device in it.
int new_namespace(std::string& error);

// The kernel's end of a run, at 198.18.0.2:5002 in a namespace (--baseline kernel's
// far side, --link tap's peer): a stream receiver or TCP_MAERTS sender, an RR or CRR
// responder, on blocking Linux sockets. What it counts, read by the measuring thread.
struct FarCounts {
    std::atomic<uint64_t> msgs{0}, bytes{0}, sent_msgs{0}, sent_bytes{0};
    std::atomic<bool> ready{false}, stop{false}, failed{false}, done{false};
    void wait_ready() const {
        while (!ready && !failed) std::this_thread::yield();
    }
};
// The near end's counts plus what the far end counted so far.
Counters with_far(Counters c, const FarCounts& far);
// Runs the far end of `spec` in namespace `ns` on the calling thread (which it moves
// there) until `stop` (UDP, CRR), the near end's EOF (TCP) or a receive timeout; sets
// `done` when it returns. A UDP_RR far end answers 198.18.0.1:5002.
void kernel_far_end(int ns, const RunSpec& spec, FarCounts& far);

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
