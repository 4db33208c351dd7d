// quasi-perf --link tap: quasi on a tap device, the Linux kernel's sockets as its peer.
//
// quasi-perf makes an anonymous network namespace (as --baseline kernel does: held only
// by a descriptor of this process) and creates the tap inside it. The kernel's side of
// the tap is 198.18.0.2/24 there, with IPv6 off so the kernel sends nothing unasked;
// quasi's stack runs in this process on the tap's descriptor as 198.18.0.1/24. The
// kernel's end of each run (kernel_far_end: a stream receiver, a TCP_MAERTS sender, an
// RR or CRR responder) runs on a thread inside the namespace and counts what it got,
// so the sender's count is checked against the receiver's. The tap is not persistent:
// it goes with its descriptor, and the namespace with its last reference, so whether
// quasi-perf returns, fails or dies on a signal, nothing it made outlives it. Needs
// root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
//
// quasi-perf --link af_packet: the same, but quasi's device is DPDK's net_af_packet on
// a veth pair made in that namespace: the kernel's end qperf0 (198.18.0.2/24, sending
// finished frames: no TSO/GSO, software checksums), quasi's end qperf0q without an
// address. EAL starts on a thread inside the namespace, because the PMD's packet
// sockets bind to the interface in the namespace they are made in.
#pragma once

#include "apps/perf_run.hpp"
#include "ports/x86/steady_clock.hpp"
#include "ports/x86/tap.hpp"

#include <memory>
#include <string>
#include <vector>

namespace quasi::app {
class DpdkLink;
}

namespace quasi::perf {

class TapPeer {
public:
    // nullptr and `error` set when not root, or the namespace or the tap cannot be made.
    static std::unique_ptr<TapPeer> create(std::string& error);
    // --link af_packet: EAL's arguments (the vdev is added); nullptr and `error` set as
    // above, or when EAL or the port cannot start (or quasi was built without DPDK).
    static std::unique_ptr<TapPeer> create_af_packet(const std::vector<std::string>& eal_args, std::string& error);
    ~TapPeer();
    TapPeer(const TapPeer&) = delete;
    TapPeer& operator=(const TapPeer&) = delete;

    // One run: a fresh quasi stack on the tap (path generic or specialized), the kernel's
    // end on a thread in the namespace; both ends' counts in the result.
    RunResult run(const RunSpec& spec, const Progress& progress);

    const char* tap_name() const { return dpdk_ ? "qperf0q (net_af_packet)" : tap_->name(); }
    const char* description() const {
        return dpdk_ ? "quasi on DPDK's net_af_packet over a veth, the kernel's sockets as the peer"
                     : "quasi on a tap, the kernel's sockets as the peer";
    }
    // The namespace as /proc/PID/ns/net links name it ("net:[INODE]"), for checks that
    // it is gone once quasi-perf is.
    const std::string& netns_id() const { return netns_id_; }

private:
    TapPeer() = default;
    bool open_namespace(std::string& error);
    bool set_up(std::string& error);
    bool set_up_af_packet(const std::vector<std::string>& eal_args, std::string& error);

    int ns_ = -1;
    std::string netns_id_;
    SteadyClock clock_;
    std::unique_ptr<BufferPool> own_pool_;  // the tap's
    std::unique_ptr<TapNetif> tap_;
    std::unique_ptr<app::DpdkLink> dpdk_;  // af_packet: EAL and the port
    BufferPool* pool_ = nullptr;           // the device's buffers
    Netif* device_ = nullptr;
};

}  // namespace quasi::perf
