#!/usr/bin/env python3
"""Checks that rand_power's default measurement answers its question on this machine.

Runs what `make run` runs (rand_power in rounds, then the figure) twice, one invocation after the
other, the first with an empty model cache (a fresh machine trains its models), and checks:

  controls         every eval-mode dropout (a no-op) within +-1.5% of Identity at 10^3 and up,
                   its interval containing 1 (95% for the four controls together: each at
                   1 - 0.05/4, as rand_power judges them; unadjusted misses are listed too);
  precision        every function's relative-cost 95% interval within +-1% at 10^4 and up;
  reproducibility  for at least 90% of the functions the second run's estimate lies inside the
                   first run's interval, and functions whose intervals do not overlap come in the
                   same order in both runs;
  time             each `make run` (training, measuring and the figure) within 5 minutes.

It prints every figure behind each verdict and writes them, with the machine's description, to
--out (report.txt and report.json). Exit status 0 when it ran (whatever the verdicts), 1 when a
run failed, 2 on bad arguments. Standard library only.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

CONTROL_LIMIT = 0.015
PRECISION_TARGET = 0.01
REPRODUCE_SHARE = 0.90
TIME_LIMIT_S = 300


def run(cmd, log):
    started = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    return proc.returncode, time.monotonic() - started


def consolidated(out_dir):
    files = [f for f in os.listdir(out_dir) if ".all." in f and f.endswith(".json")]
    if len(files) != 1:
        raise RuntimeError(f"{out_dir}: expected one consolidated result file, found {files}")
    with open(os.path.join(out_dir, files[0])) as f:
        return os.path.join(out_dir, files[0]), json.load(f)


def machine():
    def text(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"lscpu": text(["lscpu"]), "nproc": text(["nproc"]), "uptime": text(["uptime"]),
            "platform": platform.platform()}


def costs_by_scale(result):
    return {s["scale"]: s["costs"] for s in result["scales"] if "costs" in s}


def check(first, second, min_control_scale, min_precision_scale):
    """The verdicts and the figures behind them, from two runs' costs."""
    lines, verdicts = [], {}
    a, b = costs_by_scale(first), costs_by_scale(second)
    scales = sorted(set(a) & set(b))

    worst_control, control_ok, control_scales, unadjusted = 0.0, True, [], 0
    for scale in scales:
        if scale < min_control_scale:
            continue
        control_scales.append(scale)
        for run_name, costs in (("first", a), ("second", b)):
            adjusted_failures = costs[scale]["controls"]["failures"]
            for key, f in costs[scale]["functions"].items():
                if not f["control"]:
                    continue
                r = f["relative"]
                dev = abs(r["value"] - 1)
                contains = r["ci_low"] is not None and r["ci_low"] <= 1 <= r["ci_high"]
                unadjusted += not contains
                adjusted = not any(fail.startswith(f["function"] + " ") for fail in adjusted_failures)
                ok = dev <= CONTROL_LIMIT and adjusted
                control_ok &= ok
                worst_control = max(worst_control, dev)
                lines.append(f"  control 10^{scale} {run_name:6} {f['function']:13} {r['value']:.4f} "
                             f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}] "
                             f"{'ok' if ok else 'MISS'}{'' if contains else ' (95% interval alone excludes 1)'}")
    verdicts["controls"] = {"pass": control_ok and bool(control_scales), "worst_deviation": worst_control,
                            "scales": control_scales, "unadjusted_intervals_excluding_1": unadjusted}

    precision = {}
    for scale in scales:
        if scale < min_precision_scale:
            continue
        for run_name, costs in (("first", a), ("second", b)):
            worst = costs[scale]["worst_relative_half_width"]
            precision[f"10^{scale} {run_name}"] = worst
    verdicts["precision"] = {"pass": bool(precision) and all(w is not None and w <= PRECISION_TARGET
                                                             for w in precision.values()),
                             "worst_half_width": precision}

    inside, total, order_ok, order_pairs, swaps = 0, 0, True, 0, []
    for scale in scales:
        fa, fb = a[scale]["functions"], b[scale]["functions"]
        keys = [k for k in fa if k in fb and fa[k]["verdict"] != "reference"]
        for k in keys:
            ra, rb = fa[k]["relative"], fb[k]["relative"]
            if ra["ci_low"] is None:
                continue
            total += 1
            inside += ra["ci_low"] <= rb["value"] <= ra["ci_high"]
        for i, k1 in enumerate(keys):
            for k2 in keys[i + 1:]:
                a1, a2 = fa[k1]["relative"], fa[k2]["relative"]
                if a1["ci_low"] is None or a2["ci_low"] is None:
                    continue
                if a1["ci_high"] < a2["ci_low"] or a2["ci_high"] < a1["ci_low"]:
                    order_pairs += 1
                    before = a1["value"] < a2["value"]
                    after = fb[k1]["relative"]["value"] < fb[k2]["relative"]["value"]
                    if before != after:
                        order_ok = False
                        swaps.append(f"10^{scale}: {fa[k1]['function']} vs {fa[k2]['function']}")
    share = inside / total if total else 0.0
    verdicts["reproducibility"] = {"pass": share >= REPRODUCE_SHARE and order_ok, "inside_share": share,
                                   "estimates": total, "separated_pairs": order_pairs, "swapped": swaps}
    return verdicts, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--out", required=True, help="folder for both runs and the report")
    ap.add_argument("--run-args", default="--functions all --scales 2-4 --budget 200s --train-epochs 20",
                    help="rand_power's arguments, as the Makefile's RUN_ARGS (default: make run's)")
    ap.add_argument("--control-from", type=int, default=3, help="lowest scale whose controls are checked")
    ap.add_argument("--precision-from", type=int, default=4, help="lowest scale whose precision is checked")
    args = ap.parse_args()
    rand_power = os.path.join(args.build_dir, "rand_power")
    figures = os.path.join(args.build_dir, "figures")
    for binary in (rand_power, figures):
        if not os.access(binary, os.X_OK):
            print(f"check_decisive: {binary} not found: build first (make build)", file=sys.stderr)
            return 2
    os.makedirs(args.out, exist_ok=True)
    before = machine()
    results, seconds = [], []
    for i in (1, 2):
        out = os.path.join(args.out, f"run{i}")
        cache = os.path.join(args.out, "models")  # empty for the first run: it trains, as on a fresh machine
        cmd = [rand_power, *args.run_args.split(), "--out", out, "--model-cache", cache, "--prefix", f"run{i}"]
        print(f"check_decisive: run {i}: {' '.join(cmd)}", flush=True)
        rc, s1 = run(cmd, os.path.join(args.out, f"run{i}.log"))
        if rc != 0:
            print(f"check_decisive: run {i} failed with exit status {rc}; see {args.out}/run{i}.log", file=sys.stderr)
            return 1
        rc, s2 = run([figures, "--input", out, "--out", os.path.join(out, "figures")],
                     os.path.join(args.out, f"figures{i}.log"))
        if rc != 0:
            print(f"check_decisive: figures {i} failed with exit status {rc}", file=sys.stderr)
            return 1
        seconds.append(s1 + s2)
        results.append(consolidated(out))
    verdicts, lines = check(results[0][1], results[1][1], args.control_from, args.precision_from)
    verdicts["time"] = {"pass": max(seconds) <= TIME_LIMIT_S, "seconds": seconds}
    report = [f"check_decisive on {platform.node()}: {before['nproc']} CPUs; load before: {before['uptime']}",
              f"runs: {args.run_args}", f"files: {results[0][0]}, {results[1][0]}", ""]
    for name, v in verdicts.items():
        detail = {k: v[k] for k in v if k != "pass"}
        report.append(f"{name:16} {'PASS' if v['pass'] else 'MISS'}  {json.dumps(detail)}")
    report += ["", *lines, "", f"load after: {machine()['uptime']}"]
    text = "\n".join(report) + "\n"
    print(text)
    with open(os.path.join(args.out, "report.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump({"verdicts": verdicts, "run_args": args.run_args, "machine_before": before,
                   "files": [r[0] for r in results]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
