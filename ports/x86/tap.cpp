#include "ports/x86/tap.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace quasi {
namespace {

// A chain longer than this is not worth a second code path: the stack builds
// frames from a header buffer and at most a few payload segments.
constexpr size_t kMaxTxSegments = 16;

void set_error(int* error, int value) {
    if (error) *error = value;
}

// Fills ifr_name; the caller has checked the length.
void copy_name(ifreq& ifr, const char* ifname) {
    std::memset(ifr.ifr_name, 0, sizeof ifr.ifr_name);
    std::memcpy(ifr.ifr_name, ifname, std::strlen(ifname));
}

}  // namespace

std::unique_ptr<TapNetif> TapNetif::open(const char* ifname, BufferPool& pool, const Config& config,
                                         int* error) {
    if (!ifname || std::strlen(ifname) >= IFNAMSIZ || config.mtu == 0) {
        set_error(error, EINVAL);
        return nullptr;
    }
    // TUNSETIFF silently creates a missing device; a caller that expects the tap a
    // script prepared (in a namespace) would rather hear that it is not there.
    if (config.mode == Mode::attach_only && (ifname[0] == '\0' || if_nametoindex(ifname) == 0)) {
        set_error(error, ENODEV);
        return nullptr;
    }
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        set_error(error, errno);
        return nullptr;
    }
    ifreq ifr{};
    copy_name(ifr, ifname);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (config.mode == Mode::create_only) ifr.ifr_flags |= IFF_TUN_EXCL;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int saved = errno;
        close(fd);
        set_error(error, saved);
        return nullptr;
    }
    set_error(error, 0);
    return std::unique_ptr<TapNetif>(new TapNetif(fd, ifr.ifr_name, pool, config));
}

const char* TapNetif::open_error_hint(int error) {
    switch (error) {
    case EINVAL: return "bad interface name or MTU, or the interface is a tun, not a tap";
    case ENOENT: return "/dev/net/tun is missing: load the tun module (modprobe tun)";
    case EPERM:
    case EACCES:
        return "needs CAP_NET_ADMIN, or a tap created with `ip tuntap add ... user <you>`";
    case ENODEV: return "no such interface: create it first (ip tuntap add dev <if> mode tap)";
    case EBUSY: return "interface already exists or is held by another process";
    default: return "opening the tap failed";
    }
}

TapNetif::TapNetif(int fd, const char* ifname, BufferPool& pool, const Config& config)
    : fd_(fd), pool_(pool), mac_(config.mac), mtu_(config.mtu) {
    std::memset(ifname_, 0, sizeof ifname_);
    std::memcpy(ifname_, ifname, strnlen(ifname, IFNAMSIZ - 1));
}

TapNetif::~TapNetif() { close(fd_); }

size_t TapNetif::rx_burst(std::span<PacketPtr> out) {
    size_t n = 0;
    PacketPtr buffer;
    while (n < out.size()) {
        if (!buffer) buffer = pool_.alloc();
        if (!buffer) {
            // Leave the frame queued in the kernel: it is read once buffers return.
            ++counters_.rx_no_buffer;
            break;
        }
        // One spare byte after the room tells an oversize frame apart from one that
        // exactly fills it, whether the kernel reports the full or the copied length.
        uint8_t spill = 0;
        const size_t room = buffer->tailroom();
        iovec iov[2] = {{buffer->data(), room}, {&spill, 1}};
        ssize_t got = readv(fd_, iov, 2);
        if (got < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                ++counters_.rx_errors;
                counters_.last_error = errno;
            }
            break;
        }
        if (got == 0) break;
        if (static_cast<size_t>(got) > room) {
            ++counters_.rx_oversize;  // buffer is reused for the next frame
            continue;
        }
        buffer->append(static_cast<size_t>(got));
        counters_.rx_bytes += static_cast<uint64_t>(got);
        out[n++].reset(buffer.release());  // leaves buffer empty for the next alloc
    }
    counters_.rx_frames += n;
    return n;
}

// Writes one frame; returns 0 or the errno value.
int TapNetif::write_frame(const PacketBuffer& frame) {
    iovec iov[kMaxTxSegments];
    size_t segments = 0;
    for (const PacketBuffer* s = &frame; s; s = s->next_segment) {
        if (segments == kMaxTxSegments) return EMSGSIZE;
        iov[segments++] = {const_cast<uint8_t*>(s->data()), s->length};
    }
    // A tap write is one frame, so a partial write cannot happen: either the
    // kernel takes the whole frame or it fails.
    return writev(fd_, iov, static_cast<int>(segments)) < 0 ? errno : 0;
}

size_t TapNetif::tx_burst(std::span<PacketPtr> frames) {
    size_t n = 0;
    for (; n < frames.size(); ++n) {
        const size_t length = frames[n]->chain_length();
        if (length > max_frame_length()) {
            ++counters_.tx_oversize;
            break;
        }
        int failure = write_frame(*frames[n]);
        if (failure == EAGAIN || failure == EWOULDBLOCK || failure == ENOBUFS) {
            ++counters_.tx_would_block;
            break;
        }
        if (failure != 0) {
            // The kernel refused this frame for what it is (EINVAL: shorter than an
            // Ethernet header) or cannot take any (EIO: the kernel side is down,
            // like a cable pulled). Handing it back would stall every frame behind
            // it and make the caller count a full ring; drop it here instead.
            ++counters_.tx_errors;
            counters_.last_error = failure;
        } else {
            ++counters_.tx_frames;
            counters_.tx_bytes += length;
        }
        frames[n].reset();
    }
    return n;
}

bool TapNetif::set_link_up(int* error) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        set_error(error, errno);
        return false;
    }
    ifreq ifr{};
    copy_name(ifr, ifname_);
    bool ok = ioctl(sock, SIOCGIFFLAGS, &ifr) == 0;
    if (ok && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        ok = ioctl(sock, SIOCSIFFLAGS, &ifr) == 0;
    }
    set_error(error, ok ? 0 : errno);
    close(sock);
    return ok;
}

}  // namespace quasi
