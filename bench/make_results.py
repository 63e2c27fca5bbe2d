#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Run tern-bench and write bench/RESULTS.md from its medians.

    python3 bench/make_results.py                 # run, then write RESULTS.md
    python3 bench/make_results.py --json FILE     # only rewrite from a saved run

The benchmark runs with 5 repetitions and reports aggregates only; every
figure in RESULTS.md is the median of the 5. The raw JSON is kept (default
build/release/bench/results.json) with the exact command stored in its
context block, so the report can be regenerated, or re-read by this script,
without running again.

OpenBLAS: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the
benchmark command's environment (`env -u ...`), because the machines tern is
developed on set them to force OpenBLAS onto its AVX2 kernels. Nothing else
about the environment is changed. --openblas-coretype NAME sets
OPENBLAS_CORETYPE=NAME for the benchmark command instead, to compare against
a kernel set OpenBLAS's own detection does not pick.

Partial re-runs: --merge-into FILE runs only the --filter subset (with its
own --repetitions, and --interleave for Google Benchmark's random
interleaving of repetitions) and replaces those benchmarks in the saved run
FILE, keeping everything else; RESULTS.md then states both commands:

    python3 bench/make_results.py --openblas-coretype Cooperlake \\
        --merge-into build/release/bench/results.json \\
        --filter '^(rank1_(examples|accum)|train_step)/' --repetitions 10

Only the Python standard library is used.
"""

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ISA_LIST = os.path.join(ROOT, "platform", "include", "tern", "platform", "isa_list.h")


def read_isa_list(path=ISA_LIST):
    """The ISA names of tern's one list of ISAs (isa_list.h), in its order:
    one line `TERN_ISA_X(enumerator, name, vector_bits)` per ISA."""
    line_re = re.compile(r"^TERN_ISA_X\(k\w+, *(\w+), *\d+\)")
    with open(path) as f:
        names = [m.group(1) for m in map(line_re.match, f) if m]
    if "scalar" not in names:
        sys.exit("%s: no ISA lines read" % path)
    return names


KERNELS = ["gemm_rows", "rank1_accumulate", "backprop_rows"]
TERN_IMPLS = read_isa_list()                           # tern's kernel tables, as rows
# The peers, each measured in several forms (impl "<family>" or
# "<family>_<form>": openblas_gemv, eigen_outer_t, ...; bench/units.h,
# "Peers"). tern is compared with the fastest form of either family.
PEER_FAMILIES = ["openblas", "eigen"]
VECTOR_ISAS = [i for i in TERN_IMPLS if i != "scalar"]  # those with a peak/<isa> loop
MEMORY_BOUND_ROWS = 4         # n <= 4: bound by streaming the weights (roofline column)


def peer_family(impl):
    """The peer family of a kernel impl name, or None for tern's own."""
    for family in PEER_FAMILIES:
        if impl == family or impl.startswith(family + "_"):
            return family
    return None


# --- the targets of issue 12 ("Lead the peers where on-device training
# lives"); RESULTS.md checks every one from the measured medians and lists
# each cell below its target. The wording is quoted beside each.

# Item 1: "Every kernel x shape of tern-bench at >= 1.0x the faster of
# OpenBLAS and Eigen, where each peer gets its best form".
PEER_RATIO_TARGET = 1.0
# Item 1: "On the small shapes (n <= 4, m <= 16, 16x16x16, 1000x37x61):
# >= 1.5x."
SMALL_SHAPE_PEER_RATIO_TARGET = 1.5
SMALL_SHAPE_MAX_ROWS = 4       # n <= 4
SMALL_SHAPE_MAX_COLUMNS = 16   # m <= 16
SMALL_SHAPES_NAMED = [(16, 16, 16), (1000, 37, 61)]
# Item 2: "Large shapes: >= 88 % of peak/avx512 for all three kernels on
# 32x784x256, 128x256x1024, 128x1024x256 and 256x512x512 ..., and >= 90 %
# of peak/avx2 with AVX2."
PEAK_TARGET = {"avx512": 0.88, "avx2": 0.90}
PEAK_TARGET_SHAPES = [(32, 784, 256), (128, 256, 1024), (128, 1024, 256), (256, 512, 512)]
# Item 3: "n = 1 at >= 90 % of the cache roofline (tern-bench's membw for the
# level the weights sit in) for gemm_rows, backprop_rows, rank1_accumulate".
ROOFLINE_TARGET = 0.90
ROOFLINE_TARGET_ROWS = 1
# Item 4: "The whole step, against peer_eigen_train doing the same arithmetic
# with the same optimizer: b1 >= 2.0x the gradient-buffer Eigen step and the
# fused b1 step >= 1.0x Eigen writing straight into W; b32 >= 1.5x; b128 >=
# 1.4x; the feed-forward block n=128 d=256 d_ff=1024 >= 1.3x; for plain SGD,
# SGD with momentum and Adam."
# (model, tern's update form, Eigen's update form, speed ratio): "best" is
# the faster of a side's two forms (unfused, fused), so the b32, b128 and
# block targets hold whichever form each side is faster in.
STEP_TARGETS = [
    ("mlp784-256-128-10_b1", "unfused", "unfused", 2.0),
    ("mlp784-256-128-10_b1", "fused", "fused", 1.0),
    ("mlp784-256-128-10_b32", "best", "best", 1.5),
    ("mlp784-256-128-10_b128", "best", "best", 1.4),
    ("ffn_n128_d256_dff1024", "best", "best", 1.3),
]
STEP_OPTIMIZERS = ["sgd", "momentum", "adam"]
STEP_UPDATES = ["unfused", "fused"]
# Item 5: "Fashion-MNIST epoch of tern-train-fashion (defaults) in at most
# half the time of the same epoch with the Eigen step": Eigen's time over
# tern's, against the faster of the Eigen step's two forms.
EPOCH_SPEEDUP_TARGET = 2.0

# Google Benchmark time units in microseconds.
TIME_UNIT_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}

# Per-example gradient norms (spec.with_example_gradients, no clipping) may
# cost at most this share of a plain training step.
EXAMPLE_NORMS_TARGET = 0.10

# A median whose repetitions spread more than this (coefficient of
# variation) is flagged: on a shared machine it is less trustworthy.
NOISY_CV = 0.05
# Process CPU time / thread CPU time above this means a peer ran helper
# threads (tern-bench's cpu_threads counter).
THREADS_TOLERANCE = 1.05

# OpenBLAS core names whose kernels use AVX-512, or at least AVX2. Anything
# else on an AVX2/AVX-512 CPU is a fallback (OpenBLAS did not recognise it).
OPENBLAS_AVX512_CORES = {"skylakex", "cooperlake", "sapphirerapids"}
OPENBLAS_AVX2_CORES = {"haswell", "zen"} | OPENBLAS_AVX512_CORES


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default="build/release/bench/tern-bench",
                   help="tern-bench to run (relative to the repository root)")
    p.add_argument("--json", help="read this saved JSON instead of running tern-bench")
    p.add_argument("--save-json", default="build/release/bench/results.json",
                   help="where the raw JSON of a run is kept")
    p.add_argument("--out", default="bench/RESULTS.md", help="report to write")
    p.add_argument("--repetitions", type=int, default=5)
    p.add_argument("--min-time", default="0.1", help="--benchmark_min_time per repetition")
    p.add_argument("--filter", help="--benchmark_filter (partial runs, for testing)")
    p.add_argument("--merge-into", metavar="FILE",
                   help="run only --filter and replace those benchmarks in this saved run "
                        "(written back to --save-json)")
    p.add_argument("--interleave", action="store_true",
                   help="--benchmark_enable_random_interleaving=true (repetitions of "
                        "different benchmarks in random order)")
    p.add_argument("--openblas-coretype",
                   help="set OPENBLAS_CORETYPE to this for the benchmark command "
                        "(default: unset it)")
    return p.parse_args()


def run_benchmark(args):
    out = args.save_json
    if args.merge_into:  # the saved run stays intact until the merge is written
        out = re.sub(r"(\.json)?$", "-part.json", out, count=1)
    os.makedirs(os.path.dirname(os.path.join(ROOT, out)) or ".", exist_ok=True)
    cmd = ["env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE"]
    if args.openblas_coretype:
        cmd.append("OPENBLAS_CORETYPE=" + args.openblas_coretype)
    cmd += [args.binary,
            "--benchmark_repetitions=%d" % args.repetitions,
            "--benchmark_report_aggregates_only=true",
            "--benchmark_min_time=%s" % args.min_time]
    if args.interleave:
        cmd.append("--benchmark_enable_random_interleaving=true")
    if args.filter:
        cmd.append("--benchmark_filter=" + args.filter)
    cmd += ["--benchmark_out=" + out, "--benchmark_out_format=json"]
    print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
    started = datetime.now(timezone.utc)
    subprocess.run(cmd, cwd=ROOT, check=True)
    elapsed = (datetime.now(timezone.utc) - started).total_seconds()
    with open(os.path.join(ROOT, out)) as f:
        data = json.load(f)
    # The command and its duration travel with the data.
    data["context"]["tern_command"] = shlex.join(cmd)
    data["context"]["tern_run_seconds"] = "%.0f" % elapsed
    caller_env = " ".join("%s=%s" % (k, os.environ.get(k, "(unset)"))
                          for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    data["context"]["tern_caller_environment"] = caller_env
    with open(os.path.join(ROOT, out), "w") as f:
        json.dump(data, f, indent=1)
    return data


# --- reading the JSON ---------------------------------------------------------

SHAPE_RE = re.compile(r"^(\d+)x(\d+)x(\d+)$")


class Results:
    """Medians (and CVs) of every benchmark, keyed by run name."""

    def __init__(self, data):
        self.context = data["context"]
        self.median = {}    # run_name -> {"GFLOPS": .., "GBps": .., "cpu_threads": ..}
        self.cv = {}        # run_name -> cv of the main counter (fraction)
        self.best = {}      # run_name -> best repetition ("max"; ceilings only)
        self.skipped = {}   # run_name -> message
        self.label = {}     # run_name -> the benchmark's label (e.g. the ISA an epoch ran)
        self.order = []     # run names in the binary's order
        for b in data["benchmarks"]:
            name = b.get("run_name", b["name"])
            if name not in self.order:
                self.order.append(name)
            if b.get("error_occurred"):
                self.skipped[name] = b.get("error_message", "error")
                continue
            agg = b.get("aggregate_name")
            counters = {k: b[k] for k in ("GFLOPS", "GBps", "cpu_threads", "samples_per_s",
                                          "arena_bytes")
                        if k in b}
            if "cpu_time" in b:  # per iteration, in the run's time unit
                counters["cpu_us"] = b["cpu_time"] * TIME_UNIT_US.get(b.get("time_unit", "ns"), 1e-3)
            if agg == "median" or (agg is None and b.get("run_type") == "iteration"):
                self.median[name] = counters
                if b.get("label"):
                    self.label[name] = b["label"]
            elif agg == "cv":
                main = counters.get("GFLOPS", counters.get("GBps", counters.get("samples_per_s")))
                if main is not None:
                    self.cv[name] = main
            elif agg == "max":
                self.best[name] = counters

    def gflops(self, name):
        return self.median.get(name, {}).get("GFLOPS")

    def step_us(self, name):
        """Median CPU time of one iteration in microseconds."""
        return self.median.get(name, {}).get("cpu_us")

    def arena(self, name):
        return self.median.get(name, {}).get("arena_bytes")

    def shapes(self):
        seen = []
        for name in self.order:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] in KERNELS:
                m = SHAPE_RE.match(parts[2])
                if m:
                    s = tuple(int(v) for v in m.groups())
                    if s not in seen:
                        seen.append(s)
        return seen

    def impls(self, candidates):
        present = set()
        for name in self.order:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] in KERNELS:
                present.add(parts[1])
        return [i for i in candidates if i in present]

    def peer_impls(self):
        """Every peer form that ran a kernel, by family, then in the binary's order."""
        out = []
        for name in self.order:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] in KERNELS and peer_family(parts[1]):
                if parts[1] not in out:
                    out.append(parts[1])
        return sorted(out, key=lambda i: PEER_FAMILIES.index(peer_family(i)))

    def ceiling(self, name, counter):
        """A ceiling is its best repetition over the measurement before the
        kernels and the one after them (name + "/end"): load on a shared
        machine only ever lowers it. Falls back to medians for JSON without
        the "max" aggregate."""
        values = [src.get(n, {}).get(counter) for n in (name, name + "/end")
                  for src in (self.best, self.median)]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    def peak(self, isa):
        return self.ceiling("peak/" + isa, "GFLOPS")

    def membw_names(self):
        """[(name, level, k, m)] of the bandwidth ceilings, start names only."""
        out = []
        for name in self.order:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "membw":
                k, m = (int(v) for v in parts[2].split("x"))
                out.append((name, parts[1], k, m))
        return out

    def bandwidth(self, k, m):
        """(GB/s, cache level) of streaming a k x m float matrix."""
        for name, level, kk, mm in self.membw_names():
            if (kk, mm) == (k, m):
                gbps = self.ceiling(name, "GBps")
                if gbps is not None:
                    return gbps, level
        return None, None


def shape_key(s):
    return "%dx%dx%d" % s


def flops(s):
    return 2.0 * s[0] * s[1] * s[2]


def memory_bytes(kernel, s):
    """Bytes a memory-bound call must stream: W once (4 k m) for gemm_rows and
    backprop_rows; G read and written (8 k m) for rank1_accumulate."""
    n, k, m = s
    return (8.0 if kernel == "rank1_accumulate" else 4.0) * k * m


class Analysis:
    def __init__(self, res):
        self.res = res
        self.shapes = res.shapes()
        self.tern = res.impls(TERN_IMPLS)
        self.peers = res.peer_impls()
        self.families = [f for f in PEER_FAMILIES if any(peer_family(p) == f for p in self.peers)]
        self.best_peak = max([res.peak(i) for i in VECTOR_ISAS if res.peak(i)] or [0.0]) or None

    def value(self, kernel, impl, s):
        return self.res.gflops("%s/%s/%s" % (kernel, impl, shape_key(s)))

    def tern_best(self, kernel, s):
        best = None
        for impl in self.tern:
            v = self.value(kernel, impl, s)
            if v is not None and (best is None or v > best[0]):
                best = (v, impl)
        return best

    def best_peer(self, kernel, s, family=None):
        """(GFLOP/s, impl) of the fastest peer form measured for this kernel and
        shape (of `family` only, when given), or None."""
        best = None
        for impl in self.peers:
            if family is not None and peer_family(impl) != family:
                continue
            v = self.value(kernel, impl, s)
            if v is not None and (best is None or v > best[0]):
                best = (v, impl)
        return best

    def roofline(self, kernel, s):
        """(attainable GFLOP/s, memory roofline, GB/s, level) for n <= 4, or None.
        Attainable = min(memory roofline, best FMA peak)."""
        if s[0] > MEMORY_BOUND_ROWS:
            return None
        gbps, level = self.res.bandwidth(s[1], s[2])
        if gbps is None:
            return None
        mem = gbps * flops(s) / memory_bytes(kernel, s)
        attainable = min(mem, self.best_peak) if self.best_peak else mem
        return attainable, mem, gbps, level


# --- formatting ----------------------------------------------------------------

def fmt(v):
    if v is None:
        return "–"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def pct(v):
    return "–" if v is None else "%.0f %%" % (100 * v)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(r):
    return "–" if r is None else "%.2f" % r


def machine_section(res, a):
    ctx = res.context
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # first processor only
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    except OSError:
        pass
    model = info.get("model name")
    if model and "cpu family" in info:  # x86: the numbers OpenBLAS's detection looks at
        model += ", family %s model %s stepping %s" % (
            info["cpu family"], info.get("model", "?"), info.get("stepping", "?"))
    caches = ", ".join("L%d%s %s" % (c["level"], "d" if c["type"] == "Data" else "",
                                      human_bytes(c["size"]))
                       for c in ctx.get("caches", []) if c["type"] != "Instruction")
    lines = [
        "| | |",
        "| --- | --- |",
        "| CPU | %s (tern: %s) |" % (model or "unknown", ctx.get("tern_cpu", "?")),
        "| cores | %s logical CPUs, %s MHz nominal; %s |" % (ctx.get("num_cpus", "?"),
                                                          ctx.get("mhz_per_cpu", "?"), caches),
        "| ISAs | detected: %s; tern kernels built: %s |" % (ctx.get("tern_isas_detected", "?"),
                                                           ctx.get("tern_isas_built", "?")),
        "| compiler | %s, tern built as %s |" % (ctx.get("compiler", "?"),
                                                 ctx.get("tern_build_type", "?")),
        "| OS | %s %s |" % (platform.system(), platform.release()),
        "| OpenBLAS | %s; kernels: **%s**; threads: %s |" % (
            ctx.get("openblas_config", "not built"), ctx.get("openblas_core", "–"),
            ctx.get("openblas_threads", "–")),
        "| Eigen | %s, compiled with `%s` (%s kernel flags); in use: %s |" % (
            ctx.get("eigen_version", "–"), ctx.get("eigen_flags", ""),
            ctx.get("eigen_isa", "not built"), ctx.get("eigen_simd", "–")),
        "| run | %s, load average at start %s, %s s |" % (
            ctx.get("date", "?"),
            " / ".join("%.2f" % v for v in ctx.get("load_avg", [])) or "?",
            ctx.get("tern_run_seconds", "?")),
    ]
    return lines


def human_bytes(n):
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return "%g %s" % (n / size, unit)
    return "%d B" % n


def openblas_note(res):
    ctx = res.context
    core = ctx.get("openblas_core")
    if core is None:
        return []
    isas = ctx.get("tern_isas_detected", "").split()
    c = core.lower()
    lines = []
    if "avx512" in isas and c not in OPENBLAS_AVX512_CORES:
        kind = "AVX2" if c in OPENBLAS_AVX2_CORES else "SSE only, no AVX"
        lines.append(
            "**OpenBLAS is not using AVX-512 here.** It selected its `%s` kernels (%s) on a CPU "
            "with AVX-512%s. OpenBLAS's column is therefore OpenBLAS as it runs on this machine "
            "by default, not OpenBLAS at its best; `make_results.py --openblas-coretype "
            "SkylakeX` measures it with its AVX-512 kernels." % (
                core, kind,
                ": its run-time detection does not recognise this CPU model and falls back"
                if c not in OPENBLAS_AVX2_CORES else ""))
    elif "avx2" in isas and c not in OPENBLAS_AVX2_CORES:
        lines.append("**OpenBLAS is not using AVX2 here**: it selected its `%s` kernels." % core)
    forced = re.search(r"(?:^| )OPENBLAS_CORETYPE=(\S+)", ctx.get("tern_command", ""))
    if forced:
        lines.append(
            "**OpenBLAS's kernels were chosen for it**: the command sets `OPENBLAS_CORETYPE=%s` "
            "(after unsetting the machine's own OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE). "
            "OpenBLAS 0.3.21's run-time detection does not recognise this CPU model and, left "
            "alone, falls back to its SSE-only `Prescott` kernels; forcing its AVX-512 kernels "
            "compares tern with OpenBLAS at its best on this core." % forced.group(1))
    return lines


def gflops_cell(res, name):
    if name in res.skipped:
        return "skip"
    v = res.gflops(name)
    cell = fmt(v)
    if v is not None and res.cv.get(name, 0) > NOISY_CV:
        cell += "*"
    return cell


def kernel_table(a, kernel):
    """Per shape: tern's ISAs, each peer family's fastest form, the fastest
    peer form of all, tern's best over it, % of peak, roofline."""
    res = a.res
    vec_peaks = [i for i in a.tern if i in VECTOR_ISAS and res.peak(i)]
    head = ["shape n×k×m"] + a.tern + ["%s (fastest form)" % f for f in a.families]
    head += ["tern ÷ best peer"]
    head += ["%s %% peak" % i for i in vec_peaks]
    head += ["mem roofline", "% roofline"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in a.shapes:
        row = [shape_key(s)]
        for impl in a.tern:
            row.append(gflops_cell(res, "%s/%s/%s" % (kernel, impl, shape_key(s))))
        for f in a.families:
            bp = a.best_peer(kernel, s, f)
            row.append("–" if bp is None else "%s `%s`" % (
                gflops_cell(res, "%s/%s/%s" % (kernel, bp[1], shape_key(s))), bp[1]))
        best = a.tern_best(kernel, s)
        bp = a.best_peer(kernel, s)
        r = ratio(best[0] if best else None, bp[0] if bp else None)
        row.append(("**%s**" if r is not None and r < PEER_RATIO_TARGET else "%s") % fmt_ratio(r))
        for isa in vec_peaks:
            row.append(pct(ratio(a.value(kernel, isa, s), res.peak(isa))))
        rl = a.roofline(kernel, s)
        if rl:
            attainable, mem, gbps, level = rl
            capped = " (FMA peak)" if attainable < mem else ""
            row.append("%s%s" % (fmt(attainable), capped))
            row.append(pct(ratio(best[0] if best else None, attainable)))
        else:
            row += ["", ""]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def peer_forms_table(a, kernel):
    """GFLOP/s of every peer form on every shape; the fastest in bold."""
    res = a.res
    forms = [p for p in a.peers
             if any(res.gflops("%s/%s/%s" % (kernel, p, shape_key(s))) is not None
                    or "%s/%s/%s" % (kernel, p, shape_key(s)) in res.skipped for s in a.shapes)]
    if not forms:
        return []
    lines = ["| shape n×k×m | " + " | ".join(forms) + " |", "|" + "---|" * (len(forms) + 1)]
    for s in a.shapes:
        bp = a.best_peer(kernel, s)
        row = [shape_key(s)]
        for p in forms:
            cell = gflops_cell(res, "%s/%s/%s" % (kernel, p, shape_key(s)))
            if cell == "–":
                cell = ""
            row.append("**%s**" % cell if bp and bp[1] == p else cell)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def peer_legend(a):
    """What each peer form calls (the binary's peer_form/<impl> context)."""
    ctx = a.res.context
    lines = []
    for p in a.peers:
        calls = ctx.get("peer_form/" + p)
        lines.append("- `%s`: %s" % (p, calls or "(not described in this run)"))
    return lines


TRAIN_PEER = "eigen"  # train_step/eigen/...: bench/peer_eigen_train.cpp


def train_runs(res):
    """(models, optimizers, tern ISAs) of the train_step/<impl>/<model>/<optimizer>/<update>
    runs, models by batch then the block."""
    models, opts, isas = [], [], []
    for name in res.order:
        parts = name.split("/")
        if len(parts) != 5 or parts[0] != "train_step":
            continue
        for value, seen in ((parts[2], models), (parts[3], opts)):
            if value not in seen:
                seen.append(value)
        if parts[1] in TERN_IMPLS and parts[1] not in isas:
            isas.append(parts[1])
    models.sort(key=model_key)
    opts.sort(key=lambda o: STEP_OPTIMIZERS.index(o) if o in STEP_OPTIMIZERS else len(opts))
    isas.sort(key=TERN_IMPLS.index)
    return models, opts, isas


def step_name(impl, model, opt, update):
    return "train_step/%s/%s/%s/%s" % (impl, model, opt, update)


def fastest_step(res, impls, model, opt, update):
    """(µs, impl, update) of the fastest of `impls` in `update` form ("best":
    either form), or None."""
    best = None
    for impl in impls:
        for u in (STEP_UPDATES if update == "best" else [update]):
            v = res.step_us(step_name(impl, model, opt, u))
            if v is not None and (best is None or v < best[0]):
                best = (v, impl, u)
    return best


def speedup_cell(r, target=1.0):
    return ("**%s**" if r is not None and r < target else "%s") % fmt_ratio(r)


def training_section(a):
    """µs per step for every impl and update form, and tern's fastest ISA's
    speed over the Eigen step's, like for like."""
    res = a.res
    models, opts, isas = train_runs(res)
    if not models:
        return ["(no train_step benchmarks in this run)"]
    impls = isas + [TRAIN_PEER]
    head = ["model", "optimizer"]
    for impl in impls:
        head += ["%s unfused" % impl, "%s fused" % impl]
    head += ["tern ÷ Eigen, unfused", "tern ÷ Eigen, fused", "tern ÷ Eigen, best of each"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in models:
        for opt in opts:
            row = [model, opt]
            for impl in impls:
                for u in STEP_UPDATES:
                    row.append(fmt_us(res, step_name(impl, model, opt, u)))
            for u in STEP_UPDATES + ["best"]:
                t = fastest_step(res, isas, model, opt, u)
                e = fastest_step(res, [TRAIN_PEER], model, opt, u)
                row.append(speedup_cell(ratio(e[0] if e else None, t[0] if t else None)))
            lines.append("| " + " | ".join(row) + " |")
    return lines


def epoch_section(a):
    """The Fashion-MNIST epoch: seconds per epoch of each impl, and Eigen's
    fastest form over tern."""
    res = a.res
    names = [n for n in res.order if n.startswith("epoch/") and n.count("/") == 2]
    if not names:
        return ["(no epoch benchmarks in this run)"]
    lines = ["| run | impl | s per epoch | images/s | |", "|---|---|---|---|---|"]
    for name in names:
        _, impl, run = name.split("/")
        if name in res.skipped:
            lines.append("| %s | %s | skip | | %s |" % (run, impl, res.skipped[name]))
            continue
        us = res.step_us(name)
        rate = res.median.get(name, {}).get("samples_per_s")
        lines.append("| %s | %s | %s | %s | %s |" % (
            run, impl, "–" if us is None else "%.3f" % (us * 1e-6),
            "–" if rate is None else "%.0f" % rate, res.label.get(name, "")))
    verdict = epoch_ratio(res)
    if verdict:
        r, eigen_impl = verdict
        lines.append("")
        lines.append("tern's epoch is **%s×** faster than the fastest Eigen epoch (`%s`)." % (
            fmt_ratio(r), eigen_impl))
    return lines


def epoch_ratio(res):
    """(Eigen's fastest epoch time ÷ tern's, that Eigen impl), or None."""
    tern, eigen = None, None
    for name in res.order:
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != "epoch" or res.step_us(name) is None:
            continue
        if parts[1] == "tern":
            tern = res.step_us(name)
        elif parts[1].startswith(TRAIN_PEER) and (eigen is None or res.step_us(name) < eigen[0]):
            eigen = (res.step_us(name), parts[1])
    if tern is None or eigen is None:
        return None
    return eigen[0] / tern, eigen[1]


def rank1_runs(res, group):
    """{isa: [model, ...]} and the variant names of rank1_<group>/<isa>/<model>/... runs,
    in the binary's order. <model> may hold a further level (the optimizer)."""
    isas, models = [], []
    for name in res.order:
        parts = name.split("/")
        if len(parts) < 4 or parts[0] != "rank1_" + group:
            continue
        model = "/".join(parts[2:-1])
        if parts[1] not in isas:
            isas.append(parts[1])
        if model not in models:
            models.append(model)
    # A run with --interleave writes its benchmarks in random order.
    isas.sort(key=lambda i: TERN_IMPLS.index(i) if i in TERN_IMPLS else len(TERN_IMPLS))
    models.sort(key=model_key)
    return isas, models


def model_key(model):
    """MLPs by batch size, then the feed-forward block; the optimizer after."""
    m = re.search(r"_b(\d+)", model)
    return (model.startswith("ffn"), int(m.group(1)) if m else 0, model)


def share(variant, base):
    """(variant - base) / base."""
    return None if variant is None or base is None or base == 0 else (variant - base) / base


def fmt_share(v):
    return "–" if v is None else "%+.1f %%" % (100 * v)


def fmt_us(res, name):
    if name in res.skipped:
        return "skip"
    v = res.step_us(name)
    if v is None:
        return "–"
    cell = "%.0f" % v if v >= 100 else "%.1f" % v
    if res.cv.get(name, 0) > NOISY_CV:
        cell += "*"
    return cell


def fmt_bytes(v):
    return "–" if v is None else "%.0f" % v


def example_norm_variants(res, prefix):
    """The R of every norms_r<R> run under prefix, in order."""
    out = []
    for name in res.order:
        if name.startswith(prefix + "norms_r"):
            out.append(name[len(prefix + "norms_r"):])
    return sorted(out, key=int)


def plain_step_runs(res, isa, model):
    """Every measurement of the plain Adam step of `model` under `isa` in this
    run: the same spec and code path is the reference of three groups
    (rank1_examples .../plain, train_step .../adam/unfused, rank1_accum
    .../step), each timed separately. Returns [(name, µs)]."""
    names = ["rank1_examples/%s/%s/plain" % (isa, model),
             step_name(isa, model, "adam", "unfused"),
             "rank1_accum/%s/%s/step" % (isa, model)]
    return [(n, res.step_us(n)) for n in names if res.step_us(n) is not None]


def rank1_examples_section(a):
    """Per-example gradient norms, clipping and noise against the plain step;
    returns (lines, [(label, share)] of the norms-only variant)."""
    res = a.res
    isas, models = rank1_runs(res, "examples")
    if not isas:
        return ["(no rank1_examples benchmarks in this run)"], []
    head = ["ISA", "model", "rows/example", "plain µs (runs)", "norms µs", "norms share",
            "clip µs", "clip share", "clip+noise µs", "clip+noise share",
            "grads plain µs", "grads norms µs", "grads share", "Gram µs", "Gram share",
            "arena plain → norms (bytes)", "< %.0f %%" % (100 * EXAMPLE_NORMS_TARGET)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    for isa in isas:
        for model in models:
            prefix = "rank1_examples/%s/%s/" % (isa, model)
            plain = prefix + "plain"
            if plain not in res.order:
                continue
            for r in example_norm_variants(res, prefix):
                sfx = "_r" + r
                runs = plain_step_runs(res, isa, model)
                base = statistics.median([v for _, v in runs]) if runs else None
                cells = [isa, model, r, "–" if base is None else "**%.0f** (%s)" % (
                    base, ", ".join(fmt_us(res, n) for n, _ in runs))]
                for v in ("norms", "clip", "clip_noise"):
                    cells.append(fmt_us(res, prefix + v + sfx))
                    cells.append(fmt_share(share(res.step_us(prefix + v + sfx), base)))
                gplain = res.step_us(prefix + "grads_plain")
                cells.append(fmt_us(res, prefix + "grads_plain"))
                cells.append(fmt_us(res, prefix + "grads_norms" + sfx))
                cells.append(fmt_share(share(res.step_us(prefix + "grads_norms" + sfx), gplain)))
                gram = res.step_us(prefix + "gram" + sfx)
                cells.append(fmt_us(res, prefix + "gram" + sfx))
                cells.append(fmt_share(ratio(gram, base)))
                cells.append("%s → %s" % (fmt_bytes(res.arena(plain)),
                                          fmt_bytes(res.arena(prefix + "norms" + sfx))))
                sh = share(res.step_us(prefix + "norms" + sfx), base)
                if sh is None:
                    cells.append("not measured")
                else:
                    ok = sh < EXAMPLE_NORMS_TARGET
                    verdicts.append(("%s %s r%s" % (isa, model, r), sh, ok))
                    cells.append("met" if ok else "**missed**")
                lines.append("| " + " | ".join(cells) + " |")
    return lines, verdicts


def rank1_fused_section(a):
    """tern's fused update against its unfused step, per ISA, model and
    optimizer (the train_step runs)."""
    res = a.res
    models, opts, isas = train_runs(res)
    if not isas:
        return ["(no train_step benchmarks in this run)"]
    head = ["ISA", "model", "optimizer", "unfused µs", "fused µs", "fused ÷ unfused time",
            "unfused arena (bytes)", "fused arena (bytes)", "fused ÷ unfused arena"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for isa in isas:
        for model in models:
            for opt in opts:
                u, f = step_name(isa, model, opt, "unfused"), step_name(isa, model, opt, "fused")
                if u not in res.order:
                    continue
                r = ratio(res.step_us(f), res.step_us(u))
                lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    isa, model, opt, fmt_us(res, u), fmt_us(res, f),
                    ("**%s**" if r is not None and r > 1 else "%s") % fmt_ratio(r),
                    fmt_bytes(res.arena(u)), fmt_bytes(res.arena(f)),
                    fmt_ratio(ratio(res.arena(f), res.arena(u)))))
    return lines


def rank1_accum_section(a):
    res = a.res
    isas, models = rank1_runs(res, "accum")
    if not isas:
        return ["(no rank1_accum benchmarks in this run)"]
    head = ["ISA", "model", "one step", "µs", "micro-batches + flush", "µs",
            "accumulated ÷ one step time", "one-step arena (bytes)",
            "accumulating arena (bytes)", "arena ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for isa in isas:
        for model in models:
            prefix = "rank1_accum/%s/%s/" % (isa, model)
            step = [n for n in res.order if n == prefix + "step"]
            acc = [n for n in res.order if n.startswith(prefix + "accum_")]
            if not step or not acc:
                continue
            s_, c_ = step[0], acc[0]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                isa, model, s_.rsplit("/", 1)[1], fmt_us(res, s_), c_.rsplit("/", 1)[1],
                fmt_us(res, c_), fmt_ratio(ratio(res.step_us(c_), res.step_us(s_))),
                fmt_bytes(res.arena(s_)), fmt_bytes(res.arena(c_)),
                fmt_ratio(ratio(res.arena(c_), res.arena(s_)))))
    return lines


def rank1_section(a):
    out = []
    out.append("Training variants that use the rank-1 structure of a dense layer's gradient "
               "(`bench/rank1_bench.cpp`; README, \"Rank-1 structure\"), each against the plain "
               "step of the same model and ISA, through the public API. Times are the median "
               "CPU time of one iteration in µs; shares are (variant − plain) ÷ plain of those "
               "medians; `arena` is `tern::arena_bytes(spec)` of the benchmark's spec. "
               "* = repetitions spread more than %.0f %%. Every benchmark starts again from the "
               "initial weights (untimed) every 100 steps: hundreds of steps on one fixed "
               "batch drive the gradients and Adam's moments into the subnormal range, where "
               "a step gets several times slower (the MLP at batch 1: 9× after 4000 steps), "
               "so without the restart the time per step would depend on how many iterations "
               "the benchmark library chose (the Training step table above restarts the same "
               "way, tern and Eigen alike). The machine is shared (2 logical CPUs, other jobs "
               "compiling), so a difference of a few percent between two medians is within "
               "the run-to-run spread: the three runs of each plain step show how large it "
               "was." % (100 * NOISY_CV))
    out.append("")
    out.append("### Per-example gradient norms")
    out.append("")
    out.append("`plain`: train_step of the plain spec (Adam): the median of every "
               "measurement of that same step in this run (this group's `plain`, the Training "
               "step table's unfused Adam step and, where there is one, the accumulation table's "
               "one step; each in parentheses), so that one disturbed measurement does not "
               "decide a share. "
               "`norms`: "
               "`spec.with_example_gradients(R)` without clipping — every delta of the step "
               "kept in its own buffer, the norms of every example's gradient from the rank-1 "
               "factors, the gradient formed after the backward pass instead of during it; "
               "all of that is in the share. `clip`: plus per-example clipping (bound 0.1, "
               "below the examples' norms at initialisation, so delta rows are scaled). "
               "`clip+noise`: plus "
               "Gaussian noise on every parameter (noise multiplier 1, DP-SGD). `grads`: "
               "`Model::compute_gradients` alone (no optimizer step) for the plain and the "
               "example-gradient spec. `Gram`: the arithmetic of the norms alone, outside any "
               "model — the 16×16 blocks of UUᵀ and DDᵀ for every example and Dense layer "
               "from the ISA's backprop_rows, and their double sums — as a share of the "
               "plain step. An MLP example is one row (R = 1); the feed-forward block's are "
               "sequences of R rows. Target: `norms` costs less than %.0f %% of the plain "
               "step." % (100 * EXAMPLE_NORMS_TARGET))
    out.append("")
    lines, verdicts = rank1_examples_section(a)
    out += lines
    if verdicts:
        met = [v for v in verdicts if v[2]]
        out.append("")
        out.append("**Per-example norms < %.0f %% of a step**: met in %d of %d cases%s" % (
            100 * EXAMPLE_NORMS_TARGET, len(met), len(verdicts),
            "." if len(met) == len(verdicts) else "; missed: " + ", ".join(
                "%s (%s)" % (label, fmt_share(sh)) for label, sh, ok in verdicts if not ok) + "."))
    out.append("")
    out.append("### Fused update")
    out.append("")
    out.append("tern's train_step with `spec.with_fused_update()` (each Dense layer's weights "
               "updated by the optimizer during the backward pass, a block of 16 rows of W at "
               "a time, no weight-gradient buffer) against the unfused step, with plain SGD, "
               "SGD with momentum and Adam: the tern runs of the Training step table "
               "(`train_step/<isa>/<model>/<optimizer>/<unfused|fused>`). Ratios below 1 "
               "favour the fused update (**bold**: fused slower).")
    out.append("")
    out += rank1_fused_section(a)
    out.append("")
    out.append("### Gradient accumulation")
    out.append("")
    out.append("`accum_<k>x<r>`: k `Model::accumulate` calls of r rows and one `Model::flush` "
               "(`spec.with_accumulation(k·r)`, Adam) — the same update as one train_step on "
               "the k·r rows of the model (`step`). Each micro-batch's forward and backward run at "
               "r rows; the flush forms each Dense layer's gradient as one rank-(k·r) update.")
    out.append("")
    out += rank1_accum_section(a)
    return out


def is_small_shape(s):
    """Issue 12's small shapes: n <= 4, m <= 16, 16x16x16, 1000x37x61."""
    n, _, m = s
    return n <= SMALL_SHAPE_MAX_ROWS or m <= SMALL_SHAPE_MAX_COLUMNS or s in SMALL_SHAPES_NAMED


class TargetCell:
    """One measured cell checked against one target of issue 12."""

    def __init__(self, item, cell, measured, target, value, goal, need=None, ceiling=None,
                 seen=None):
        self.item, self.cell, self.measured, self.target = item, cell, measured, target
        self.value, self.goal = value, goal
        self.ok = value is not None and value >= goal
        # The GFLOP/s tern would have to reach to meet the target, and the most
        # this machine can give that cell (FMA peak, or the cache roofline for
        # n <= 4); None where the target is not a rate (items 2 and 3 are
        # fractions of the ceiling, so they never exceed it).
        self.need, self.ceiling = need, ceiling
        # A ceiling below a figure measured in the same cell (seen: the
        # fastest of tern and the peer) is a model that does not fit that
        # cell (e.g. the weights partly in a faster cache level than the one
        # measured): it judges nothing.
        self.ceiling_fits = ceiling is None or seen is None or seen <= ceiling

    def reach(self):
        """'needs X of Y GFLOP/s' and whether the target is above the ceiling."""
        if self.need is None or not self.ceiling:
            return "–"
        if not self.ceiling_fits:
            return "%s; the modelled %s is below a measured figure, so not judged" % (
                fmt(self.need), fmt(self.ceiling))
        above = self.need > self.ceiling
        return "%s of %s%s" % (fmt(self.need), fmt(self.ceiling),
                               " — **above the ceiling**" if above else "")

    def above_ceiling(self):
        return (self.need is not None and bool(self.ceiling) and self.ceiling_fits and
                self.need > self.ceiling)


def step_flops(model):
    """The least arithmetic of one training step of a train_bench model
    (2 flops per multiply-add): forward, every weight gradient, and the
    input gradient of every Dense layer but the first (the model input needs
    none). Bias, activation, loss and update work is left out, so this is a
    lower bound. None for a name it does not know."""
    mlp = re.match(r"^mlp([\d-]+)_b(\d+)$", model)
    if mlp:
        widths = [int(w) for w in mlp.group(1).split("-")]
        n = int(mlp.group(2))
        macs = [a * b for a, b in zip(widths, widths[1:])]
        return 2 * n * (2 * sum(macs) + sum(macs[1:]))
    ffn = re.match(r"^ffn_n(\d+)_d(\d+)_dff(\d+)$", model)
    if ffn:
        n, d, dff = (int(v) for v in ffn.groups())
        return 2 * n * (2 * (2 * d * dff) + d * dff)
    return None


# The epoch benchmark's model (bench/epoch_bench.cpp): flops per training
# image are those of its step divided by the batch.
EPOCH_MODEL_PER_IMAGE = "mlp784-256-128-10_b1"


ITEM_TITLES = {
    1: "Every kernel × shape ≥ %.1f× the fastest peer form (≥ %.1f× on the small shapes: "
       "n ≤ %d, m ≤ %d, %s)" % (PEER_RATIO_TARGET, SMALL_SHAPE_PEER_RATIO_TARGET,
                               SMALL_SHAPE_MAX_ROWS, SMALL_SHAPE_MAX_COLUMNS,
                               ", ".join(shape_key(x) for x in SMALL_SHAPES_NAMED)),
    2: "Large shapes (%s): all three kernels ≥ %s" % (
        ", ".join(shape_key(x) for x in PEAK_TARGET_SHAPES),
        " and ".join("%.0f %% of peak/%s" % (100 * v, k) for k, v in PEAK_TARGET.items())),
    3: "n = %d: ≥ %.0f %% of the cache roofline" % (ROOFLINE_TARGET_ROWS, 100 * ROOFLINE_TARGET),
    4: "Whole step against the Eigen step, like for like (speed ratio = Eigen µs ÷ tern µs)",
    5: "Fashion-MNIST epoch: tern in at most 1/%.0f of the fastest Eigen epoch's time" %
       EPOCH_SPEEDUP_TARGET,
}


def target_cells(a):
    """Every cell of issue 12's targets that this run measured."""
    res = a.res
    cells = []
    # 1: tern's fastest ISA against the fastest peer form.
    for kernel in KERNELS:
        for s in a.shapes:
            best, bp = a.tern_best(kernel, s), a.best_peer(kernel, s)
            if best is None or bp is None:
                continue
            goal = SMALL_SHAPE_PEER_RATIO_TARGET if is_small_shape(s) else PEER_RATIO_TARGET
            r = best[0] / bp[0]
            rl = a.roofline(kernel, s)
            cells.append(TargetCell(
                1, "%s %s" % (kernel, shape_key(s)),
                "%.2f× (tern %s `%s`, peer %s `%s`)" % (r, fmt(best[0]), best[1], fmt(bp[0]),
                                                       bp[1]),
                "≥ %.1f×%s" % (goal, " (small shape)" if is_small_shape(s) else ""), r, goal,
                goal * bp[0], rl[0] if rl else a.best_peak, max(best[0], bp[0])))
    # 2: % of peak on the large shapes, per ISA.
    for isa, goal in PEAK_TARGET.items():
        peak = res.peak(isa)
        if isa not in a.tern or not peak:
            continue
        for kernel in KERNELS:
            for s in PEAK_TARGET_SHAPES:
                v = a.value(kernel, isa, s)
                if v is None:
                    continue
                cells.append(TargetCell(
                    2, "%s %s %s" % (kernel, isa, shape_key(s)),
                    "%s (%s GFLOP/s of %s)" % (pct(v / peak), fmt(v), fmt(peak)),
                    "≥ %.0f %% of peak/%s" % (100 * goal, isa), v / peak, goal))
    # 3: n = 1 against the roofline.
    for kernel in KERNELS:
        for s in a.shapes:
            if s[0] != ROOFLINE_TARGET_ROWS:
                continue
            best, rl = a.tern_best(kernel, s), a.roofline(kernel, s)
            if best is None or rl is None:
                continue
            attainable, _, gbps, level = rl
            cells.append(TargetCell(
                3, "%s %s" % (kernel, shape_key(s)),
                "%s (%s of %s GFLOP/s; %s at %s GB/s)" % (
                    pct(best[0] / attainable), fmt(best[0]), fmt(attainable), level.upper(),
                    fmt(gbps)),
                "≥ %.0f %%" % (100 * ROOFLINE_TARGET), best[0] / attainable, ROOFLINE_TARGET))
    # 4: the whole step.
    _, opts, isas = train_runs(res)
    for model, tern_form, eigen_form, goal in STEP_TARGETS:
        for opt in opts:
            t = fastest_step(res, isas, model, opt, tern_form)
            e = fastest_step(res, [TRAIN_PEER], model, opt, eigen_form)
            if t is None or e is None:
                continue
            r = e[0] / t[0]
            # Batch 1 streams its weights: bound by memory, not by the FMA
            # peak, so no FMA ceiling is claimed for it.
            work = step_flops(model) if not model.endswith("_b1") else None
            cells.append(TargetCell(
                4, "%s %s: tern %s ÷ Eigen %s" % (model, opt, tern_form, eigen_form),
                "%.2f× (tern %s µs `%s` %s, Eigen %s µs %s)" % (
                    r, fmt(t[0]), t[1], t[2], fmt(e[0]), e[2]),
                "≥ %.1f×" % goal, r, goal,
                work * goal / (e[0] * 1e3) if work else None, a.best_peak))
    # 5: the epoch.
    er = epoch_ratio(res)
    if er:
        need = None
        eigen_rate = next((res.median.get(n, {}).get("samples_per_s") for n in res.order
                           if n.startswith("epoch/%s/" % er[1])), None)
        if eigen_rate:
            need = EPOCH_SPEEDUP_TARGET * eigen_rate * step_flops(EPOCH_MODEL_PER_IMAGE) / 1e9
        cells.append(TargetCell(
            5, "Fashion-MNIST epoch", "%.2f× (against `%s`)" % er,
            "≥ %.1f×" % EPOCH_SPEEDUP_TARGET, er[0], EPOCH_SPEEDUP_TARGET, need, a.best_peak))
    return cells


def targets_section(a):
    """Issue 12's targets: a tally per item, then every cell below its target."""
    cells = target_cells(a)
    lines = ["The targets of issue 12 (constants at the top of `bench/make_results.py`, with "
             "the issue's wording), checked against this run's medians. \"Best peer\" is the "
             "fastest form of OpenBLAS or Eigen for that kernel and shape (see Kernels); "
             "whole steps compare tern's fastest ISA with the Eigen step of the same optimizer, "
             "\"best\" being the faster of a side's unfused and fused forms.", ""]
    lines += ["| item | target | cells met | cells measured |", "|---|---|---|---|"]
    for item, title in sorted(ITEM_TITLES.items()):
        mine = [c for c in cells if c.item == item]
        met = sum(c.ok for c in mine)
        lines.append("| %d | %s | %s | %d |" % (
            item, title, ("%d" if met == len(mine) else "**%d**") % met if mine else "–",
            len(mine)))
    lines.append("")
    met = sum(c.ok for c in cells)
    lines.append("%d of %d measured cells meet their target." % (met, len(cells)))
    warning = over_peak_warning(a)
    if warning:
        lines += ["", warning]
    lines += ["", "## Below target", ""]
    below = [c for c in cells if not c.ok]
    if not below:
        lines.append("No measured cell is below its target.")
    else:
        lines += ["\"Needs\" is the GFLOP/s tern would have to reach to meet the target, "
                  "against the most this machine gives that cell: the fastest FMA peak, or for "
                  "n ≤ %d the cache roofline; whole steps count only their least arithmetic "
                  "(forward, weight gradients, input gradients but the first layer's), so "
                  "their figure is a lower bound. A target above the ceiling cannot be met "
                  "on this machine by any code while the peer keeps its speed." %
                  MEMORY_BOUND_ROWS, ""]
        lines += ["| item | cell | measured | target | needs (GFLOP/s) of ceiling |",
                  "|---|---|---|---|---|"]
        for c in below:
            lines.append("| %d | %s | %s | %s | %s |" % (c.item, c.cell, c.measured, c.target,
                                                      c.reach()))
        above = [c for c in below if c.above_ceiling()]
        lines += ["", "%d of the %d cells below target need more than this machine's ceiling." %
                  (len(above), len(below))]
    missing = [title for item, title in sorted(ITEM_TITLES.items())
               if not any(c.item == item for c in cells)]
    if missing:
        lines += ["", "Not measured in this run (no cells): %s." % "; ".join(missing)]
    return lines


def ceilings_section(a):
    res = a.res
    lines = ["| ceiling | used (best repetition) | median before kernels | median after |",
             "|---|---|---|---|"]

    def med(name, counter):
        return fmt(res.median.get(name, {}).get(counter))

    for isa in VECTOR_ISAS:
        name = "peak/" + isa
        if name in res.skipped:
            lines.append("| %s | skipped (%s) | | |" % (name, res.skipped[name]))
        elif res.peak(isa):
            lines.append("| %s | **%s GFLOP/s** | %s | %s |" % (
                name, fmt(res.peak(isa)), med(name, "GFLOPS"), med(name + "/end", "GFLOPS")))
    for name, level, k, m in res.membw_names():
        gbps = res.ceiling(name, "GBps")
        if gbps is not None:
            lines.append("| %s: %s × %s floats (%s) in %s | **%s GB/s** | %s | %s |" % (
                name, k, m, human_bytes(4 * k * m), level.upper(), fmt(gbps),
                med(name, "GBps"), med(name + "/end", "GBps")))
    return lines


def over_peak_warning(a):
    """A kernel faster than its ISA's measured FMA peak means the peak loop
    itself was slowed down: say so wherever % of peak is used."""
    over = []
    for kernel in KERNELS:
        for s in a.shapes:
            for isa in VECTOR_ISAS:
                r = ratio(a.value(kernel, isa, s), a.res.peak(isa))
                if r is not None and r > 1.0:
                    over.append("%s/%s/%s (%.0f %%)" % (kernel, isa, shape_key(s), 100 * r))
    if not over:
        return None
    return ("**%d kernel medians exceed their ISA's measured FMA peak**, which cannot be: the "
            "peak loop was slowed by other load while it ran, so every %% of peak here is "
            "inflated: %s." % (len(over), ", ".join(over[:6])))


def noise_section(a):
    res = a.res
    noisy = sorted(((cv, n) for n, cv in res.cv.items() if cv > NOISY_CV), reverse=True)
    lines = []
    if noisy:
        lines.append("%d of %d medians come from repetitions spreading more than %.0f %% "
                     "(marked * in the tables); the worst: %s." % (
                         len(noisy), len(res.cv), 100 * NOISY_CV,
                         ", ".join("%s (%.0f %%)" % (n, 100 * cv) for cv, n in noisy[:5])))
    else:
        lines.append("Every median comes from repetitions within %.0f %% of each other." %
                     (100 * NOISY_CV))
    warning = over_peak_warning(a)
    if warning:
        lines.append(warning)
    threaded = []
    checked = 0
    for name, c in res.median.items():
        parts = name.split("/")
        if len(parts) == 3 and peer_family(parts[1]) and "cpu_threads" in c:
            checked += 1
            if c["cpu_threads"] > THREADS_TOLERANCE:
                threaded.append((name, c["cpu_threads"]))
    if checked:
        if threaded:
            lines.append("Single-thread check: **%d of %d peer benchmarks used more CPU than "
                         "their own thread** (process/thread CPU time): %s." % (
                             len(threaded), checked,
                             ", ".join("%s %.2f" % t for t in threaded[:6])))
        else:
            lines.append("Single-thread check: in all %d peer benchmarks the process used no "
                         "more CPU time than the benchmark thread (ratio ≤ %.2f)." % (
                             checked, THREADS_TOLERANCE))
    return lines


def findings(a):
    """Where tern trails a peer by a wide margin: the places to tune first."""
    lines = []
    for kernel in KERNELS:
        for s in a.shapes:
            best = a.tern_best(kernel, s)
            if best is None:
                continue
            bp = a.best_peer(kernel, s)
            if bp is not None and best[0] < 0.5 * bp[0]:
                lines.append("- %s %s: tern %s GFLOP/s (%s) vs %s %s: %.2f×" % (
                    kernel, shape_key(s), fmt(best[0]), best[1], bp[1], fmt(bp[0]),
                    best[0] / bp[0]))
    return lines


def write_report(res, path):
    a = Analysis(res)
    ctx = res.context
    out = []
    out.append("# tern-bench results")
    out.append("")
    reps = (re.search(r"--benchmark_repetitions=(\d+)", ctx.get("tern_command", "")) or
            [None, "?"])[1]
    merged = ctx.get("tern_merged", [])
    for m in merged:
        r = re.search(r"--benchmark_repetitions=(\d+)", m.get("command") or "")
        reps += " (%s for the benchmarks measured again by the second command)" % (
            r.group(1) if r else "?")
    out.append("Generated by `bench/make_results.py` from %s of `tern-bench`; do not edit "
               "by hand — rerun the script. Every figure is the **median of %s repetitions** "
               "(GFLOP/s = 2·n·k·m per call over the benchmark thread's CPU time)." % (
                   "one run" if not merged else "%d runs" % (1 + len(merged)), reps))
    out.append("")
    out.append("## Command")
    out.append("")
    out.append("```sh")
    out.append(ctx.get("tern_command", "(not recorded: JSON produced outside make_results.py)"))
    out.append("```")
    out.append("")
    for m in ctx.get("tern_merged", []):
        out.append("Then %d benchmarks were measured again by a second run, whose medians "
                   "replace the first run's (`make_results.py --merge-into`; %s, load average "
                   "at start %s, %s s):" % (
                       m.get("benchmarks", 0), m.get("date", "?"),
                       " / ".join("%.2f" % v for v in m.get("load_avg") or []) or "?",
                       m.get("seconds", "?")))
        out.append("")
        out.append("```sh")
        out.append(m.get("command") or "(not recorded)")
        out.append("```")
        out.append("")
    out.append("`OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` are unset for this command only, "
               "because the development machines set them to force OpenBLAS onto its AVX2 "
               "kernels; nothing else changes them. In the calling environment they were: %s." %
               ctx.get("tern_caller_environment", "(not recorded)"))
    out.append("")
    out.append("## Machine")
    out.append("")
    out += machine_section(res, a)
    out.append("")
    note = openblas_note(res)
    if note:
        out += note
        out.append("")
    if ctx.get("library_build_type") == "debug":
        out.append("Google Benchmark prints \"Library was built as DEBUG\": that is Debian's "
                   "libbenchmark build (no NDEBUG), not tern; it does not touch the timed code.")
        out.append("")
    out.append("## Ceilings")
    out.append("")
    out.append("`peak/<isa>`: a loop of independent FMAs on every register the ISA can spare — "
               "the most one core can compute. `membw/<level>/<k>x<m>`: read bandwidth of "
               "streaming a buffer the size of a k×m weight matrix that is already in cache. "
               "Both are measured before the kernels and again after them (`/end`); load from "
               "other processes can only lower a ceiling, so the best repetition of either is "
               "used. "
               "For n ≤ %d a kernel streams its weights once per call (gemm_rows and "
               "backprop_rows read W: 4·k·m bytes; rank1_accumulate reads and writes G: "
               "8·k·m bytes), so its memory roofline is bandwidth × 2·n·k·m / bytes — "
               "n/2 flops per byte, n/4 for rank1_accumulate (writes estimated at the read "
               "bandwidth, so that roofline is optimistic). The tables use min(memory roofline, "
               "fastest FMA peak)." % MEMORY_BOUND_ROWS)
    out.append("")
    out += ceilings_section(a)
    out.append("")
    out.append("## Kernels")
    out.append("")
    out.append("Columns: GFLOP/s per implementation (tern's kernel tables called directly, "
               "unchecked; `skip` = this CPU lacks the ISA); for each peer its fastest form on "
               "that shape (which form, in backticks: the list below); `tern ÷ best peer` = "
               "tern's fastest ISA ÷ the fastest form of either peer (**bold** below %.1f); "
               "`<isa> %% peak` = that tern ISA ÷ peak/<isa>; for n ≤ %d the attainable roofline "
               "and tern's best as a percentage of it. * = repetitions spread more than %.0f %%. "
               "All operands are warm in cache (the same buffers every iteration); tern's "
               "gemm_rows and rank1_accumulate get their optional panel scratch, as the runtime "
               "gives them from its arena. Every form does the same math on the same numbers: "
               "gemm_rows `Y = X·W + b` with no activation, the bias added by filling Y with b "
               "and accumulating the product into it (beta = 1); rank1_accumulate "
               "`G += alpha·Uᵀ·D`; backprop_rows `dX = D·Wᵀ`; the `_t` forms keep W and G "
               "transposed (m×k) and get the transposes of the same numbers." % (
                   PEER_RATIO_TARGET, MEMORY_BOUND_ROWS, 100 * NOISY_CV))
    out.append("")
    out.append("Peer forms:")
    out.append("")
    out += peer_legend(a)
    for kernel in KERNELS:
        out.append("")
        out.append("### %s" % kernel)
        out.append("")
        out += kernel_table(a, kernel)
    out.append("")
    out.append("### Every peer form")
    out.append("")
    out.append("GFLOP/s of each form of each peer; the fastest of a shape in **bold** (the one "
               "the ratios above use).")
    for kernel in KERNELS:
        table = peer_forms_table(a, kernel)
        if table:
            out.append("")
            out.append("#### %s" % kernel)
            out.append("")
            out += table
    out.append("")
    out.append("## Training step")
    out.append("")
    out.append("One whole training step — batch copied in and validated, forward, loss, "
               "backward, optimizer — through tern's public API with the model built under each "
               "ISA (`tern::select_isa`), beside a hand-written Eigen step doing the same "
               "arithmetic (`bench/peer_eigen_train.cpp`, compiled like the Eigen peer), with "
               "plain SGD (momentum 0), SGD with momentum 0.9 and Adam, learning rate 1e-4. "
               "`unfused`: weight gradients into buffers, then the optimizer (tern's plain "
               "spec; Eigen's gradient buffers). `fused`: no weight-gradient buffer (tern's "
               "`spec.with_fused_update()`; Eigen writing straight into W: `W -= lr·Xᵀ·dZ` for "
               "plain SGD, the velocity as the accumulator for momentum, Adam 16 rows of W at "
               "a time). Models: the Fashion-MNIST MLP 784-256-128-10 (ReLU, softmax "
               "cross-entropy) at batch 1, 32 and 128, and the feed-forward block LayerNorm(X + "
               "Dense(gelu(Dense(X)))) with n=128, d=256, d_ff=1024 and MSE. Both sides start "
               "again from their initial weights every 100 steps (untimed; see Rank-1 training "
               "variants). Figures are µs per step, medians; the ratios are the Eigen step's "
               "time ÷ tern's fastest ISA's (above 1: tern faster; **bold** below 1).")
    out.append("")
    out += training_section(a)
    out.append("")
    out.append("## Fashion-MNIST epoch")
    out.append("")
    out.append("One training epoch of `tern-train-fashion`'s defaults (MLP 784-256-128-10, "
               "batch 64, Adam, learning rate 1e-3 on a cosine schedule over 10 epochs, the "
               "first epoch's seeded shuffle, batches gathered by index) with tern (the ISA "
               "tern-train-fashion picks) and with the Eigen step in both forms "
               "(`bench/epoch_bench.cpp`); the test-set evaluation after the epoch is not "
               "timed. Medians of CPU time per epoch.")
    out.append("")
    out += epoch_section(a)
    out.append("")
    out.append("## Rank-1 training variants")
    out.append("")
    out += rank1_section(a)
    out.append("")
    out.append("## Targets")
    out.append("")
    out += targets_section(a)
    found = findings(a)
    if found:
        out.append("")
        out.append("## Where tern trails a peer by more than 2×")
        out.append("")
        out += found
    out.append("")
    out.append("## Noise")
    out.append("")
    out += noise_section(a)
    out.append("")
    with open(os.path.join(ROOT, path), "w") as f:
        f.write("\n".join(out))


def merge(base, part):
    """`base` with every benchmark of `part` replacing the runs of the same
    name; part's command and duration recorded in the context."""
    names = {b.get("run_name", b["name"]) for b in part["benchmarks"]}
    kept = [b for b in base["benchmarks"] if b.get("run_name", b["name"]) not in names]
    base["benchmarks"] = kept + part["benchmarks"]
    ctx, pctx = base["context"], part["context"]
    merged = ctx.get("tern_merged", [])
    merged.append({"command": pctx.get("tern_command"), "seconds": pctx.get("tern_run_seconds"),
                   "date": pctx.get("date"), "load_avg": pctx.get("load_avg"),
                   "benchmarks": len(names)})
    ctx["tern_merged"] = merged
    return base


def main():
    args = parse_args()
    if args.merge_into and not args.filter:
        sys.exit("--merge-into needs --filter (the benchmarks to re-run)")
    if args.json:
        with open(args.json) as f:
            data = json.load(f)
    elif args.merge_into:
        with open(os.path.join(ROOT, args.merge_into)) as f:
            base = json.load(f)
        data = merge(base, run_benchmark(args))
        with open(os.path.join(ROOT, args.save_json), "w") as f:
            json.dump(data, f, indent=1)
    else:
        data = run_benchmark(args)
    write_report(Results(data), args.out)
    print("wrote " + args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
