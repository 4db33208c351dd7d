# Shared by the board tests (source after interop_common.sh and qi_init): build the
# firmware, create the namespace and tap, boot the board with its UART on FIFOs.

# qb_build_firmware BOARD_BUILD: (re)builds it with scripts/board.sh; sets ELF.
qb_build_firmware() {
  qi_step "building the firmware in $1"
  qrun_bounded 400 "$QI_REPO/scripts/board.sh" build "$1" >"$QI_TMP/build.log" 2>&1 \
    || { tail -n 30 "$QI_TMP/build.log"; qi_die "firmware build failed"; }
  ELF="$1/ports/arm/mps2-an385/quasi-board-echo.elf"
}

# qb_netns TAP KERNEL_CIDR: a namespace (NS) with the tap at the kernel's address.
qb_netns() {
  qnetns_create board NS || qi_die "cannot create namespace"
  qnetns_tap "$NS" "$1" "$2" || qi_die "cannot create tap"
  qnetns_sysctl "$NS" net.ipv6.conf.all.disable_ipv6=1 >/dev/null
}

# qb_boot TAP BOARD_IP KERNEL_IP [board.sh run options...]: boots the firmware in QEMU
# inside NS, its UART a pipe chardev: the log in UART_LOG, input through fd 7 (held
# open so QEMU never sees EOF); QEMU_PID. Returns once the board says it is ready.
qb_boot() {
  local tap="$1" bip="$2" kip="$3"
  shift 3
  local con="$QI_TMP/console"
  mkfifo "$con.in" "$con.out" || qi_die "mkfifo failed"
  UART_LOG="$QI_TMP/uart.log"
  cat "$con.out" >"$UART_LOG" &
  exec 7<>"$con.in"
  qnetns_on_exit "exec 7>&-"
  ip netns exec "$NS" timeout --kill-after=5 170 "$QI_REPO/scripts/board.sh" run --tap "$tap" --ip "$bip/24" \
    --gw "$kip" --elf "$ELF" --console "pipe,path=$con" "$@" >"$QI_TMP/qemu.log" 2>&1 &
  QEMU_PID=$!
  qnetns_on_exit "kill $QEMU_PID 2>/dev/null"
  qwait_for "grep -q 'quasi-board: ready' '$UART_LOG' || ! kill -0 $QEMU_PID" 20 || qi_die "the firmware did not boot"
  kill -0 "$QEMU_PID" 2>/dev/null || { cat "$QI_TMP/qemu.log" "$UART_LOG"; qi_die "QEMU exited at boot"; }
  grep 'quasi-board:' "$UART_LOG"
  qi_wait_link_up "$NS" "$tap"
}
