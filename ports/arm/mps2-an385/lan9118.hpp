// SMSC LAN9118 Ethernet controller as a quasi::Netif, polled (no interrupts).
//
// The chip sits on the board's static memory bus (0x40200000 on mps2-an385) and is
// driven through 32-bit registers: frames go out by writing two command words and
// the frame's bytes as little-endian words to the TX data FIFO; received frames
// wait in the RX data FIFO, each announced by a status word in the RX status FIFO
// (SMSC LAN9118 datasheet, sections 3.12-3.13 and 5). The MAC's own registers
// (MAC_CR, ADDRH/ADDRL) are reached indirectly through MAC_CSR_CMD/MAC_CSR_DATA and
// the PHY's through the MAC's MII_ACC/MII_DATA.
//
// rx_burst copies each frame into a pool buffer (the FIFO is not memory the stack
// could point into); tx_burst copies each frame into the TX FIFO while it has room
// and leaves the rest with the caller, who counts them (tx_ring_full). Every frame
// the device refuses or reports bad is counted here, by reason.
#pragma once

#include "stack/buffer.hpp"
#include "stack/netif.hpp"
#include "stack/wire/bytes.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace quasi::board {

// X(name, description)
#define QUASI_LAN9118_COUNTERS(X)                                                         \
    X(rx_frames, "frames received")                                                       \
    X(rx_bytes, "bytes received (without FCS)")                                           \
    X(rx_errors, "frames the MAC flagged (CRC, runt, too long, collision, MII): dropped") \
    X(rx_bad_length, "status length below 14+4 or beyond a buffer: dropped")              \
    X(rx_no_buffer, "pool empty: frame left in the FIFO for the next burst")              \
    X(rx_fifo_dropped, "frames the chip dropped for lack of RX FIFO room (RX_DROP)")      \
    X(tx_frames, "frames sent")                                                           \
    X(tx_bytes, "bytes sent")                                                             \
    X(tx_fifo_full, "tx_burst stopped: TX FIFO lacks room (frames left to the caller)")   \
    X(tx_too_long, "frame longer than 1518 bytes or chained: refused")                    \
    X(tx_errors, "TX status words with the error summary bit (carrier, collisions, underrun)")

struct Lan9118Stats {
#define QUASI_FIELD(name, text) uint64_t name = 0;
    QUASI_LAN9118_COUNTERS(QUASI_FIELD)
#undef QUASI_FIELD
    // Calls f(name, description, value) for every counter, in declaration order.
    template <class F>
    void for_each(F&& f) const {
#define QUASI_VISIT(name, text) f(#name, text, name);
        QUASI_LAN9118_COUNTERS(QUASI_VISIT)
#undef QUASI_VISIT
    }
};

class Lan9118 final : public Netif {
public:
    static constexpr uintptr_t kMps2Base = 0x40200000;

    Lan9118(uintptr_t base, BufferPool& pool) : base_(base), pool_(pool) {}

    // Checks the chip answers (BYTE_TEST, ID_REV), soft-resets it, reads the MAC
    // address the chip loaded (its EEPROM; QEMU's -nic mac=), enables TX and RX.
    // False when no LAN9118 answers at base or the reset does not complete.
    bool init();
    // The PHY's link status (basic status register, bit 2).
    bool link_up();
    // Frames wait in the RX FIFO.
    bool rx_waiting() const;
    // The chip raises its interrupt line (mps2-an385: IRQ 13) when a frame arrives
    // after this call; board::wait_for_event uses it to wake from WFI.
    void arm_rx_wakeup();

    size_t rx_burst(std::span<PacketPtr> out) override;
    size_t tx_burst(std::span<PacketPtr> frames) override;
    MacAddr mac() const override { return mac_; }
    uint16_t mtu() const override { return 1500; }
    const char* name() const override { return "lan9118"; }

    const Lan9118Stats& stats() const { return stats_; }
    uint32_t chip_id() const { return chip_id_; }
    // FREE_RUN: a 25 MHz counter that starts at reset.
    uint32_t free_running() const;

private:
    uint32_t read(uint32_t offset) const;
    void write(uint32_t offset, uint32_t value);
    bool mac_csr_wait();
    uint32_t mac_csr_read(uint8_t index);
    void mac_csr_write(uint8_t index, uint32_t value);
    uint16_t phy_read(uint8_t reg);
    void skip_rx_frame(uint32_t words);
    void reap_tx_status();
    void write_tx_words(const uint8_t* p, uint32_t length, bool may_read_past);
    void write_tx_chain(const PacketBuffer& frame);

    uintptr_t base_;
    BufferPool& pool_;
    MacAddr mac_{};
    uint32_t chip_id_ = 0;
    uint16_t tx_tag_ = 0;
    Lan9118Stats stats_;
};

}  // namespace quasi::board
