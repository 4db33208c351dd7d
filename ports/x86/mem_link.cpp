#include "ports/x86/mem_link.hpp"

namespace quasi {

MemLink::MemLink() : MemLink(Config{}) {}

MemLink::MemLink(const Config& config)
    : a_("memA", config.mac_a, config.mtu, config.queue_frames),
      b_("memB", config.mac_b, config.mtu, config.queue_frames) {
    a_.peer_ = &b_;
    b_.peer_ = &a_;
}

size_t MemLink::Endpoint::rx_burst(std::span<PacketPtr> out) {
    size_t n = 0;
    while (n < out.size() && !inbox_.empty()) out[n++] = inbox_.pop_front();
    rx_frames_ += n;
    return n;
}

size_t MemLink::Endpoint::tx_burst(std::span<PacketPtr> frames) {
    size_t n = 0;
    for (; n < frames.size(); ++n) {
        // A frame longer than the link carries would be dropped by a real NIC;
        // refusing it leaves the drop (and its count) to the sender's stack.
        if (frames[n]->chain_length() > max_frame_length()) {
            ++tx_oversize_;
            break;
        }
        if (peer_->inbox_.size() >= queue_frames_) {
            ++tx_full_events_;
            break;
        }
        peer_->inbox_.push_back(std::move(frames[n]));
    }
    tx_frames_ += n;
    return n;
}

}  // namespace quasi
