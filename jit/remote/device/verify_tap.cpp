#include "jit/remote/device/verify_tap.hpp"

namespace quasi::remote {

size_t VerifyTap::tx_burst(std::span<PacketPtr> frames) {
    if (!capturing_) return inner_.tx_burst(frames);
    size_t n = 0;
    for (; n < frames.size() && count_ < kMaxCaptured; ++n) captured_[count_++] = std::move(frames[n]);
    return n;  // the rest stays with the Interface, which counts it (tx_ring_full)
}

size_t VerifyTap::take(std::array<PacketPtr, kMaxCaptured>& out) {
    size_t n = count_;
    for (size_t i = 0; i < n; ++i) out[i] = std::move(captured_[i]);
    count_ = 0;
    return n;
}

bool VerifyTap::forward(PacketPtr frame) {
    PacketPtr one[1] = {std::move(frame)};
    return inner_.tx_burst(one) == 1;
}

}  // namespace quasi::remote
