#!/usr/bin/env bash
# scripts/board.sh: build and boot the bare-metal ARM firmware (ports/arm/README.md).
#
# Usage:
#   scripts/board.sh build [BUILD_DIR]
#       Installs the ARM toolchain and QEMU if missing (scripts/setup.sh board, needs
#       root then), configures BUILD_DIR (default build-board/) with
#       -DQUASI_BOARD=mps2-an385 and the arm-none-eabi toolchain file, and builds the
#       firmware quasi-board-echo.elf (prints its sizes) and the unit tests that run on
#       the board (tests/board/unit_on_board.sh).
#   scripts/board.sh run --tap NAME [--ip ADDR/LEN] [--gw ADDR] [--mac MAC]
#                        [--elf FILE] [--console SPEC] [--icount] [--arg K=V]...
#       Boots the firmware in qemu-system-arm -M mps2-an385 with its LAN9118 on tap
#       NAME (QEMU creates the tap when it does not exist; that needs root). The
#       address defaults to 198.18.0.2/24 via 198.18.0.1 and is passed at boot
#       (semihosting arguments), no rebuild. The UART is this terminal (press s for
#       statistics, q to stop; Ctrl-A x leaves QEMU) unless --console gives a QEMU
#       chardev, e.g. pipe,path=/tmp/board (then /tmp/board.in and .out must be FIFOs).
#       --icount runs the CPU at one instruction per virtual nanosecond (QEMU
#       -icount shift=0): the firmware's clock then counts instructions ('u').
#       --arg K=V adds a boot argument, e.g. the remote specialization server's
#       specd=A:PORT key=HEX device=N (ports/arm/README.md).
#       QEMU's exit status is the firmware's: 0 after q with a flat heap, 1 when the
#       heap audit failed, 2 when the NIC or the sockets did not come up, 3 on a fault.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BOARD=mps2-an385

die() {
  printf 'board.sh: error: %s\n' "$*" >&2
  exit 1
}
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

do_build() {
  local dir="${1:-$ROOT/build-board}"
  [[ "$dir" == /* ]] || dir="$PWD/$dir"
  if ! command -v arm-none-eabi-g++ >/dev/null || ! command -v qemu-system-arm >/dev/null \
    || [[ ! -e /usr/lib/arm-none-eabi/newlib/thumb/v7-m/nofp/libstdc++_nano.a ]]; then
    "$ROOT/scripts/setup.sh" board
  fi
  command -v cmake >/dev/null && command -v ninja >/dev/null || "$ROOT/scripts/setup.sh" core
  cmake -S "$ROOT" -B "$dir" -G Ninja -DQUASI_BOARD="$BOARD" -DQUASI_WERROR=ON \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/ports/arm/toolchain-arm-none-eabi.cmake" >/dev/null
  cmake --build "$dir" -j "${QUASI_JOBS:-$(nproc)}"
  echo "board.sh: firmware $dir/ports/arm/$BOARD/quasi-board-echo.elf (and the board's unit tests, board_*_test.elf)"
}

do_run() {
  local tap="" ip=198.18.0.2/24 gw="" mac=52:54:00:12:34:56 console="" icount=() extra=""
  local elf="$ROOT/build-board/ports/arm/$BOARD/quasi-board-echo.elf"
  while (($#)); do
    case "$1" in
      --tap) tap="${2:?--tap needs a name}"; shift 2 ;;
      --ip) ip="${2:?--ip needs ADDR/LEN}"; shift 2 ;;
      --gw) gw="${2:?--gw needs an address}"; shift 2 ;;
      --mac) mac="${2:?--mac needs a MAC}"; shift 2 ;;
      --elf) elf="${2:?--elf needs a file}"; shift 2 ;;
      --console) console="${2:?--console needs a chardev spec}"; shift 2 ;;
      --icount) icount=(-icount shift=0); shift ;;
      --arg)
        [[ "${2:-}" == *=* && "$2" != *,* ]] || die "--arg needs K=V without commas"
        extra+=",arg=$2"; shift 2 ;;
      *) usage >&2; die "unknown option '$1'" ;;
    esac
  done
  [[ -n "$tap" ]] || die "--tap NAME is required"
  [[ "$ip" == */* ]] || die "--ip must be ADDR/LEN, got '$ip'"
  [[ -f "$elf" ]] || die "no firmware at $elf: run scripts/board.sh build first"
  command -v qemu-system-arm >/dev/null || die "qemu-system-arm not found: scripts/setup.sh board"
  # The default gateway: the subnet's first address, as 198.18.0.1 for 198.18.0.2/24.
  if [[ -z "$gw" ]]; then
    gw="$(python3 -c 'import ipaddress,sys; n=ipaddress.ip_interface(sys.argv[1]).network; print(n.network_address+1)' "$ip")"
  fi
  local serial=(-serial mon:stdio)
  if [[ -n "$console" ]]; then
    serial=(-chardev "$console,id=console" -serial chardev:console)
  fi
  exec qemu-system-arm -M "$BOARD" -display none -monitor none "${serial[@]}" "${icount[@]}" \
    -semihosting-config "enable=on,target=native,arg=quasi-board-echo,arg=ip=$ip,arg=gw=$gw$extra" \
    -nic "tap,ifname=$tap,script=no,downscript=no,model=lan9118,mac=$mac" \
    -kernel "$elf"
}

case "${1:-}" in
  build) shift; do_build "$@" ;;
  run) shift; do_run "$@" ;;
  -h | --help) usage ;;
  *) usage >&2; exit 2 ;;
esac
