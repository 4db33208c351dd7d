// mps2-an385 board support: the CMSDK UART console, the SysTick clock, semihosting
// (exit status and boot arguments for tests), the Ethernet interrupt used only to
// wake the core from WFI, and the fault report. ports/arm/mps2-an385/README.md.
#pragma once

#include "ports/arm/mps2-an385/lan9118.hpp"
#include "ports/arm/mps2-an385/systick_time.hpp"
#include "stack/clock.hpp"

#include <cstddef>
#include <cstdint>

namespace quasi::board {

constexpr uint32_t kCpuHz = 25'000'000;  // QEMU's (and the FPGA image's) system clock

// --- console: CMSDK APB UART0 at 0x40004000, polled ---
void console_init();
void console_write(const char* text, size_t len);
void console_put(const char* text);
void console_put_u64(uint64_t value);
// Writes value in decimal to out (room for 20 characters, no NUL); returns its length.
size_t format_decimal(uint64_t value, char* out);
// A received byte, or -1 when none waits.
int console_read();

// --- time: SysTick at kCpuHz, interrupting once per millisecond ---
// Monotonic (systick_time.hpp); read from the main loop, not from handlers.
class SysTickClock final : public Clock {
public:
    // Starts SysTick; the clock reads 0 ns at this call.
    void start();
    TimeNs now() const override;
    // Readings that would have stepped back (systick_time.hpp).
    uint64_t held() const { return time_.held(); }

private:
    mutable SysTickTime<kCpuHz / 1000, 1'000'000'000 / kCpuHz> time_;
};

// --- semihosting (QEMU -semihosting-config enable=on) ---
// Ends the emulation with `code` as QEMU's exit status (SYS_EXIT_EXTENDED).
[[noreturn]] void semihosting_exit(int code);
// The boot arguments (QEMU -semihosting-config arg=...), space separated, NUL
// terminated in buf; false when there are none or semihosting is off.
bool semihosting_cmdline(char* buf, size_t len);

// --- waiting ---
// Sleeps in WFI until the NIC receives a frame or the next SysTick (1 ms; the console
// is looked at then). The NIC's interrupt only wakes the core, it runs no handler:
// the check for waiting frames happens with interrupts masked, so a frame arriving
// just before the WFI still ends it.
void wait_for_event(Lan9118& nic);

}  // namespace quasi::board
