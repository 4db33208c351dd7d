// Linux tap device backend (the role of lwIP's contrib/ports/unix/port/netif/tapif.c).
//
// The tap is opened through /dev/net/tun with IFF_TAP | IFF_NO_PI: each read() is
// one whole Ethernet frame without FCS and without the 4-byte packet-info prefix,
// each write() injects one frame into the kernel as if received on the wire. The
// fd is non-blocking so rx_burst/tx_burst never sleep; an application that wants
// to sleep polls fd() for POLLIN.
//
// The stack's MAC (Config::mac) is not the kernel's MAC for the tap interface: the
// kernel side is a separate host on the same Ethernet segment and has its own
// address, as with a veth pair. No vnet header is requested, so the kernel
// computes every checksum itself and no offloads are advertised.
//
// Opening needs CAP_NET_ADMIN, or a persistent tap created with `ip tuntap add ...
// user <uid>` by an administrator. The device lives in the network namespace of
// the opening process.
#pragma once

#include "stack/buffer.hpp"
#include "stack/netif.hpp"
#include "stack/wire/bytes.hpp"

#include <net/if.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace quasi {

class TapNetif final : public Netif {
public:
    enum class Mode : uint8_t {
        attach_or_create,  // TUNSETIFF's own behaviour
        attach_only,       // fail with ENODEV if the interface does not exist yet
        create_only,       // fail with EBUSY if it does (IFF_TUN_EXCL)
    };

    struct Config {
        MacAddr mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};  // locally administered
        uint16_t mtu = 1500;                                  // IP MTU the stack uses
        Mode mode = Mode::attach_or_create;
    };

    struct Counters {
        uint64_t rx_frames = 0;
        uint64_t rx_bytes = 0;
        uint64_t rx_oversize = 0;    // frame longer than a buffer's room: dropped
        uint64_t rx_no_buffer = 0;   // rx_burst stopped early: pool empty (frame stays in the kernel)
        uint64_t rx_errors = 0;      // read() failed with something other than EAGAIN
        uint64_t tx_frames = 0;
        uint64_t tx_bytes = 0;
        uint64_t tx_would_block = 0; // tx_burst cut short by EAGAIN / ENOBUFS
        uint64_t tx_oversize = 0;    // frame longer than mtu + 18: refused
        uint64_t tx_errors = 0;      // write() failed (EINVAL runt, EIO link down): dropped here
        int last_error = 0;          // errno of the latest rx/tx error
    };

    // Opens (and, depending on Config::mode, creates) the tap `ifname`; an empty name
    // lets the kernel choose "tapN" (see name()). On failure returns null and stores
    // an errno value in *error (if error is not null):
    //   EINVAL  name too long (IFNAMSIZ) or null, mtu 0, or ifname is a tun (not tap)
    //   ENOENT  /dev/net/tun missing (module tun not loaded)
    //   EPERM   no CAP_NET_ADMIN and the tap is not owned by this user
    //   ENODEV  attach_only and no such interface
    //   EBUSY   create_only and the interface exists, or another process holds it
    // A tap this call created is not persistent: it disappears with the last fd.
    static std::unique_ptr<TapNetif> open(const char* ifname, BufferPool& pool,
                                          const Config& config, int* error);
    // A one-line hint to print next to strerror(error) for the errors above.
    static const char* open_error_hint(int error);

    TapNetif(const TapNetif&) = delete;
    TapNetif& operator=(const TapNetif&) = delete;
    ~TapNetif() override;

    // Reads until EAGAIN, out.size() frames, or the pool runs dry; one buffer per frame.
    size_t rx_burst(std::span<PacketPtr> out) override;
    // write() per frame; stops at EAGAIN/ENOBUFS or at an oversize frame (both stay
    // with the caller). A frame write() rejects (or a chain of more than 16
    // segments) is consumed and counted in tx_errors.
    size_t tx_burst(std::span<PacketPtr> frames) override;
    MacAddr mac() const override { return mac_; }
    uint16_t mtu() const override { return mtu_; }
    // The interface name the kernel confirmed.
    const char* name() const override { return ifname_; }

    int fd() const { return fd_; }
    const Counters& counters() const { return counters_; }
    // mtu + 14 (Ethernet header) + 4 (one 802.1Q tag).
    size_t max_frame_length() const { return size_t{mtu_} + 18; }

    // Sets IFF_UP on the kernel side of the tap (SIOCSIFFLAGS, needs CAP_NET_ADMIN).
    // Scripts usually do this with `ip link set <if> up`. On failure stores errno.
    bool set_link_up(int* error);

private:
    TapNetif(int fd, const char* ifname, BufferPool& pool, const Config& config);
    int write_frame(const PacketBuffer& frame);

    int fd_;
    char ifname_[IFNAMSIZ];
    BufferPool& pool_;
    MacAddr mac_;
    uint16_t mtu_;
    Counters counters_;
};

}  // namespace quasi
