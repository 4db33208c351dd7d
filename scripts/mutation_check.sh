#!/usr/bin/env bash
# scripts/mutation_check.sh: each listed source mutation must make its named test fail.
#
# Usage: scripts/mutation_check.sh [NAME...]    (default: every mutation in the list)
#
# Each entry of tests/mutations.txt (its format is at its top) breaks one behaviour
# the README claims and names the unit test that defends it. The script keeps a
# scratch copy of the tree (only changed files are copied, so builds stay
# incremental) and one build directory (-DQUASI_JIT=OFF, Debug, warnings not errors:
# a mutant may leave a variable unused; unit tests only).
# It first checks that every named test passes on the unmutated tree and runs at
# least one case; then, per mutation: apply its edits to the scratch copy, build
# that test's executable (only the touched sources recompile), run it with its gtest
# filter, restore the files. A mutation whose test still passes SURVIVED: that test
# no longer guards its feature, and the script fails. So does a snippet that is not
# found exactly once, or a mutation that does not compile (update the list).
#
# Environment:
#   QUASI_BUILD_PREFIX=P   scratch tree and build under P-mutation/ (default: build-mutation/
#                          in the repository, as scripts/test.sh's other build directories)
#   QUASI_MUTATION_LIST=F  the list (default: tests/mutations.txt)
#   QUASI_JOBS=N           build parallelism (default: nproc)
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true  # '&' in a replacement is literal

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
esac

LIST="${QUASI_MUTATION_LIST:-$ROOT/tests/mutations.txt}"
WORK="${QUASI_BUILD_PREFIX:-$ROOT/build}-mutation"
SRC="$WORK/src"
BUILD="$WORK/build"
JOBS="${QUASI_JOBS:-$(nproc)}"
TEST_TIMEOUT=300  # seconds per test run: a mutation that makes a test hang is killed too

die() {
  printf 'mutation_check.sh: error: %s\n' "$*" >&2
  exit 1
}
say() { printf 'mutation_check.sh: %s\n' "$*"; }

[[ -f "$LIST" ]] || die "no mutation list at $LIST"
command -v git >/dev/null || die "git not found"

# ---- the list: parallel arrays, one index per mutation; edits point at their mutation

m_name=() m_why=() m_bin=() m_filter=()
e_mut=() e_file=() e_find=() e_replace=()

parse_list() {
  local line key value n=0 lineno=0
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    read -r key value <<<"$line"
    case "$key" in
      mutation)
        [[ -n "$value" ]] || die "$LIST:$lineno: mutation without a name"
        m_name+=("$value") m_why+=("") m_bin+=("") m_filter+=("")
        n=${#m_name[@]}
        ;;
      why | test | file | find | replace)
        ((n > 0)) || die "$LIST:$lineno: '$key' before any 'mutation'"
        local i=$((n - 1))
        case "$key" in
          why) m_why[i]="$value" ;;
          test)
            read -r "m_bin[i]" "m_filter[i]" <<<"$value"
            [[ -n "${m_filter[i]}" ]] || die "$LIST:$lineno: test needs an executable and a gtest filter"
            ;;
          file) e_mut+=("$i") e_file+=("$value") e_find+=("") e_replace+=("") ;;
          find | replace)
            local k=$((${#e_mut[@]} - 1))
            if ((k < 0)) || [[ "${e_mut[k]}" != "$i" ]]; then die "$LIST:$lineno: '$key' before 'file'"; fi
            if [[ "$key" == find && -n "${e_find[k]}" ]]; then  # another edit of the same file
              e_mut+=("$i") e_file+=("${e_file[k]}") e_find+=("") e_replace+=("")
              k=$((k + 1))
            fi
            if [[ "$key" == find ]]; then e_find[k]="$value"; else e_replace[k]="$value"; fi
            ;;
        esac
        ;;
      *) die "$LIST:$lineno: unknown keyword '$key'" ;;
    esac
  done <"$LIST"
  local i k has
  for i in "${!m_name[@]}"; do
    [[ -n "${m_bin[i]}" ]] || die "mutation ${m_name[i]}: no 'test' line"
    has=0
    for k in "${!e_mut[@]}"; do
      [[ "${e_mut[k]}" == "$i" ]] || continue
      has=1
      [[ -n "${e_find[k]}" ]] || die "mutation ${m_name[i]}: an edit of ${e_file[k]} has no 'find'"
    done
    ((has)) || die "mutation ${m_name[i]}: no edits"
  done
}

# ---- the scratch tree

# Copies every tracked or new (not ignored) file whose content differs; a copied file
# gets a new mtime, so the build recompiles exactly what changed. Files that left the
# tree are removed from the copy.
sync_tree() {
  local f
  declare -A keep=()
  mkdir -p "$SRC"
  while IFS= read -r -d '' f; do
    [[ -f "$ROOT/$f" ]] || continue
    keep["$f"]=1
    if ! cmp -s "$ROOT/$f" "$SRC/$f"; then
      mkdir -p "$(dirname "$SRC/$f")"
      cp "$ROOT/$f" "$SRC/$f"
    fi
  done < <(git -C "$ROOT" ls-files -z --cached --others --exclude-standard)
  while IFS= read -r -d '' f; do
    f="${f#"$SRC"/}"
    [[ -n "${keep[$f]:-}" ]] || rm -f "$SRC/$f"
  done < <(find "$SRC" -type f -print0)
}

# ---- applying and undoing a mutation

SAVED="$(mktemp -d /tmp/quasi-mutation.XXXXXX)"
mutated_files=()
restore() {
  local f
  for f in "${mutated_files[@]}"; do
    # cp gives the file a new mtime: the next build recompiles it.
    cp "$SAVED/$(echo "$f" | tr / %)" "$SRC/$f"
  done
  mutated_files=()
}
trap 'restore; rm -rf "$SAVED"' EXIT

# apply_edit FILE FIND REPLACE: the snippet must occur exactly once; else
# edit_error says why and the status is 1.
edit_error=""
apply_edit() {
  local file="$1" find="$2" replace="$3" content rest
  [[ -f "$SRC/$file" ]] || { edit_error="no such file: $file"; return 1; }
  IFS= read -r -d '' content <"$SRC/$file" || true
  rest="${content#*"$find"}"
  [[ "$rest" != "$content" ]] || { edit_error="snippet not found in $file: $find"; return 1; }
  [[ "$rest" != *"$find"* ]] || { edit_error="snippet found more than once in $file: $find"; return 1; }
  if [[ " ${mutated_files[*]} " != *" $file "* ]]; then
    cp "$SRC/$file" "$SAVED/$(echo "$file" | tr / %)"
    mutated_files+=("$file")
  fi
  printf '%s' "${content/"$find"/"$replace"}" >"$SRC/$file"
}

# ---- building and running

build_target() { cmake --build "$BUILD" -j "$JOBS" --target "$@" >"$SAVED/build.log" 2>&1; }

# run_test BIN FILTER: runs it (bounded), output in $SAVED/test.log; its exit status.
run_test() {
  local rc=0
  timeout --kill-after=5 "$TEST_TIMEOUT" "$BUILD/tests/$1" --gtest_filter="$2" --gtest_brief=1 \
    >"$SAVED/test.log" 2>&1 || rc=$?
  return "$rc"
}

# ---- main

parse_list
selected=()
if (($#)); then
  for want in "$@"; do
    found=0
    for i in "${!m_name[@]}"; do
      [[ "${m_name[i]}" == "$want" ]] && selected+=("$i") && found=1
    done
    ((found)) || die "no mutation named '$want' in $LIST"
  done
else
  selected=("${!m_name[@]}")
fi

T0=$SECONDS
say "${#selected[@]} mutation(s) from $LIST; scratch tree $SRC, build $BUILD"
sync_tree
# Warnings are no errors here: a mutant may leave a variable unused.
cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DQUASI_JIT=OFF -DQUASI_WERROR=OFF \
  >"$SAVED/configure.log" 2>&1 || { cat "$SAVED/configure.log"; die "configure failed"; }

# The tests the selection names, each once.
declare -A bins=()
for i in "${selected[@]}"; do bins["${m_bin[i]}"]=1; done
say "building ${!bins[*]} (unmutated)"
build_target "${!bins[@]}" || { cat "$SAVED/build.log"; die "the unmutated tree does not build"; }

# Every named test must pass unmutated, and its filter must select something.
for i in "${selected[@]}"; do
  [[ -x "$BUILD/tests/${m_bin[i]}" ]] || die "mutation ${m_name[i]}: no test executable tests/${m_bin[i]}"
  if ! run_test "${m_bin[i]}" "${m_filter[i]}"; then
    cat "$SAVED/test.log"
    die "mutation ${m_name[i]}: ${m_bin[i]} --gtest_filter=${m_filter[i]} fails on the unmutated tree"
  fi
  grep -Eq '^\[  PASSED  \] [1-9][0-9]* test' "$SAVED/test.log" ||
    die "mutation ${m_name[i]}: --gtest_filter=${m_filter[i]} selects no test in ${m_bin[i]}"
done
say "baseline: every named test passes unmutated ($((SECONDS - T0)) s)"

survived=()
errors=()
summary=()
for i in "${selected[@]}"; do
  t=$SECONDS
  name="${m_name[i]}"
  printf '\n-- %s: %s\n' "$name" "${m_why[i]}"
  result=""
  for k in "${!e_mut[@]}"; do
    [[ "${e_mut[k]}" == "$i" ]] || continue
    if ! apply_edit "${e_file[k]}" "${e_find[k]}" "${e_replace[k]}"; then
      result="ERROR ($edit_error)"
      break
    fi
  done
  if [[ -z "$result" ]] && ! build_target "${m_bin[i]}"; then
    tail -n 30 "$SAVED/build.log"
    result="ERROR (does not compile)"
  fi
  if [[ -z "$result" ]]; then
    if run_test "${m_bin[i]}" "${m_filter[i]}"; then
      result="SURVIVED"
    else
      rc=$?
      failed="$(sed -n 's/^\[  FAILED  \] \([^ ]*\).*/\1/p' "$SAVED/test.log" | sort -u | tr '\n' ' ')"
      result="killed by ${failed:-exit status $rc}"
    fi
  fi
  restore
  printf '   %s (%ss)\n' "$result" "$((SECONDS - t))"
  summary+=("$(printf '  %-48s %s' "$name" "$result")")
  case "$result" in
    SURVIVED) survived+=("$name") ;;
    ERROR*) errors+=("$name") ;;
  esac
done

printf '\nmutation_check.sh: summary (%ss):\n' "$((SECONDS - T0))"
printf '%s\n' "${summary[@]}"
status=0
if ((${#survived[@]})); then
  say "FAILED: mutations survived (their tests no longer guard them): ${survived[*]}"
  status=1
fi
if ((${#errors[@]})); then
  say "FAILED: the list is out of date for: ${errors[*]} (see above)"
  status=1
fi
((status)) || say "all ${#selected[@]} mutation(s) killed"
exit "$status"
