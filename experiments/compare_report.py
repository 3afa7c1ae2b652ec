"""The report of compare_torch: the targets each ratio is judged against, and the text table."""
import statistics

TARGETS = {
    "kernel": 0.8,          # every elementwise kernel <= 0.8x PyTorch's time
    "rand_small": 0.1,      # seconds per instance at 10^0 <= 0.1x
    "rand_large_each": 1.0,  # at 10^5 and 10^6, every function <= 1.0x
    "rand_large_median": 0.8,  # ... and the median function <= 0.8x
    "mnist": 0.8,           # training step <= 0.8x
}


def judge_rand(rows):
    """Adds target and pass to rand rows; returns summary rows for the median-function target."""
    summary = []
    for r in rows:
        if r["scale"] == 0:
            r["target"] = TARGETS["rand_small"]
        elif r["scale"] >= 5:
            r["target"] = TARGETS["rand_large_each"]
        else:
            r["target"] = None
        r["pass"] = None if r["target"] is None or r["ratio"] is None else r["ratio"] <= r["target"]
    for scale in sorted({r["scale"] for r in rows if r["scale"] >= 5}):
        ratios = [r["ratio"] for r in rows if r["scale"] == scale and r["ratio"] is not None]
        if ratios:
            m = statistics.median(ratios)
            summary.append({"part": "rand_median", "function": f"median of {len(ratios)}", "scale": scale,
                            "ratio": m, "target": TARGETS["rand_large_median"],
                            "pass": m <= TARGETS["rand_large_median"]})
    return summary


def fmt(v, spec):
    width = int(spec.split(".")[0] or 0)
    return "-".rjust(width) if v is None else format(v, spec)


def verdict(p):
    return "-" if p is None else "PASS" if p else "MISS"


def report(header, kernel_rows, rand_rows, rand_summary, mnist_rows):
    lines = list(header)
    if kernel_rows:
        lines += ["", "1. kernels: median ms per call; ratio = ours / PyTorch (target <= 0.8 for every function)",
                  "   prealloc = PyTorch into a preallocated output (out=), where it has one: the rest of",
                  "   PyTorch's time is the page faults of its fresh output, which a user's call pays",
                  f"{'function':14s} {'dir':9s} {'kind':11s} {'ours_ms':>9s} {'torch_ms':>9s} "
                  f"{'prealloc':>9s} {'ratio':>6s} {'target':>6s} result"]
        for r in kernel_rows:
            lines.append(f"{r['function']:14s} {r['direction']:9s} {r['kind']:11s} {fmt(r['ours_s'] and r['ours_s'] * 1e3, '9.2f')} "
                         f"{r['torch_s'] * 1e3:9.2f} {fmt(r['torch_prealloc_s'] and r['torch_prealloc_s'] * 1e3, '9.2f')} "
                         f"{fmt(r['ratio'], '6.3f')} {fmt(r['target'], '6.2f')} {verdict(r['pass'])}")
        judged = [r for r in kernel_rows if r["pass"] is not None]
        lines.append(f"   kernels meeting the target: {sum(r['pass'] for r in judged)}/{len(judged)}")
    if rand_rows:
        lines += ["", "2. rand_power: both tools in rounds paired with Identity (one random order per round);",
                  "   seconds per instance (median over rounds) with ratio = ours / PyTorch, and each tool's cost",
                  "   relative to Identity with its 95% interval (distribution-free, over rounds)",
                  "   targets: 10^0 <= 0.1; 10^5 and 10^6 <= 1.0 each and <= 0.8 for the median function",
                  f"{'function':14s} {'scale':>5s} {'rounds':>9s} {'ours_s/inst':>12s} {'torch_s/inst':>12s} "
                  f"{'ratio':>7s} {'target':>6s} result  {'ours vs Identity':>24s} {'PyTorch vs Identity':>24s}"]
        def rel(v, ci):
            return "-" if v is None else f"{v:.3f} [{fmt(ci[0], '.3f')}, {fmt(ci[1], '.3f')}]"
        for r in sorted(rand_rows, key=lambda r: (r["scale"], r["function"])):
            rounds = f"{r['ours_rounds'] or '-'}/{r['torch_rounds']}"
            lines.append(f"{r['function']:14s} {r['scale']:5d} {rounds:>9s} {fmt(r['ours_s_per_instance'], '12.4e')} "
                         f"{r['torch_s_per_instance']:12.4e} {fmt(r['ratio'], '7.3f')} {fmt(r['target'], '6.2f')} "
                         f"{verdict(r['pass']):6s} {rel(r['ours_relative'], r['ours_relative_ci'] or [None, None]):>24s} "
                         f"{rel(r['torch_relative'], r['torch_relative_ci']):>24s}")
        for s in rand_summary:
            lines.append(f"   scale 10^{s['scale']}: {s['function']} functions' ratio {s['ratio']:.3f} "
                         f"(target <= {s['target']}) {verdict(s['pass'])}")
        for scale in sorted({r["scale"] for r in rand_rows}):
            at = [r for r in rand_rows if r["scale"] == scale]
            judged = [r for r in at if r["pass"] is not None]
            if judged:
                lines.append(f"   scale 10^{scale}: {sum(r['pass'] for r in judged)}/{len(judged)} functions meet "
                             f"the per-function target")
            for tool in ("ours", "torch"):
                widths = [r[f"{tool}_half_width"] for r in at if r[f"{tool}_half_width"] is not None]
                controls = [abs(r[f"{tool}_relative"] - 1) for r in at if r["control"] and r[f"{tool}_relative"]]
                if widths:
                    lines.append(f"   scale 10^{scale} {'ours' if tool == 'ours' else 'PyTorch':7s} noise: worst 95% CI "
                                 f"half-width {100 * max(widths):.2f}%, median {100 * statistics.median(widths):.2f}%"
                                 + (f"; no-op controls within {100 * max(controls):.2f}% of Identity" if controls else ""))
    if mnist_rows:
        lines += ["", "3. MNIST training step (batch 128): mean ms per step; ratio = ours / PyTorch (target <= 0.8)",
                  f"{'function':14s} {'steps':>5s} {'ours_ms':>9s} {'torch_ms':>9s} {'ratio':>7s} {'target':>6s} result"]
        for r in mnist_rows:
            lines.append(f"{r['function']:14s} {r['steps']:5d} {fmt(r['ours_s_per_step'] and r['ours_s_per_step'] * 1e3, '9.3f')} "
                         f"{r['torch_s_per_step'] * 1e3:9.3f} {fmt(r['ratio'], '7.3f')} {r['target']:6.2f} {verdict(r['pass'])}")
        judged = [r for r in mnist_rows if r["pass"] is not None]
        lines.append(f"   functions meeting the target: {sum(r['pass'] for r in judged)}/{len(judged)}")
    return "\n".join(lines) + "\n"
