#include "ports/arm/mps2-an385/board.hpp"

#include <cstring>

namespace quasi::board {

namespace {

template <class T = uint32_t>
volatile T& reg(uintptr_t address) {
    return *reinterpret_cast<volatile T*>(address);
}

// CMSDK APB UART (ARM DDI 0479C, 4.3).
constexpr uintptr_t kUart0 = 0x40004000;
constexpr uintptr_t kUartData = kUart0 + 0x00;
constexpr uintptr_t kUartState = kUart0 + 0x04;  // bit 0 TX full, bit 1 RX full
constexpr uintptr_t kUartCtrl = kUart0 + 0x08;   // bit 0 TX enable, bit 1 RX enable
constexpr uintptr_t kUartBaudDiv = kUart0 + 0x10;

// SysTick and NVIC (ARMv7-M ARM, B3.3 and B3.4).
constexpr uintptr_t kSysTickCtrl = 0xE000E010;  // bit 0 enable, 1 interrupt, 2 processor clock
constexpr uintptr_t kSysTickReload = 0xE000E014;
constexpr uintptr_t kSysTickValue = 0xE000E018;
constexpr uint32_t kTicksPerMs = kCpuHz / 1000;
constexpr uint32_t kNsPerTick = 1'000'000'000 / kCpuHz;  // 40
constexpr uintptr_t kIcsr = 0xE000ED04;  // Interrupt Control and State (B3.2.4)
constexpr uint32_t kIcsrPendStSet = 1u << 26;  // the SysTick exception is pending
constexpr uintptr_t kNvicEnable = 0xE000E100;
constexpr uintptr_t kNvicDisable = 0xE000E180;
constexpr uintptr_t kNvicClearPending = 0xE000E280;
constexpr uint32_t kEthernetIrq = 13;  // mps2-an385's LAN9118 line

// Semihosting operations (ARM "Semihosting for AArch32 and AArch64", 5).
constexpr uint32_t kSysGetCmdline = 0x15;
constexpr uint32_t kSysExitExtended = 0x20;
constexpr uint32_t kAdpStoppedApplicationExit = 0x20026;

volatile uint32_t g_milliseconds = 0;

uint32_t semihosting_call(uint32_t op, const void* arg) {
    register uint32_t r0 asm("r0") = op;
    register const void* r1 asm("r1") = arg;
    asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

}  // namespace

// ---- console ----

void console_init() {
    reg(kUartBaudDiv) = 217;  // 25 MHz / 115200; QEMU ignores the rate
    reg(kUartCtrl) = 0x3;
}

void console_write(const char* text, size_t len) {
    for (size_t i = 0; i < len; ++i) {
        if (text[i] == '\n') {
            while (reg(kUartState) & 1) {
            }
            reg(kUartData) = '\r';
        }
        while (reg(kUartState) & 1) {
        }
        reg(kUartData) = static_cast<uint8_t>(text[i]);
    }
}

void console_put(const char* text) {
    console_write(text, std::strlen(text));
}

size_t format_decimal(uint64_t value, char* out) {
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    return n;
}

void console_put_u64(uint64_t value) {
    char out[20];
    console_write(out, format_decimal(value, out));
}

int console_read() {
    if ((reg(kUartState) & 2) == 0) return -1;
    return static_cast<int>(reg(kUartData) & 0xFF);
}

// ---- SysTick clock ----

void SysTickClock::start() {
    g_milliseconds = 0;
    time_ = {};
    reg(kSysTickReload) = kTicksPerMs - 1;
    reg(kSysTickValue) = 0;
    reg(kSysTickCtrl) = 0x7;
}

TimeNs SysTickClock::now() const {
    // One consistent reading (systick_time.hpp): the count unchanged across it, and
    // the pending bit the same before and after the counter, so the counter is known
    // to be from before the reload (not pending) or after it (pending).
    uint32_t ms;
    uint32_t value;
    bool pending;
    bool pending_after;
    do {
        ms = g_milliseconds;
        pending = (reg(kIcsr) & kIcsrPendStSet) != 0;
        value = reg(kSysTickValue);
        pending_after = (reg(kIcsr) & kIcsrPendStSet) != 0;
    } while (ms != g_milliseconds || pending != pending_after);
    return time_.compose(ms, pending, value);
}

// ---- semihosting ----

void semihosting_exit(int code) {
    const uint32_t block[2] = {kAdpStoppedApplicationExit, static_cast<uint32_t>(code)};
    for (;;) semihosting_call(kSysExitExtended, block);
}

bool semihosting_cmdline(char* buf, size_t len) {
    struct {
        char* buf;
        uint32_t len;
    } block{buf, static_cast<uint32_t>(len)};
    if (len == 0) return false;
    buf[0] = '\0';
    return semihosting_call(kSysGetCmdline, &block) == 0 && buf[0] != '\0';
}

// ---- waiting ----

void wait_for_event(Lan9118& nic) {
    asm volatile("cpsid i" ::: "memory");
    nic.arm_rx_wakeup();
    reg(kNvicClearPending) = 1u << kEthernetIrq;
    reg(kNvicEnable) = 1u << kEthernetIrq;
    if (!nic.rx_waiting()) asm volatile("wfi" ::: "memory");
    // The line only ends the WFI: disabled again before interrupts are unmasked, so
    // no handler runs for it; a pending SysTick is taken at the cpsie.
    reg(kNvicDisable) = 1u << kEthernetIrq;
    reg(kNvicClearPending) = 1u << kEthernetIrq;
    asm volatile("cpsie i" ::: "memory");
}

}  // namespace quasi::board

// ---- interrupt handlers (named in the vector table, startup.cpp) ----

extern "C" void systick_handler() {
    quasi::board::g_milliseconds = quasi::board::g_milliseconds + 1;
}
