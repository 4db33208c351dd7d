# Board mps2-an385: ARM's MPS2 FPGA image AN385 (Cortex-M3), as QEMU emulates it
# (qemu-system-arm -M mps2-an385): code SSRAM1 at 0x0 (4 MB), data SSRAM2/3 at
# 0x20000000 (4 MB), CMSDK UART0 at 0x40004000, LAN9118 at 0x40200000.
set(QUASI_BOARD_CPU_FLAGS -mcpu=cortex-m3 -mthumb -mfloat-abi=soft)
