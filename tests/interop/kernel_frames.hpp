// Frames for the kernel's side of an interop test to send (tests/interop/
// quasi_guards_client.cpp): a packet socket bound to one of the kernel's devices in
// the test's namespace, and the two frames the guards test has the kernel send.
#pragma once

#include "stack/wire/arp.hpp"
#include "stack/wire/checksum.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"

#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace quasi::test {

// Frames the kernel's own devices send: written on a packet socket bound to a device
// of the test's namespace, they leave through its tap towards quasi as anything the
// kernel sends would.
class KernelDevice {
public:
    explicit KernelDevice(const std::string& name) : name_(name) {
        ifindex_ = if_nametoindex(name.c_str());
        fd_ = ::socket(AF_PACKET, SOCK_RAW, 0);
        ifreq r{};
        std::snprintf(r.ifr_name, sizeof r.ifr_name, "%s", name.c_str());
        ok_ = ifindex_ != 0 && fd_ >= 0 && ioctl(fd_, SIOCGIFHWADDR, &r) == 0;
        if (ok_) std::memcpy(mac_.bytes.data(), r.ifr_hwaddr.sa_data, 6);
    }
    ~KernelDevice() {
        if (fd_ >= 0) ::close(fd_);
    }
    KernelDevice(const KernelDevice&) = delete;
    KernelDevice& operator=(const KernelDevice&) = delete;
    bool ok() const { return ok_; }
    const MacAddr& mac() const { return mac_; }
    // Takes the device down (SIOCSIFFLAGS): the kernel drops frames sent to its MAC.
    bool set_down() const {
        ifreq r{};
        std::snprintf(r.ifr_name, sizeof r.ifr_name, "%s", name_.c_str());
        if (ioctl(fd_, SIOCGIFFLAGS, &r) != 0) return false;
        r.ifr_flags = static_cast<short>(r.ifr_flags & ~IFF_UP);
        return ioctl(fd_, SIOCSIFFLAGS, &r) == 0;
    }
    bool send(const uint8_t* frame, size_t len) const {
        sockaddr_ll to{};
        to.sll_family = AF_PACKET;
        to.sll_ifindex = int(ifindex_);
        to.sll_halen = 6;
        std::memcpy(to.sll_addr, frame, 6);
        return ::sendto(fd_, frame, len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == ssize_t(len);
    }

private:
    std::string name_;
    unsigned ifindex_ = 0;
    int fd_ = -1;
    bool ok_ = false;
    MacAddr mac_{};
};

// RFC 5227 3: an announcement, an ARP request whose sender and target are the address.
inline std::vector<uint8_t> gratuitous_arp(const MacAddr& mac, Ipv4Addr addr) {
    std::vector<uint8_t> f(kEthernetHeaderLen + kArpLen);
    EthernetRepr{MacAddr::broadcast(), mac, uint16_t(EtherType::arp)}.emit(f.data());
    ArpRepr{ArpOp::request, mac, addr, MacAddr{}, addr}.emit(f.data() + kEthernetHeaderLen);
    return f;
}

struct Quoted {
    Ipv4Addr src, dst;
    uint8_t protocol = 0;
    std::array<uint8_t, 8> transport{};
};

// RFC 1191: "fragmentation needed" from router `from` to host `to`, quoting the IPv4
// header and the first 8 transport bytes of a datagram the host sent.
inline std::vector<uint8_t> icmp_frag_needed(const MacAddr& dst_mac, const MacAddr& src_mac, Ipv4Addr from, Ipv4Addr to,
                                             const Quoted& q, uint16_t mtu) {
    constexpr size_t kIcmpLen = 8 + kIpv4MinHeaderLen + 8;
    std::vector<uint8_t> f(kEthernetHeaderLen + kIpv4MinHeaderLen + kIcmpLen);
    uint8_t* p = f.data();
    EthernetRepr{dst_mac, src_mac, uint16_t(EtherType::ipv4)}.emit(p);
    Ipv4Repr{.src = from, .dst = to, .protocol = uint8_t(IpProtocol::icmp), .ttl = 64, .payload_len = kIcmpLen}.emit(
        p + kEthernetHeaderLen);
    uint8_t* icmp = p + kEthernetHeaderLen + kIpv4MinHeaderLen;
    icmp[0] = uint8_t(IcmpType::dest_unreachable);
    icmp[1] = uint8_t(IcmpUnreachCode::frag_needed);
    store_be16(icmp + 6, mtu);
    Ipv4Repr{.src = q.src, .dst = q.dst, .protocol = q.protocol, .ttl = 64, .dont_fragment = true, .payload_len = 1448}
        .emit(icmp + 8);
    std::memcpy(icmp + 8 + kIpv4MinHeaderLen, q.transport.data(), 8);
    store_be16(icmp + 2, internet_checksum({icmp, kIcmpLen}));
    return f;
}

}  // namespace quasi::test
