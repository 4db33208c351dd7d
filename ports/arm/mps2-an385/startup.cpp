// Reset and the vector table for mps2-an385 (Cortex-M3, ARMv7-M ARM B1.5): the
// table sits at address 0 (the linker script's .vectors), its first word is the
// initial stack pointer. reset_handler copies .data from where the image stores it,
// zeroes .bss, runs the C++ constructors and calls main(); main's return value
// becomes QEMU's exit status through semihosting.
#include "ports/arm/mps2-an385/board.hpp"

#include <array>
#include <cstdint>
#include <cstring>

extern "C" {
extern uint32_t __stack_top;
extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end;
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
int main();
void reset_handler();
void fault_handler();
void default_handler();
void systick_handler();
}

// The image is one module: destructors of function-local statics register against
// this handle (they never run: the firmware ends through semihosting).
extern "C" {
void* __dso_handle = nullptr;
}

namespace {

using Handler = void (*)();
constexpr size_t kExternalIrqs = 32;

struct VectorTable {
    void* initial_sp;
    Handler core[15];  // reset .. SysTick
    std::array<Handler, kExternalIrqs> external;
};

// No external interrupt has a handler: the Ethernet line only ends a WFI
// (board::wait_for_event) and is disabled before interrupts are unmasked.
constexpr std::array<Handler, kExternalIrqs> unexpected_irqs() {
    std::array<Handler, kExternalIrqs> table{};
    for (Handler& h : table) h = default_handler;
    return table;
}

}  // namespace

__attribute__((section(".vectors"), used)) const VectorTable vector_table = {
    &__stack_top,
    {
        reset_handler,    // reset
        default_handler,  // NMI
        fault_handler,    // HardFault
        fault_handler,    // MemManage
        fault_handler,    // BusFault
        fault_handler,    // UsageFault
        nullptr, nullptr, nullptr, nullptr,
        default_handler,  // SVCall
        default_handler,  // DebugMonitor
        nullptr,
        default_handler,  // PendSV
        systick_handler,  // SysTick
    },
    unexpected_irqs(),
};

extern "C" void reset_handler() {
    std::memcpy(&__data_start, &__data_load,
                static_cast<size_t>(reinterpret_cast<char*>(&__data_end) - reinterpret_cast<char*>(&__data_start)));
    std::memset(&__bss_start, 0,
                static_cast<size_t>(reinterpret_cast<char*>(&__bss_end) - reinterpret_cast<char*>(&__bss_start)));
    for (void (**ctor)() = __init_array_start; ctor != __init_array_end; ++ctor) (*ctor)();
    quasi::board::semihosting_exit(main());
}

extern "C" void default_handler() {
    quasi::board::console_put("\nquasi-board: unexpected interrupt\n");
    quasi::board::semihosting_exit(3);
}

// Reports the fault status registers (ARMv7-M B3.2.15-B3.2.18) and the faulting PC
// from the exception frame, then stops QEMU with status 3.
extern "C" void fault_report(const uint32_t* frame) {
    using quasi::board::console_put;
    using quasi::board::console_put_u64;
    console_put("\nquasi-board: fault: CFSR ");
    console_put_u64(*reinterpret_cast<volatile uint32_t*>(0xE000ED28));
    console_put(" HFSR ");
    console_put_u64(*reinterpret_cast<volatile uint32_t*>(0xE000ED2C));
    console_put(" BFAR ");
    console_put_u64(*reinterpret_cast<volatile uint32_t*>(0xE000ED38));
    console_put(" PC ");
    console_put_u64(frame[6]);
    console_put(" LR ");
    console_put_u64(frame[5]);
    console_put("\n");
    quasi::board::semihosting_exit(3);
}

extern "C" __attribute__((naked)) void fault_handler() {
    asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b fault_report\n");
}
