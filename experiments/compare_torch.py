#!/usr/bin/python3
"""compare_torch: our engine against PyTorch on this machine, in one run.

Three comparisons, each side measured in the same invocation so both see the same machine load:
  1. kernels: every function's forward and backward on large float32 arrays (default 256 MiB),
     2 threads. Ours: build/kernel_bench (its JSON). PyTorch: the torch.nn module called the way a
     user calls it (forward under torch.inference_mode(), a fresh output each call; backward as
     torch.autograd.grad(y, x, g) with a given upstream gradient g).
  2. rand_power: Linear(1024->1024), the function x4, Linear(1024->16), eval mode, predicting 10^n
     random rows in chunks of min(10^n, 100000). Both sides in rand_power's rounds design: every
     round times each function once and Identity as often, in one random order, each sample after
     an untimed prediction; costs relative to Identity with 95% intervals, so the two tools' noise
     can be read side by side. Ours: build/rand_power --train-epochs 0 (untrained weights cost the
     same as trained ones).
  3. MNIST training step: batch 128, Linear(784->1024), the function x4, Linear(1024->10),
     LogSoftmax, NLL, SGD(lr 1e-4, momentum 0.9). Ours: build/mnist_power on the first
     128*steps training images, one epoch, which reports the seconds spent in training steps only
     (forward, loss, backward, update); PyTorch: the same steps timed the same way. Both report
     the mean step time (total / steps; the first step is included on both sides).

This script runs our tools and pairs their figures with PyTorch's; the PyTorch side of each design
is torch_timing.py, the targets and the text report compare_report.py.

The functions and their torch.nn constructors come from the activation table, read from
build/check_kernels --list-functions --json (--table); --check-table only checks that every
function this script names is in the table, and needs no PyTorch.

Run with /usr/bin/python3 (Debian's python3-torch). Exit status: 0 done, 2 PyTorch missing or bad
arguments, 1 a benchmark failed (or --check-table found a problem). The pass/fail column is
informational: a miss does not fail the run.
"""
import argparse
import csv
import datetime
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

from compare_report import TARGETS, fmt, judge_rand, report
from function_table import read_table
from torch_timing import (PREALLOC_FORMS, half_width, mnist_tensors, torch_kernels, torch_mnist_step,
                          torch_rand_rounds)



def cpu_has_avx512() -> bool:
    """Whether /proc/cpuinfo lists avx512f (False where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return any(line.startswith("flags") and "avx512f" in line.split() for line in f)
    except OSError:
        return False


# Our builds and PyTorch see the same settings. SkylakeX: Debian's OpenBLAS 0.3.21 misdetects
# the AVX-512 CPUs of our reference VMs, and PyTorch's GEMM runs through it; only where the CPU
# has AVX-512, since OpenBLAS takes the named core without checking and would run AVX-512
# instructions on a CPU without them. Set before torch is imported so its OpenMP and OpenBLAS
# read them; values already in the environment win.
os.environ.setdefault("OMP_NUM_THREADS", "2")
if cpu_has_avx512():
    os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")

INSTALL_HINT = ("compare_torch: PyTorch is not installed for /usr/bin/python3.\n"
                "  Install Debian's package:  sudo apt-get install python3-torch\n"
                "  then run:                  make compare-torch")

# Every function of our table: our name -> (torch.nn constructor source, kind), in table order;
# filled from the table by load_functions() before anything runs. The constructors use the
# table's arguments (PyTorch's defaults but for Threshold); eval() or train() is set by the caller.
FUNCTIONS = {}
# Our name -> the key of our result files (the torch path, with the arguments when there are any).
KEYS = {}
# "<name>:train" -> FUNCTIONS[name] for the functions kernel_bench also times in train mode.
KERNEL_EXTRA = {}
KINDS = ("elementwise", "rowwise", "dropout")

# The only functions this script and its modules name; --check-table checks each against the table
# (and tests/test_python_tools.cc checks that no other function name is written out in them).
QUICK_FUNCTIONS = "relu,gelu,tanh,dropout"
HEAVY_FUNCTIONS = "relu,gelu,tanh,sigmoid,softplus,dropout"  # --heavy-functions default
TRAIN_MODE_KERNELS = ("rrelu",)      # kernel_bench times them in train mode too (random slopes)
NO_OUTPUT_FUNCTIONS = ("identity",)  # nn.Identity returns its input object: no kernel to compare


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load_functions(table):
    """Fills FUNCTIONS and KERNEL_EXTRA from the table. Row-wise functions act over the last
    dimension (our rows of 1024), as the models apply them."""
    FUNCTIONS.clear()
    KEYS.clear()
    for f in table["functions"]:
        args = [a for a in (f["torch_args"], "dim=-1" if f["kind"] == "rowwise" else "") if a]
        FUNCTIONS[f["cli_name"]] = (f"nn.{f['torch_class']}({', '.join(args)})", f["kind"])
        KEYS[f["cli_name"]] = f["torch_path"] + (f"({f['torch_args']})" if f["torch_args"] else "")
    KERNEL_EXTRA.clear()
    for name in TRAIN_MODE_KERNELS:
        if name in FUNCTIONS:
            KERNEL_EXTRA[name + ":train"] = FUNCTIONS[name]


def named_functions():
    """Every function name this script writes out, by where it does."""
    return {"QUICK_FUNCTIONS": QUICK_FUNCTIONS.split(","), "HEAVY_FUNCTIONS": HEAVY_FUNCTIONS.split(","),
            "TRAIN_MODE_KERNELS": list(TRAIN_MODE_KERNELS), "NO_OUTPUT_FUNCTIONS": list(NO_OUTPUT_FUNCTIONS),
            "torch_timing.PREALLOC_FORMS": list(PREALLOC_FORMS)}


def check_table(table):
    """Every function this script names must be in the table, and the script's functions must be
    the table's, every row. Returns the problems found (empty: none)."""
    problems = []
    load_functions(table)
    names = [f["cli_name"] for f in table["functions"]]
    if list(FUNCTIONS) != names:
        problems.append(f"the script's functions {list(FUNCTIONS)} are not the table's {names}")
    for where, listed in named_functions().items():
        for name in listed:
            if name not in FUNCTIONS:
                problems.append(f"{where} names '{name}', which the table lacks")
    for name, (_, kind) in FUNCTIONS.items():
        if kind not in KINDS:
            problems.append(f"'{name}' has kind '{kind}', which this script does not know")
    return problems


def parse_size(text):
    units = {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
    t = text.strip().lower()
    for u, mult in units.items():
        if t.endswith(u):
            return int(float(t[:-len(u)]) * mult) // 4
    return int(t)


def parse_scales(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def parse_functions(text, table):
    if text == "all":
        return list(table)
    names = [f for f in text.split(",") if f]
    for f in names:
        if f not in table:
            raise SystemExit(f"compare_torch: unknown function '{f}'; known: {', '.join(table)}")
    return names


def run_tool(cmd, out_dir):
    """Runs one of our binaries with --out out_dir; returns the parsed JSON files it wrote."""
    os.makedirs(out_dir, exist_ok=True)
    log("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out_dir, "*.json")))]


def load_average():
    return os.getloadavg()[0]


# ---------------------------------------------------------------------------------------------
# 1. kernels

def compare_kernels(args, torch, nn, names, out_dir):
    elements = parse_size(args.kernel_size)
    log(f"[kernels] ours: kernel_bench, {elements} floats, 2 threads")
    ours_json = run_tool([os.path.join(args.build_dir, "kernel_bench"), "--functions", ",".join(names),
                          "--directions", "forward,backward", "--sizes", str(elements),
                          "--threads", str(args.threads), "--gemm-shapes", "",
                          "--repeats", str(args.repeats), "--warmup", str(args.warmup),
                          "--out", os.path.join(out_dir, "kernel_bench")],
                         os.path.join(out_dir, "kernel_bench"))
    ours = {}
    for doc in ours_json:
        for k in doc.get("kernels", []):
            if k["device"] == "cpu" and k["elements"] == elements and k["threads"] == args.threads:
                t = k["timing"]["median_s"]
                if k["kind"] == "copy":  # kernel_bench times two copies (memcpy, vector): ours is the faster
                    ours[("copy", "-")] = min(ours.get(("copy", "-"), t), t)
                else:
                    ours[(k["function"], k["direction"])] = t
    log(f"[kernels] PyTorch: torch.nn modules, {args.threads} threads")
    names_t = names + [n + ":train" for n in names if n in TRAIN_MODE_KERNELS]
    # Dropouts (and RReLU's random slopes) are timed in train mode, as kernel_bench does.
    specs = [(n, {**FUNCTIONS, **KERNEL_EXTRA}[n][0],
              FUNCTIONS.get(n, ("", ""))[1] == "dropout" or n in KERNEL_EXTRA) for n in names_t]
    theirs, prealloc = torch_kernels(torch, nn, specs, elements, 1024, args.warmup, args.repeats)
    rows = []
    for (name, direction), (med, lo, hi) in theirs.items():
        o = ours.get((name, direction))
        kind = "copy" if name == "copy" else {**FUNCTIONS, **KERNEL_EXTRA}[name][1]
        ratio = o / med if o else None
        # nn.Identity returns its input object (no kernel, no output): nothing to compare.
        target = None if name == "copy" or name in NO_OUTPUT_FUNCTIONS else TARGETS["kernel"]
        rows.append({"part": "kernel", "function": name, "direction": direction, "kind": kind,
                     "size": f"{elements * 4 / 2**20:g} MiB", "ours_s": o, "torch_s": med,
                     "torch_min_s": lo, "torch_max_s": hi,
                     "torch_prealloc_s": prealloc[name][0] if direction in ("forward", "-") and name in prealloc else None,
                     "ratio": ratio, "target": target,
                     "pass": None if ratio is None or target is None else ratio <= target})
    return rows


# ---------------------------------------------------------------------------------------------
# 2. rand_power

def compare_rand(args, torch, nn, names, scale, out_dir):
    heavy = scale > args.all_functions_max_scale
    fnames = [f for f in names if f in parse_functions(args.heavy_functions, FUNCTIONS)] if heavy else names
    fnames = [f for f in fnames if f != "identity"]
    log(f"[rand] scale {scale}: {len(fnames)} function(s) and Identity in rounds; ours then PyTorch")
    sub = os.path.join(out_dir, f"rand_power_scale{scale}")
    docs = run_tool([os.path.join(args.build_dir, "rand_power"), "--functions", ",".join(fnames + ["identity"]),
                     "--scales", str(scale), "--budget", f"{args.rand_budget}s", "--precision", str(args.precision),
                     "--min-sample", f"{args.min_sample * 1e3}ms", "--threads", str(args.threads),
                     "--train-epochs", "0", "--no-model-cache", "--energy", "off", "--quiet", "--out", sub], sub)
    costs = {}
    for doc in docs:
        for sc in doc.get("scales", []):
            if "costs" in sc:
                costs = sc["costs"]
    sources = {n: FUNCTIONS[n][0] for n in fnames + ["identity"]}
    theirs = torch_rand_rounds(torch, nn, sources, fnames, scale, args)
    rows = []
    for name in fnames + ["identity"]:
        ours = costs.get("functions", {}).get(KEYS[name])
        o = ours["seconds_per_instance"]["value"] if ours else None
        t = theirs["seconds"][name][0]
        rel_t = theirs["relative"].get(name, (1.0, 1.0, 1.0))
        rows.append({"part": "rand", "function": name, "scale": scale, "design": "rounds",
                     "ours_rounds": ours["rounds"] if ours else None, "torch_rounds": theirs["rounds"],
                     "ours_s_per_instance": o, "torch_s_per_instance": t,
                     "ours_relative": ours["relative"]["value"] if ours else None,
                     "ours_relative_ci": [ours["relative"]["ci_low"], ours["relative"]["ci_high"]] if ours else None,
                     "torch_relative": rel_t[0], "torch_relative_ci": [rel_t[1], rel_t[2]],
                     "ours_half_width": half_width((ours["relative"]["value"], ours["relative"]["ci_low"],
                                                    ours["relative"]["ci_high"])) if ours and name != "identity" else None,
                     "torch_half_width": half_width(rel_t) if name != "identity" else None,
                     "control": FUNCTIONS[name][1] == "dropout",
                     "ratio": o / t if o else None})
        log(f"  {name:13s} 10^{scale}: ours {fmt(o, '.4g')} s/inst, PyTorch {t:.4g} s/inst, ratio {fmt(o and o / t, '.3f')}")
    return rows


# ---------------------------------------------------------------------------------------------
# 3. MNIST training step

def find_mnist(explicit):
    candidates = [explicit] if explicit else [os.environ.get("MNIST_DIR", ""), "../shared/data/mnist",
                                              "../../shared/data/mnist", "data/mnist"]
    for d in candidates:
        if d and os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")):
            return d
    return None


def compare_mnist(args, torch, nn, names, out_dir):
    data_dir = find_mnist(args.mnist_dir)
    if not data_dir:
        log("[mnist] skipped: MNIST not found (--mnist-dir, $MNIST_DIR or data/mnist; data/download_mnist.sh)")
        return []
    steps = args.mnist_steps
    names = [f for f in names if f in parse_functions(args.mnist_functions, FUNCTIONS)]
    log(f"[mnist] {steps} training steps of batch 128 per function; per function ours then PyTorch")
    n = 128 * steps
    images, labels = mnist_tensors(torch, data_dir, n)
    rows = []
    for name in names:
        # One mnist_power per function, right before PyTorch's: both see the same load.
        sub = os.path.join(out_dir, "mnist_power", name)
        docs = run_tool([os.path.join(args.build_dir, "mnist_power"), "--functions", name,
                         "--data-dir", data_dir, "--limit-train", str(n), "--max-epochs", "1",
                         "--threshold", "1", "--threads", str(args.threads), "--energy", "off",
                         "--quiet", "--out", sub], sub)
        seconds = [v for d in docs for v in d.get("times", {}).values()]
        o = seconds[0] / steps if len(seconds) == 1 else None
        t = torch_mnist_step(torch, nn, FUNCTIONS[name][0], images, labels, steps)
        ratio = o / t if o else None
        rows.append({"part": "mnist", "function": name, "steps": steps, "ours_s_per_step": o,
                     "torch_s_per_step": t, "ratio": ratio, "target": TARGETS["mnist"],
                     "pass": None if ratio is None else ratio <= TARGETS["mnist"]})
        log(f"  {name:13s}: ours {o * 1e3 if o else float('nan'):.3f} ms/step, PyTorch {t * 1e3:.3f} ms/step")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build", help="where kernel_bench, rand_power, mnist_power are")
    ap.add_argument("--out", default="build/compare-torch", help="output directory (text, JSON, CSV)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: {QUICK_FUNCTIONS}, 4 MiB kernels, scales 0-3, 20 MNIST steps")
    ap.add_argument("--parts", default="kernels,rand,mnist", help="which comparisons to run")
    ap.add_argument("--functions", default=None, help="comma-separated, or all (default)")
    ap.add_argument("--kernel-size", default=None, help="array size per kernel call (default 256MiB)")
    ap.add_argument("--scales", default=None, help="rand_power scales (default 0-6)")
    ap.add_argument("--all-functions-max-scale", type=int, default=5,
                    help="scales above this run only --heavy-functions (10^6 takes ~20 s per function per side)")
    ap.add_argument("--heavy-functions", default=HEAVY_FUNCTIONS,
                    help="functions for the scales above --all-functions-max-scale")
    ap.add_argument("--rand-budget", type=float, default=None,
                    help="seconds of rounds per scale and tool (default 60; 5 with --quick)")
    ap.add_argument("--precision", type=float, default=0.01,
                    help="rounds stop when every relative cost's 95%% interval is within this fraction")
    ap.add_argument("--min-sample", type=float, default=0.015, help="seconds a sample lasts at least")
    ap.add_argument("--mnist-functions", default="all", help="functions for the MNIST step (a subset of --functions)")
    ap.add_argument("--mnist-steps", type=int, default=None, help="training steps per function (default 200)")
    ap.add_argument("--mnist-dir", default=None, help="MNIST idx .gz files (default: search)")
    ap.add_argument("--table", default=None,
                    help="the activation table: check_kernels or a JSON file from its --list-functions --json "
                         "(default: check_kernels in --build-dir)")
    ap.add_argument("--check-table", action="store_true",
                    help="only check that every function this script names is in the table (no PyTorch needed)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=None, help="timed PyTorch kernel calls (median; default 7)")
    args = ap.parse_args()

    table = read_table(args.table or os.path.join(args.build_dir, "check_kernels"), "compare_torch")
    if args.check_table:
        problems = check_table(table)
        for p in problems:
            print(f"compare_torch: {p}", file=sys.stderr)
        named = sorted({n for listed in named_functions().values() for n in listed})
        print(f"named: {','.join(named)}")
        if not problems:
            print(f"compare_torch: table check ok ({len(FUNCTIONS)} functions)")
        return 1 if problems else 0
    load_functions(table)

    try:
        import torch
        import torch.nn as nn
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")  # Dropout2d/3d on 2-D input: deprecated, still timed as called
    torch.set_num_threads(args.threads)  # PyTorch defaults to 1 thread on this machine

    q = args.quick
    functions = args.functions or (QUICK_FUNCTIONS if q else "all")
    args.kernel_size = args.kernel_size or ("4MiB" if q else "256MiB")
    args.scales = args.scales or ("0-3" if q else "0-6")
    args.mnist_steps = args.mnist_steps or (20 if q else 200)
    args.repeats = args.repeats or (3 if q else 7)
    args.rand_budget = args.rand_budget or (5.0 if q else 60.0)
    names = parse_functions(functions, FUNCTIONS)
    for tool in ("kernel_bench", "rand_power", "mnist_power"):
        if not os.access(os.path.join(args.build_dir, tool), os.X_OK):
            print(f"compare_torch: {args.build_dir}/{tool} not found; build first (make build)", file=sys.stderr)
            return 2
    parts = set(args.parts.split(","))
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="raw-", dir=args.out)

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = load_average()
    t0 = time.time()
    kernel_rows, rand_rows, mnist_rows = [], [], []
    try:
        if "kernels" in parts:
            kernel_rows = compare_kernels(args, torch, nn, names, work)
        if "rand" in parts:
            for scale in parse_scales(args.scales):
                rand_rows += compare_rand(args, torch, nn, names, scale, work)
        if "mnist" in parts:
            mnist_rows = compare_mnist(args, torch, nn, names, work)
    except RuntimeError as e:
        print(f"compare_torch: error: {e}", file=sys.stderr)
        return 1
    rand_summary = judge_rand(rand_rows)
    load_end = load_average()

    header = [
        f"compare_torch: ours vs PyTorch {torch.__version__}, started {started:%Y-%m-%d %H:%M:%S} UTC, "
        f"{time.time() - t0:.0f} s",
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
        f"{platform.platform()}; load average (1 min) {load_start:.2f} at start, {load_end:.2f} at end"
        + (" -- shared machine, timings are noisy" if max(load_start, load_end) > 1.5 else ""),
        f"settings: {args.threads} threads both sides (torch.set_num_threads), OMP_NUM_THREADS="
        f"{os.environ['OMP_NUM_THREADS']}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
        f"functions {functions}, kernels {args.kernel_size}, rand scales {args.scales} "
        f"(above 10^{args.all_functions_max_scale}: {args.heavy_functions} only), "
        f"MNIST {args.mnist_steps} steps ({args.mnist_functions})" + (" [--quick]" if q else ""),
    ]
    text = report(header, kernel_rows, rand_rows, rand_summary, mnist_rows)
    print(text, end="")

    all_rows = kernel_rows + rand_rows + rand_summary + mnist_rows
    with open(os.path.join(args.out, "compare_torch.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "compare_torch.json"), "w") as f:
        json.dump({"generator": "inferencepower compare_torch", "torch_version": torch.__version__,
                   "started_at": started.isoformat(), "load_average_start": load_start,
                   "load_average_end": load_end, "settings": vars(args), "targets": TARGETS,
                   "raw_dir": work, "rows": all_rows}, f, indent=1)
    fields = sorted({k for r in all_rows for k in r})
    with open(os.path.join(args.out, "compare_torch.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["part", "function"] + [k for k in fields if k not in ("part", "function")])
        w.writeheader()
        w.writerows(all_rows)
    log(f"compare_torch: wrote {args.out}/compare_torch.{{txt,json,csv}} (raw tool output in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
