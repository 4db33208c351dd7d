#include "ports/arm/mps2-an385/lan9118.hpp"

#include <cstring>

namespace quasi::board {

namespace {

// System control and status registers (datasheet 5.3), byte offsets from the base.
constexpr uint32_t kRxDataFifo = 0x00;
constexpr uint32_t kTxDataFifo = 0x20;
constexpr uint32_t kRxStatusFifo = 0x40;
constexpr uint32_t kTxStatusFifo = 0x48;
constexpr uint32_t kIdRev = 0x50;
constexpr uint32_t kIrqCfg = 0x54;
constexpr uint32_t kIntSts = 0x58;
constexpr uint32_t kIntEn = 0x5C;
constexpr uint32_t kFifoInt = 0x68;
constexpr uint32_t kByteTest = 0x64;
constexpr uint32_t kRxCfg = 0x6C;
constexpr uint32_t kTxCfg = 0x70;
constexpr uint32_t kHwCfg = 0x74;
constexpr uint32_t kRxFifoInf = 0x7C;
constexpr uint32_t kTxFifoInf = 0x80;
constexpr uint32_t kPmtCtrl = 0x84;
constexpr uint32_t kFreeRun = 0x9C;
constexpr uint32_t kRxDrop = 0xA0;
constexpr uint32_t kMacCsrCmd = 0xA4;
constexpr uint32_t kMacCsrData = 0xA8;

constexpr uint32_t kByteTestValue = 0x87654321;  // reads so in either bus byte order when wired right
constexpr uint32_t kHwCfgSoftReset = 1u << 0;
constexpr uint32_t kPmtCtrlReady = 1u << 0;
constexpr uint32_t kTxCfgTxOn = 1u << 1;
constexpr uint32_t kTxCfgDumpStatus = 1u << 15;
constexpr uint32_t kRxCfgDump = 1u << 15;
constexpr uint32_t kIrqCfgPushPull = 1u << 0;
constexpr uint32_t kIrqCfgActiveHigh = 1u << 4;
constexpr uint32_t kIrqCfgEnable = 1u << 8;
constexpr uint32_t kIntRxStatusLevel = 1u << 3;  // RSFL: more RX status words than FIFO_INT's level

// MAC CSRs, reached through MAC_CSR_CMD (datasheet 5.4).
constexpr uint32_t kCsrBusy = 1u << 31;
constexpr uint32_t kCsrRead = 1u << 30;
constexpr uint8_t kMacCr = 1;
constexpr uint8_t kMacAddrH = 2;
constexpr uint8_t kMacAddrL = 3;
constexpr uint8_t kMiiAcc = 6;
constexpr uint8_t kMiiData = 7;
constexpr uint32_t kMacCrRxEnable = 1u << 2;
constexpr uint32_t kMacCrTxEnable = 1u << 3;
constexpr uint32_t kMacCrFullDuplex = 1u << 20;
constexpr uint32_t kMiiBusy = 1u << 0;
constexpr uint8_t kPhyAddress = 1;  // the internal PHY
constexpr uint8_t kPhyBasicStatus = 1;
constexpr uint16_t kPhyLinkUp = 1u << 2;

// TX command words (datasheet 3.12.2): A carries the buffer, B the whole frame.
constexpr uint32_t kTxCmdAFirstSegment = 1u << 13;
constexpr uint32_t kTxCmdALastSegment = 1u << 12;
constexpr uint32_t kTxStatusError = 1u << 15;

// RX status word (datasheet 3.13.3).
constexpr uint32_t kRxStatusError = 1u << 15;  // CRC, runt, too long, late collision, MII error
constexpr uint32_t rx_status_length(uint32_t status) {
    return (status >> 16) & 0x3FFF;
}
// Status words waiting in RX_FIFO_INF / TX_FIFO_INF.
constexpr uint32_t fifo_words(uint32_t inf) {
    return (inf >> 16) & 0xFF;
}

constexpr uint32_t kFcsLength = 4;
constexpr uint32_t kMaxFrame = 1518;  // 1514 and an 802.1Q tag
constexpr int kSpinLimit = 100000;    // register polls before a wait counts as failed

}  // namespace

uint32_t Lan9118::read(uint32_t offset) const {
    return *reinterpret_cast<volatile const uint32_t*>(base_ + offset);
}

void Lan9118::write(uint32_t offset, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(base_ + offset) = value;
}

bool Lan9118::mac_csr_wait() {
    for (int i = 0; i < kSpinLimit; ++i)
        if ((read(kMacCsrCmd) & kCsrBusy) == 0) return true;
    return false;
}

uint32_t Lan9118::mac_csr_read(uint8_t index) {
    mac_csr_wait();
    write(kMacCsrCmd, kCsrBusy | kCsrRead | index);
    mac_csr_wait();
    return read(kMacCsrData);
}

void Lan9118::mac_csr_write(uint8_t index, uint32_t value) {
    mac_csr_wait();
    write(kMacCsrData, value);
    write(kMacCsrCmd, kCsrBusy | index);
    mac_csr_wait();
}

uint16_t Lan9118::phy_read(uint8_t reg) {
    mac_csr_write(kMiiAcc, uint32_t{kPhyAddress} << 11 | uint32_t{reg} << 6);
    for (int i = 0; i < kSpinLimit && (mac_csr_read(kMiiAcc) & kMiiBusy); ++i) {
    }
    return static_cast<uint16_t>(mac_csr_read(kMiiData));
}

bool Lan9118::init() {
    if (read(kByteTest) != kByteTestValue) return false;
    chip_id_ = read(kIdRev);
    if ((chip_id_ >> 16) != 0x0118) return false;

    write(kHwCfg, kHwCfgSoftReset);
    bool reset_done = false;
    for (int i = 0; i < kSpinLimit && !reset_done; ++i)
        reset_done = (read(kHwCfg) & kHwCfgSoftReset) == 0 && (read(kPmtCtrl) & kPmtCtrlReady) != 0;
    if (!reset_done) return false;

    // Polled; the RX status level interrupt (level 0: any frame) only wakes the core.
    write(kFifoInt, read(kFifoInt) & ~0xFFu);
    write(kIrqCfg, kIrqCfgEnable | kIrqCfgActiveHigh | kIrqCfgPushPull);
    write(kIntEn, kIntRxStatusLevel);
    write(kRxCfg, kRxCfgDump);  // empty FIFOs, frame data from offset 0, no end padding
    write(kTxCfg, kTxCfgDumpStatus | kTxCfgTxOn);

    // The chip loaded its address from the EEPROM at reset (QEMU: -nic ...,mac=).
    const uint32_t low = mac_csr_read(kMacAddrL);
    const uint32_t high = mac_csr_read(kMacAddrH);
    for (int i = 0; i < 4; ++i) mac_.bytes[i] = static_cast<uint8_t>(low >> (8 * i));
    mac_.bytes[4] = static_cast<uint8_t>(high);
    mac_.bytes[5] = static_cast<uint8_t>(high >> 8);

    // Reset leaves the MAC promiscuous: filter to our address and broadcast.
    mac_csr_write(kMacCr, kMacCrTxEnable | kMacCrRxEnable | kMacCrFullDuplex);
    return true;
}

uint32_t Lan9118::free_running() const {
    return read(kFreeRun);
}

bool Lan9118::rx_waiting() const {
    return fifo_words(read(kRxFifoInf)) > 0;
}

void Lan9118::arm_rx_wakeup() {
    write(kIntSts, kIntRxStatusLevel);
}

bool Lan9118::link_up() {
    return (phy_read(kPhyBasicStatus) & kPhyLinkUp) != 0;
}

void Lan9118::skip_rx_frame(uint32_t words) {
    // Reading is the portable way to drop: fast-forward (RX_DP_CTRL) needs at least
    // four words and a wait on the chip; frames are short and the bus is fast.
    for (uint32_t i = 0; i < words; ++i) (void)read(kRxDataFifo);
}

size_t Lan9118::rx_burst(std::span<PacketPtr> out) {
    size_t n = 0;
    stats_.rx_fifo_dropped += read(kRxDrop);  // clears on read
    while (n < out.size() && fifo_words(read(kRxFifoInf)) > 0) {
        PacketPtr frame = pool_.alloc();
        if (!frame) {
            ++stats_.rx_no_buffer;  // the frame waits in the FIFO for the next burst
            break;
        }
        const uint32_t status = read(kRxStatusFifo);
        const uint32_t length = rx_status_length(status);  // includes the FCS
        const uint32_t words = (length + 3) / 4;
        if (status & kRxStatusError) {
            ++stats_.rx_errors;
            skip_rx_frame(words);
            continue;
        }
        if (length < 14 + kFcsLength || length - kFcsLength > frame->tailroom()) {
            ++stats_.rx_bad_length;
            skip_rx_frame(words);
            continue;
        }
        const uint32_t frame_length = length - kFcsLength;
        uint8_t* dst = frame->append(frame_length);
        // FIFO words hold the bytes in order, little-endian; the FCS (and padding)
        // arrives in the last words and is not kept.
        uint32_t copied = 0;
        for (uint32_t i = 0; i < words; ++i) {
            const uint32_t word = read(kRxDataFifo);
            if (copied < frame_length) {
                const uint32_t take = frame_length - copied < 4 ? frame_length - copied : 4;
                std::memcpy(dst + copied, &word, take);
                copied += take;
            }
        }
        ++stats_.rx_frames;
        stats_.rx_bytes += frame_length;
        out[n++] = std::move(frame);
    }
    return n;
}

void Lan9118::reap_tx_status() {
    for (uint32_t waiting = fifo_words(read(kTxFifoInf)); waiting > 0; --waiting)
        if (read(kTxStatusFifo) & kTxStatusError) ++stats_.tx_errors;
}

// A one-segment frame, the common case: whole words only. With 3 bytes of tailroom the
// last word is read whole, past the frame's end (the chip takes the length command B
// gives and drops the rest of the last word, datasheet 3.12.2); else its bytes are
// gathered. Four words a turn, counted down by pointer: a turn per word cost 7
// instructions, most of them the loop's own (QEMU's count for a 64-byte datagram).
// (Four named words: an array goes through the stack at -Os.)
void Lan9118::write_tx_words(const uint8_t* p, uint32_t length, bool may_read_past) {
    volatile uint32_t* fifo = reinterpret_cast<volatile uint32_t*>(base_ + kTxDataFifo);
    const uint8_t* end = p + (may_read_past ? (length + 3) & ~3u : length & ~3u);
    for (; end - p >= 16; p += 16) {
        uint32_t w0, w1, w2, w3;
        std::memcpy(&w0, p, 4);  // Cortex-M3 loads unaligned words
        std::memcpy(&w1, p + 4, 4);
        std::memcpy(&w2, p + 8, 4);
        std::memcpy(&w3, p + 12, 4);
        *fifo = w0;
        *fifo = w1;
        *fifo = w2;
        *fifo = w3;
    }
    for (; p < end; p += 4) {
        uint32_t w;
        std::memcpy(&w, p, 4);
        *fifo = w;
    }
    if (may_read_past || (length & 3) == 0) return;
    uint32_t word = 0;
    for (uint32_t i = 0; i < (length & 3); ++i) word |= uint32_t{p[i]} << (8 * i);
    *fifo = word;
}

// A chained frame: its segments' bytes as one little-endian word stream (segments need
// not end on a word boundary).
void Lan9118::write_tx_chain(const PacketBuffer& frame) {
    uint32_t word = 0;
    uint32_t filled = 0;
    for (const PacketBuffer* s = &frame; s; s = s->next_segment) {
        const uint8_t* p = s->data();
        for (uint32_t i = 0; i < s->length; ++i) {
            word |= uint32_t{p[i]} << (8 * filled);
            if (++filled == 4) {
                write(kTxDataFifo, word);
                word = 0;
                filled = 0;
            }
        }
    }
    if (filled) write(kTxDataFifo, word);
}

size_t Lan9118::tx_burst(std::span<PacketPtr> frames) {
    reap_tx_status();
    size_t n = 0;
    for (; n < frames.size(); ++n) {
        PacketBuffer& frame = *frames[n];
        const bool chained = frame.next_segment != nullptr;
        const uint32_t length = static_cast<uint32_t>(chained ? frame.chain_length() : frame.length);
        if (length > kMaxFrame) {
            ++stats_.tx_too_long;
            break;  // left to the caller, which counts and frees it
        }
        // TDFREE: bytes free in the TX data FIFO; the frame needs its words and the
        // two command words.
        const uint32_t need = (length + 3) / 4 * 4 + 8;
        if ((read(kTxFifoInf) & 0xFFFF) < need) {
            ++stats_.tx_fifo_full;
            break;
        }
        const uint32_t tag = ++tx_tag_;
        write(kTxDataFifo, kTxCmdAFirstSegment | kTxCmdALastSegment | length);
        write(kTxDataFifo, tag << 16 | length);
        if (chained)
            write_tx_chain(frame);
        else
            write_tx_words(frame.data(), length, frame.tailroom() >= 3);
        ++stats_.tx_frames;
        stats_.tx_bytes += length;
        frames[n].reset();
    }
    return n;
}

}  // namespace quasi::board
