#!/usr/bin/env bash
# bench/remote_figures.sh [BUILD_DIR]: the remote specialization figures of the README
# ("Remote specialization server: quasi-specd"), as one Markdown table on stdout (the
# runs' own output goes to a log file named at the end). Root (taps in namespaces).
#
#   1. request to usable handle, cold (a fresh quasi-specd) and cached (median of 3),
#      over a tap, by the device's clock: an x86-64 device, the AArch64 build under
#      qemu-aarch64 when BUILD_DIR-aarch64 has it, and the Cortex-M3 board in QEMU
#      (tests/remote/remote_tap.sh, tests/board/board_remote.sh); TCP rows when the
#      device's RemoteClient has remote TCP handles;
#   2. code bytes per handle per target (build/tests/remote_link_test: UDP with a
#      64-byte message, TCP one full segment per message);
#   3. instructions per 64-byte UDP send on the board, generic against the remote
#      handle (QUASI_BOARD_ICOUNT=1: QEMU -icount shift=0, driver included);
#   4. devices at 100 requests/s: quasi-specd-load's N devices (a kernel TCP connection
#      each, 10% misses, hits from 16 warm contexts, 30 s, --cache-bytes 128 KiB so the
#      cache is full and evicting by mid-run) for N = 10, 100, 1000, 4000; the largest N
#      whose run holds (every request answered with code, the rate kept, every reply
#      within a device's 2 s request timeout, the daemon's VmRSS not growing by more
#      than 2 MB over the second half), with the load average during the sweep.
# Environment: QUASI_FIGURES_DEVICES="10 100" overrides the sweep, QUASI_FIGURES_SECONDS
# its length; QUASI_FIGURES_SKIP_BOARD=1 leaves the board out.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B="$(cd "${1:-$ROOT/build}" && pwd)"
A64="$B-aarch64"
DEVICES="${QUASI_FIGURES_DEVICES:-10 100 1000 4000}"
SECONDS_PER_RUN="${QUASI_FIGURES_SECONDS:-30}"
LOG="$(mktemp /tmp/quasi-remote-figures.XXXXXX.log)"
TMP="$(mktemp -d /tmp/quasi-remote-figures.XXXXXX)"
SPECD_PID=""
cleanup() {
  [[ -n "$SPECD_PID" ]] && kill "$SPECD_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
die() { echo "remote_figures.sh: $*" >&2; exit 1; }
[[ ${EUID} -eq 0 ]] || die "needs root (taps in network namespaces)"
for f in apps/quasi-specd apps/quasi-remote-client bench/quasi-specd-load tests/remote_link_test; do
  [[ -x "$B/$f" ]] || die "$B/$f is not built (cmake --build $B --target $(basename "$f"))"
done
say() { echo "remote_figures.sh: $*" >&2; }
# field KEY LINE: the value of KEY=VALUE in LINE.
field() { awk -v k="$1" '{ for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' <<<"$2"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "| figure | value |"
echo "|---|---|"

# ---- 1. latency over a tap, x86-64 and AArch64 devices ----
tap_rows() {  # tap_rows NAME BUILD [EMULATOR]
  local name="$1" build="$2" out udp tcp
  say "$name device over a tap (tests/remote/remote_tap.sh)"
  out="$(QUASI_EMULATOR="${3:-}" bash "$ROOT/tests/remote/remote_tap.sh" "$build" "$B/apps/quasi-specd" 2>&1)"
  echo "$out" >>"$LOG"
  grep -q 'all .* checks passed' <<<"$out" || { echo "| $name: remote_tap.sh failed (see $LOG) | |"; return; }
  udp="$(grep '^quasi_remote_client: udp:' <<<"$out" | tail -n 1)"
  echo "| UDP, $name device (tap): request to usable handle, cold / cached | $(field cold_ms "$udp") ms / $(field cached_ms "$udp") ms |"
  echo "| UDP, $name device: quasi-specd's compile of the cold request | $(grep -o 'ok (compiled), [0-9]* B code, compile [0-9.]* ms' <<<"$out" | head -n 1 | awk '{ print $(NF - 1) }') ms |"
  tcp="$(grep '^quasi_remote_client: tcp:' <<<"$out" | tail -n 1)"
  if [[ "$tcp" == *unsupported* ]]; then
    echo "| TCP, $name device | no remote TCP handles in this RemoteClient |"
  elif [[ -n "$tcp" ]]; then
    echo "| TCP, $name device (tap): request to usable handle, cold / cached | $(field cold_ms "$tcp") ms / $(field cached_ms "$tcp") ms |"
  fi
}
tap_rows "x86-64" "$B"
if [[ -x "$A64/apps/quasi-remote-client" ]]; then
  tap_rows "AArch64 (qemu-aarch64)" "$A64" qemu-aarch64
else
  say "no $A64/apps/quasi-remote-client: AArch64 rows left out"
fi

# ---- 2. code bytes per handle per target ----
say "code bytes per target (remote_link_test)"
"$B/tests/remote_link_test" >"$TMP/link.out" 2>&1
cat "$TMP/link.out" >>"$LOG"
grep -E '^(x86_64|aarch64|thumbv7m)[^ ]* (udp 64 B|tcp 1 segment): image' "$TMP/link.out" |
  while read -r triple path rest; do
    what="$path $(awk '{ print $1, $2 }' <<<"$rest" | tr -d ':')"
    image="$(grep -o 'image [0-9]* bytes (code [0-9]*)' <<<"$rest")"
    echo "| code per handle, $triple, ${what% }: linked image (code) | $(awk '{ print $2 }' <<<"$image") B ($(awk '{ gsub(/\)/, ""); print $5 }' <<<"$image") B) |"
  done

# ---- 1 and 3 on the board ----
board_run() {  # board_run ICOUNT: board_remote.sh's output, or empty if it failed
  local out
  out="$(QUASI_BOARD_ICOUNT="$1" bash "$ROOT/tests/board/board_remote.sh" "$B" 2>&1)"
  echo "$out" >>"$LOG"
  grep -q 'all .* checks passed' <<<"$out" && echo "$out"
}
if [[ "${QUASI_FIGURES_SKIP_BOARD:-0}" != 1 ]]; then
  say "the Cortex-M3 board (tests/board/board_remote.sh), QEMU in real time"
  out="$(board_run 0)"
  if [[ -n "$out" ]]; then
    # The board's own lines: 'quasi-board: remote:' (UDP) and 'quasi-board: remote tcp:'
    # (asked during the handshake: usable_us runs from ESTABLISHED).
    board_field() { grep -o "quasi-board: $1.*" <<<"$out" | head -n 1 | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
    ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
    echo "| UDP, Cortex-M3 board (QEMU TCG, tap): request to usable handle, cold / cached | $(ms "$(board_field 'remote:' usable_us)") ms / $(ms "$(board_field 'remote:' again_us)") ms (board clock) |"
    echo "| TCP, Cortex-M3 board (QEMU TCG, tap; asked in the handshake): ESTABLISHED to usable handle, cold / cached | $(ms "$(board_field 'remote tcp:' usable_us)") ms / $(ms "$(board_field 'remote tcp:' again_us)") ms (board clock) |"
    # The board's SysTick under TCG does not keep wall time: the daemon's own figure.
    for p in udp tcp; do
      echo "| $(tr a-z A-Z <<<"$p"), Cortex-M3 board: quasi-specd's cold request (compile; in all) | $(grep -o "thumbv7m-none-eabi $p: ok (compiled), [0-9]* B code, compile [0-9.]* ms.*in all" <<<"$out" | head -n 1 | awk '{ for (i = 1; i <= NF; i++) if ($i == "compile") c = $(i + 1); print c " ms; " $(NF - 3) " ms" }') |"
    done
    echo "| code per UDP handle on the board, as installed | $(board_field 'remote:' code_bytes) B |"
  else
    echo "| board: board_remote.sh failed (see $LOG) | |"
  fi
  say "the Cortex-M3 board again, QUASI_BOARD_ICOUNT=1 (QEMU -icount shift=0: 1 ns per instruction)"
  out="$(board_run 1)"
  if [[ -n "$out" ]]; then
    sends="$(grep -o 'generic [0-9]*, specialized [0-9]*' <<<"$out" | tail -n 1)"
    gen="$(awk '{ print $2 }' <<<"$sends" | tr -d ,)" spec="$(awk '{ print $4 }' <<<"$sends")"
    echo "| instructions per 64 B UDP send on the board, generic send() / remote handle | $gen / $spec ($(awk -v a="$spec" -v b="$gen" 'BEGIN { printf "%.3fx", a / b }')) |"
  else
    echo "| board (-icount): board_remote.sh failed (see $LOG) | |"
  fi
fi

# ---- 4. devices at 100 requests/s ----
say "devices at 100 requests/s (quasi-specd-load), N = $DEVICES, $SECONDS_PER_RUN s each"
held="" load_before="$(loadavg)"
"$B/bench/quasi-specd-load" --print-keys 4000 >"$TMP/keys.json"
for n in $DEVICES; do
  "$B/apps/quasi-specd" --listen 127.0.0.1:0 --keys "$TMP/keys.json" --cache-bytes 131072 --max-connections 4096 \
    >"$TMP/specd.out" 2>"$TMP/specd.log" &
  SPECD_PID=$!
  for _ in $(seq 300); do grep -q 'listening on' "$TMP/specd.out" && break; sleep 0.1; done
  port="$(sed -n 's/^listening on .*://p' "$TMP/specd.out")"
  out="$(timeout $((SECONDS_PER_RUN + 120)) "$B/bench/quasi-specd-load" --specd "127.0.0.1:$port" --devices "$n" \
    --rate 100 --miss-percent 10 --warm-contexts 16 --seconds "$SECONDS_PER_RUN" --specd-pid "$SPECD_PID" 2>&1)"
  echo "$out" >>"$LOG"
  kill "$SPECD_PID" 2>/dev/null
  wait "$SPECD_PID" 2>/dev/null
  SPECD_PID=""
  sum="$(grep 'holds=' <<<"$out" | tail -n 1)"
  [[ -n "$sum" ]] || { echo "| $n devices: quasi-specd-load failed (see $LOG) | |"; continue; }
  echo "| $n devices at 100 req/s (10% misses): p50 / p99 / max latency, VmRSS mid-run -> end, cache, evictions, holds | $(field p50_ms "$sum") / $(field p99_ms "$sum") / $(field max_ms "$sum") ms, $(field rss_kb_mid "$sum") -> $(field rss_kb_late_max "$sum") KB, $(field cache_bytes "$sum") B, $(field cache_evictions "$sum"), $([[ "$(field holds "$sum")" == 1 ]] && echo yes || echo no) |"
  [[ "$(field holds "$sum")" == 1 ]] && held="$n"
done
echo "| devices quasi-specd held at 100 requests/s (largest N tried that held) | ${held:-none} (load average before $load_before, after $(loadavg)) |"
say "the runs' output: $LOG"
