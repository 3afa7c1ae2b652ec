#!/usr/bin/env python3
"""Regenerate tests/golden/activations.json from PyTorch (format: tests/golden/README.md).

Usage:  python3 tests/golden/regenerate.py [--table build/check_kernels]
                                           [--out tests/golden/activations.json] [--seed 1234]
        python3 tests/golden/regenerate.py --check-table [--table ...] [--golden FILE]

Needs PyTorch. On Debian/Ubuntu:  sudo apt-get install python3-torch
otherwise:                         python3 -m pip install torch
The shipped file was made with PyTorch 1.13.1 (CPU); other versions may differ at edge cases,
which is the point of regenerating: compare, don't overwrite blindly.

The functions (every element-wise and row-wise row of the activation table), their PyTorch
modules and default parameters, and the edge-case inputs come from the table, read from
`check_kernels --list-functions --json` (--table: that binary, or a JSON file it wrote): this
script keeps no list of its own. Functions are written in table order. --check-table needs no
PyTorch: it checks that every function named here is in the table and that what this script
would record (functions, classes, params, edge cases) is what the golden file holds.

The reference `y` and `grad` are computed in float64 on float32-exact inputs; `y_f32` and
`grad_f32` are PyTorch's own float32 results, informative only. The random inputs follow the
README (randn*4, then uniform(-12, 12)); the C++ tests read whatever `x` the file holds.
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "experiments"))
from function_table import decode as dec, read_table  # noqa: E402

F32_MAX = 3.4028234663852886e38

# What the file records as a function's params beyond the table's default parameters: PyTorch
# constructor arguments that are not table parameters, and PyTorch's own spelling of a default
# (Softplus's are ints). Keyed by table id; --check-table checks the keys against the table and
# that a value given for a table parameter equals the table's default.
EXTRA_PARAMS = {
    "GELU": {"approximate": "none"},
    "GELU_tanh": {"approximate": "tanh"},
    "PReLU": {"num_parameters": 1},
    "RReLU": {"mode": "eval", "negative_slope_eval": (0.125 + 1.0 / 3.0) / 2},
    "ReLU6": {"min_val": 0.0, "max_val": 6.0},
    "SELU": {"alpha": 1.6732632423543772, "scale": 1.0507009873554805},
    "Softplus": {"beta": 1, "threshold": 20},
}
LEARNABLE_WEIGHT = "PReLU"  # its weight and weight gradient are recorded too
# The dropout semantics the file documents (no vectors).
DROPOUT_DOCUMENTED = ("Dropout", "AlphaDropout")


def edge_cases(table):
    return [dec(v) for v in table["golden_edge_cases"]]


def elementwise_functions(table):
    """Table id -> (torch.nn constructor source, params recorded in the file) of every
    element-wise row, in table order. Modules are used in eval mode (RReLU: its mean slope)."""
    out = {}
    for f in table["functions"]:
        if f["kind"] == "elementwise":
            out[f["id"]] = (f"nn.{f['torch_class']}({f['torch_args']})",
                            {**f["params"], **EXTRA_PARAMS.get(f["id"], {})})
    return out


def rowwise_functions(table):
    """Table id -> torch.nn constructor source of every row-wise row, over the last dimension."""
    return {f["id"]: f"nn.{f['torch_class']}(dim=-1)" for f in table["functions"] if f["kind"] == "rowwise"}


def same_value(a, b):
    a, b = dec(a), dec(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


def check_table(table, golden_path):
    """Returns the problems found (empty: none)."""
    problems = []
    ids = {f["id"]: f for f in table["functions"]}
    named = {"EXTRA_PARAMS": list(EXTRA_PARAMS), "LEARNABLE_WEIGHT": [LEARNABLE_WEIGHT],
             "DROPOUT_DOCUMENTED": list(DROPOUT_DOCUMENTED)}
    for where, names in named.items():
        for name in names:
            if name not in ids:
                problems.append(f"{where} names '{name}', which the table lacks")
    for name, extra in EXTRA_PARAMS.items():
        for key, value in extra.items():
            if name in ids and key in ids[name]["params"] and ids[name]["params"][key] != value:
                problems.append(f"EXTRA_PARAMS['{name}']['{key}'] = {value}, the table's default is "
                                f"{ids[name]['params'][key]}")
    made = set(elementwise_functions(table)) | set(rowwise_functions(table))
    wanted = {f["id"] for f in table["functions"] if f["kind"] in ("elementwise", "rowwise")}
    if made != wanted:
        problems.append(f"would generate {sorted(made)}, the table's element-wise and row-wise rows are "
                        f"{sorted(wanted)}")
    if golden_path:
        with open(golden_path) as f:
            golden = json.load(f)
        if set(golden["functions"]) != set(elementwise_functions(table)):
            problems.append(f"{golden_path}: element-wise functions {sorted(golden['functions'])}, the table's "
                            f"{sorted(elementwise_functions(table))}")
        if set(golden["rowwise"]) != set(rowwise_functions(table)):
            problems.append(f"{golden_path}: row-wise functions {sorted(golden['rowwise'])}, the table's "
                            f"{sorted(rowwise_functions(table))}")
        for name, (ctor, params) in elementwise_functions(table).items():
            entry = golden["functions"].get(name)
            if entry is None:
                continue
            if entry["params"] != params:
                problems.append(f"{golden_path}: {name} records params {entry['params']}, this script {params}")
            if entry["torch_class"] != ctor[len("nn."):ctor.index("(")]:
                problems.append(f"{golden_path}: {name} is a {entry['torch_class']}, this script builds {ctor}")
        edges = edge_cases(table)
        x = golden["functions"][next(iter(golden["functions"]))]["x"] if golden["functions"] else []
        if golden.get("n_edge_cases") != len(edges) or not all(
                same_value(a, b) for a, b in zip(x[:len(edges)], edges)):
            problems.append(f"{golden_path}: its edge cases are not the table's {table['golden_edge_cases']}")
    return problems


def enc(v):
    """A float for strict JSON: non-finite values as strings; repr is the shortest round trip."""
    if isinstance(v, list):
        return [enc(e) for e in v]
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def run(module, x, upstream):
    """Forward and input gradient of module on x (its dtype), for the given upstream gradient."""
    x = x.clone().requires_grad_(True)
    y = module(x)
    y.backward(upstream)
    return y.detach(), x.grad.detach()


def value_class(v):
    return "nan" if math.isnan(v) else ("+inf" if v == math.inf else
                                        ("-inf" if v == -math.inf else "finite"))


def to_f32(v):
    return float(torch.tensor(v, dtype=torch.float64).float())  # overflow rounds to inf


def ulp_f32(v):
    """Spacing of float32 numbers at |v| (subnormal spacing below the normal range)."""
    if abs(v) < 2.0 ** -126:
        return 2.0 ** -149
    return 2.0 ** (math.frexp(abs(v))[1] - 24)


def error_stats(prefix, ref, got, positions, by_x):
    """The README's statistics of PyTorch's float32 result `got` against float64 `ref`."""
    ref, got = ref.flatten().tolist(), got.double().flatten().tolist()
    rel = ulp = absm = scaled = 0.0
    rel_at = ulp_at = None
    mismatch = []
    for r, g, p in zip(ref, got, positions):
        r32 = to_f32(r)
        if value_class(r32) != value_class(g):
            mismatch.append(p)
            continue
        if value_class(r32) != "finite":
            continue
        e = abs(g - r)
        absm, scaled = max(absm, e), max(scaled, e / max(abs(r), 1.0))
        if abs(r) >= 2.0 ** -126 and e / abs(r) > rel:
            rel, rel_at = e / abs(r), p
        if e / ulp_f32(r) > ulp:
            ulp, ulp_at = e / ulp_f32(r), p
    where = "x" if by_x else "pos"
    out = {f"{prefix}max_rel_err": rel, f"{prefix}max_ulp_err": ulp, f"{prefix}max_abs_err": absm,
           f"{prefix}max_scaled_err": scaled,
           f"{prefix}worst_rel_{where}": enc(rel_at) if by_x and rel_at is not None else rel_at,
           f"{prefix}worst_ulp_{where}": enc(ulp_at) if by_x and ulp_at is not None else ulp_at}
    if by_x:
        out[f"{prefix}nonfinite_mismatch_x"] = [enc(p) for p in mismatch]
    else:
        out[f"{prefix}nonfinite_mismatch_count"] = len(mismatch)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", default="build/check_kernels",
                    help="check_kernels, or a JSON file from its --list-functions --json")
    ap.add_argument("--out", default="tests/golden/activations.json")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--check-table", action="store_true",
                    help="only check this script against the table (and --golden); needs no PyTorch")
    ap.add_argument("--golden", default=None, help="with --check-table: a golden file to check against")
    args = ap.parse_args()
    table = read_table(args.table, "regenerate.py")

    if args.check_table:
        problems = check_table(table, args.golden)
        for p in problems:
            print(f"regenerate.py: {p}", file=sys.stderr)
        named = sorted(set(EXTRA_PARAMS) | {LEARNABLE_WEIGHT} | set(DROPOUT_DOCUMENTED))
        print(f"named: {','.join(named)}")
        if not problems:
            print(f"regenerate.py: table check ok ({len(elementwise_functions(table))} element-wise, "
                  f"{len(rowwise_functions(table))} row-wise functions)")
        return 1 if problems else 0

    global torch, nn
    try:
        import torch
    except ImportError:
        sys.exit("regenerate.py needs PyTorch: install it with 'sudo apt-get install python3-torch' "
                 "(Debian/Ubuntu) or 'python3 -m pip install torch', then run this script again.")
    nn = torch.nn
    EDGE_CASES = edge_cases(table)

    torch.manual_seed(args.seed)
    x32 = torch.cat([torch.tensor(EDGE_CASES, dtype=torch.float32),
                     (torch.randn(256, dtype=torch.float64) * 4).float(),
                     (torch.rand(256, dtype=torch.float64) * 24 - 12).float()])
    x64 = x32.double()
    xs = x64.tolist()
    n_edge = len(EDGE_CASES)

    functions = {}
    for name, (ctor, params) in elementwise_functions(table).items():
        m64, m32 = (eval(ctor, {"nn": nn}).eval() for _ in range(2))
        m64, m32 = m64.double(), m32.float()
        y, g = run(m64, x64, torch.ones_like(x64))
        y32, g32 = run(m32, x32, torch.ones_like(x32))
        entry = {"torch_class": type(m64).__name__, "params": params, "x": enc(xs),
                 "y": enc(y.tolist()), "y_f32": enc(y32.tolist()), "grad": enc(g.tolist()),
                 "grad_f32": enc(g32.tolist())}
        entry.update(error_stats("torch_f32_", y, y32, xs, True))
        entry.update(error_stats("torch_f32_grad_", g, g32, xs, True))
        if name == LEARNABLE_WEIGHT:
            w = m64.weight
            entry["weight"] = float(w.detach())
            entry["grad_weight"] = enc(float(w.grad))
            entry["grad_weight_f32"] = enc(float(m32.weight.grad))
            per = torch.where(x64 > 0, torch.zeros_like(x64), x64)  # d y_i / d weight
            entry["grad_weight_elementwise"] = enc(per.tolist())
            entry["grad_weight_sum_over_finite_x"] = enc(float(per[torch.isfinite(x64)].sum()))
            entry["grad_weight_sum_over_random_x"] = enc(float(per[n_edge:].sum()))
        functions[name] = entry

    rows = [torch.zeros(33, dtype=torch.float64),
            torch.randn(33, dtype=torch.float64), torch.full((33,), -1000.0, dtype=torch.float64),
            torch.randn(33, dtype=torch.float64), torch.randn(33, dtype=torch.float64) * 10,
            torch.randn(33, dtype=torch.float64) * 10, -1000 + torch.randn(33, dtype=torch.float64),
            torch.rand(33, dtype=torch.float64) * 9 + 80]
    rows[1][5], rows[3][7] = 1000.0, -math.inf
    descriptions = ["all zeros", "standard normal with one element = 1000", "all elements = -1000",
                    "standard normal with one element = -inf", "standard normal * 10",
                    "standard normal * 10", "-1000 + standard normal",
                    "uniform in [80, 89] (very large positive values)"]
    mx32 = torch.stack(rows).float()
    up32 = torch.randn(8, 33, dtype=torch.float64).float()
    rowwise = {}
    for name, ctor in rowwise_functions(table).items():
        y, g = run(eval(ctor, {"nn": nn}), mx32.double(), up32.double())
        y32, g32 = run(eval(ctor, {"nn": nn}), mx32, up32)
        entry = {"torch_class": name, "params": {"dim": -1}, "shape": [8, 33],
                 "row_descriptions": descriptions, "x": enc(mx32.double().tolist()),
                 "upstream_grad": enc(up32.double().tolist()), "y": enc(y.tolist()),
                 "y_f32": enc(y32.tolist()), "grad": enc(g.tolist()), "grad_f32": enc(g32.tolist())}
        cells = [[r, c] for r in range(8) for c in range(33)]
        entry.update(error_stats("torch_f32_", y, y32, cells, False))
        entry.update(error_stats("torch_f32_grad_", g, g32, cells, False))
        rowwise[name] = entry

    # AlphaDropout's constants as ATen computes them (alpha hard-coded as SELU scale * alpha).
    p, alpha = 0.5, 1.7580993408473766
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = alpha * a * p
    ad = nn.AlphaDropout(p).train()(torch.full((4096,), math.inf))  # inf*0+c: NaN where dropped
    probe = nn.AlphaDropout(p).train()(torch.zeros(65536))
    dropped = probe[probe < 0]  # kept zeros give b > 0, dropped ones a * alpha' + b < 0
    dropout = {
        "Dropout": {"params": {"p": p, "inplace": False}, "scale_kept": 1.0 / (1.0 - p),
                    "semantics": "kept elements scaled by 1/(1-p), dropped 0; eval: identity"},
        "AlphaDropout": {"params": {"p": p, "inplace": False}, "alpha_prime": -alpha, "a": a,
                         "b": b, "dropped_value": -(alpha * a) + b,
                         "float32_of_dropped_value": float(torch.tensor(-(alpha * a) + b,
                                                                        dtype=torch.float32)),
                         "measured_float32_dropped_value": float(dropped[0]),
                         "nan_outputs_for_inf_input": int(torch.isnan(ad).sum())},
        "eval_mode": "all dropouts are the identity in eval mode",
    }

    doc = {"generator": f"PyTorch {torch.__version__} (CPU), float64 reference",
           "torch_version_reported": torch.__version__,
           "cpu_capability": torch.backends.cpu.get_cpu_capability()
           if hasattr(torch.backends.cpu, "get_cpu_capability") else "unknown",
           "seed": args.seed, "n_edge_cases": n_edge, "n_random": len(xs) - n_edge,
           "random_inputs": "256 x randn*4, then 256 x uniform(-12, 12), rounded to float32",
           "functions": functions, "rowwise": rowwise, "dropout": dropout}
    with open(args.out, "w") as f:
        json.dump(doc, f, allow_nan=False)
        f.write("\n")
    print(f"wrote {args.out}: {len(functions)} functions, {len(rowwise)} row-wise")


if __name__ == "__main__":
    sys.exit(main())
