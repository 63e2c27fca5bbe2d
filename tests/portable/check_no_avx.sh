#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A build made on an AVX-512 machine must run on any x86-64 CPU: only the
# per-ISA kernel units (kernels/<isa>/*_<isa>.cpp, for the x86 vector ISAs
# named by --isas) may contain AVX code,
# and the dispatcher calls them only on a CPU that has it. This disassembles
# static archives and fails on any instruction outside those units that needs
# more than the x86-64 baseline: a VEX/EVEX-encoded (v-prefixed) mnemonic, a
# ymm/zmm or AVX-512 mask register, or a BMI/ABM instruction.
#
# As a check of the check, every per-ISA unit found must contain AVX code
# (otherwise the pattern below would be blind), and with --expect-isa-units N
# at least N of them must be found.
#
#   check_no_avx.sh OBJDUMP --isas "avx2 avx512" [--expect-isa-units N] ARCHIVE...
set -euo pipefail
objdump=$1
shift
expect=0
isas=
if [[ ${1:-} == --isas ]]; then
  isas=$2
  shift 2
fi
if [[ ${1:-} == --expect-isa-units ]]; then
  expect=$2
  shift 2
fi
(($#)) && [[ -n $isas ]] ||
  { echo "usage: $0 OBJDUMP --isas \"ISA...\" [--expect-isa-units N] ARCHIVE..." >&2; exit 2; }
# An object of a per-ISA unit: <file>_<isa>.cpp.o
isa_unit_re="_(${isas// /|})\.cpp\.o\$"

# Per object: the number of offending instructions and the first one.
scan() {
  "$objdump" -d --no-show-raw-insn "$1" | awk -F'\t' '
    / file format / { obj = $1; sub(/:.*/, "", obj); objs[obj] = 1; next }
    /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ /, "", fn); next }
    NF >= 2 {
      ins = $2
      split(ins, w, " ")
      m = w[1]
      vex = (m ~ /^v/ && m !~ /^(verr|verw|vmcall|vmfunc|vmlaunch|vmresume|vmread|vmwrite|vmxon|vmxoff|vmptrld|vmptrst|vmclear)$/)
      regs = (ins ~ /%[yz]mm[0-9]/ || ins ~ /%k[0-7]([^0-9]|$)/)
      bmi = (m ~ /^(andn|bextr|blsi|blsmsk|blsr|bzhi|pdep|pext|rorx|sarx|shlx|shrx|mulx|popcnt|lzcnt)[a-z]?$/)
      if (vex || regs || bmi) {
        hits[obj]++
        if (!(obj in first)) first[obj] = fn " " ins
      }
    }
    END { for (o in objs) printf "%s\t%d\t%s\n", o, hits[o] + 0, first[o] }'
}

status=0
checked=0
isa_units=0
for archive in "$@"; do
  while IFS=$'\t' read -r obj count example; do
    if [[ $obj =~ $isa_unit_re ]]; then
      isa_units=$((isa_units + 1))
      if ((count == 0)); then
        echo "FAIL: $(basename "$archive")/$obj is a per-ISA unit but no AVX instruction was found in it: the scan is blind" >&2
        status=1
      fi
      continue
    fi
    checked=$((checked + 1))
    if ((count > 0)); then
      echo "FAIL: $(basename "$archive")/$obj has $count instructions beyond x86-64 baseline, first: $example" >&2
      status=1
    fi
  done < <(scan "$archive")
done
if ((isa_units < expect)); then
  echo "FAIL: found $isa_units per-ISA units, expected at least $expect" >&2
  status=1
fi
((checked > 0)) || { echo "FAIL: no object checked" >&2; status=1; }
((status == 0)) && echo "ok: $checked baseline objects free of AVX/BMI code; $isa_units per-ISA units contain AVX as expected"
exit $status
