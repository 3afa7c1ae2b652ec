#!/usr/bin/env python3
"""Instructions per vector of the element-wise kernels' inner loops, per SIMD target.

Compiles loops.cc (beside this file) to assembly with the kernel library's flags, finds the inner
loop of every OpCount_<Row>_<direction> function of each x86 target and prints its instruction
count per vector (load, store, loop control and register moves included), the vector
instructions among them, and, when llvm-mca is installed, its estimate of cycles per vector
(steady state, caches warm) for a few CPU models. One iteration handles four vectors (the loops'
StepsOfFourVectors), each 8 floats on AVX2, 16 on AVX3; counts are per vector, rounded.

  python3 kernels/cpu/opcount/opcount.py [--targets AVX2,AVX3] [--functions sigmoid,tanh]
                                         [--mcpu znver3,skylake] [--asm FILE] [--cxx COMPILER]
                                         [--cxx-flags "FLAGS"]

The build runs it with --cpp-table FILE: every loop of every x86 target the compiler built, as
C++ initialisers that kernel_bench's summary shows beside each kernel's measured speed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FLAGS = ["-O3", "-DNDEBUG", "-fPIC", "-fopenmp", "-std=c++17", "-DHWY_SHARED_DEFINE"]
VECTORS_PER_ITERATION = 4  # StepsOfFourVectors


def compile_asm(out, cxx, extra_flags):
    subprocess.run([cxx, *FLAGS, *(f for f in re.split(r"[;\s]+", extra_flags) if f), "-I", ROOT, "-S",
                    os.path.join(HERE, "loops.cc"), "-o", out], check=True)


def functions(asm_lines):
    """Yields (target, row, direction, body lines) for every OpCount function."""
    name = None
    body = []
    for line in asm_lines:
        m = re.match(r"^(_Z\S*OpCount_(\w+?)_(forward|backward)\S*):\s*$", line)
        if m:
            t = re.search(r"N_(AVX3_ZEN4|AVX3_DL|AVX3|AVX2|SSE4|SSSE3|SCALAR|EMU128)", m.group(1))
            name = (t.group(1) if t else "?", m.group(2), m.group(3))
            body = []
            continue
        if name is None:
            continue
        if line.strip().startswith(".cfi_endproc"):
            yield (*name, body)
            name = None
            continue
        body.append(line.rstrip("\n"))


def is_instruction(line):
    s = line.strip()
    return bool(s) and not s.startswith(".") and not s.endswith(":") and not s.startswith("#")


def inner_loop(body):
    """The largest loop (a label with a backward jump to it) holding vector instructions."""
    labels = {}
    best = None
    for i, line in enumerate(body):
        m = re.match(r"^(\.L\w+):", line)
        if m:
            labels[m.group(1)] = i
            continue
        m = re.match(r"^\s+j\w+\s+(\.L\w+)", line)
        if m and m.group(1) in labels:
            start = labels[m.group(1)]
            insns = [l for l in body[start:i + 1] if is_instruction(l)]
            if any("%ymm" in l or "%zmm" in l or "%xmm" in l for l in insns):
                if best is None or len(insns) > len(best):
                    best = insns
    return best or []


def mca(insns, mcpu):
    if not shutil.which("llvm-mca"):
        return None
    text = "\n".join(l for l in insns if not re.match(r"^\s+j\w+\s", l)) + "\n"
    r = subprocess.run(["llvm-mca", f"-mcpu={mcpu}", "-iterations=200"], input=text,
                       capture_output=True, text=True)
    m = re.search(r"Block RThroughput:\s*([\d.]+)", r.stdout)
    m2 = re.search(r"Total Cycles:\s*(\d+)", r.stdout)
    if not m2:
        return None
    return float(m2.group(1)) / 200.0


def assembly_lines(args):
    """The lines of --asm, or of loops.cc compiled now."""
    with tempfile.TemporaryDirectory() as tmp:
        path = args.asm or os.path.join(tmp, "loops.s")
        if not args.asm:
            compile_asm(path, args.cxx, args.cxx_flags)
        with open(path) as f:
            return f.readlines()


def vector_instructions(insns):
    return sum(1 for l in insns if re.search(r"%[xyz]mm|^\s+v", l))


def per_vector(count):
    return int(count / VECTORS_PER_ITERATION + 0.5)


def write_cpp_table(args):
    """Every loop found, all targets: the table kernel_bench's summary includes. Written through a
    temporary file, so that a failed run never leaves half a table for the build to compile."""
    lines = assembly_lines(args)
    entries = []
    for target, row, direction, body in functions(lines):
        insns = inner_loop(body)
        if not insns or target == "?":
            continue
        entries.append(f'{{ip::FunctionId::{row}, "{direction}", "{target}", {per_vector(len(insns))}, '
                       f"{per_vector(vector_instructions(insns))}}},")
    if not entries:
        print("opcount.py: no element-wise loop found in the assembly", file=sys.stderr)
        return 1
    text = ("// Generated at build time by kernels/cpu/opcount/opcount.py from this compiler's assembly of\n"
            "// kernels/cpu/opcount/loops.cc: instructions in each element-wise loop per vector.\n"
            + "\n".join(sorted(entries)) + "\n")
    tmp_path = args.cpp_table + ".tmp"
    with open(tmp_path, "w") as f:
        f.write(text)
    os.replace(tmp_path, args.cpp_table)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default="AVX2,AVX3")
    ap.add_argument("--functions", default="")
    ap.add_argument("--mcpu", default="znver3,skylake")
    ap.add_argument("--asm", help="use this assembly file instead of compiling loops.cc")
    ap.add_argument("--show", action="store_true", help="print each loop's instructions")
    ap.add_argument("--cxx", default="c++", help="the C++ compiler (the kernel library's)")
    ap.add_argument("--cxx-flags", default="",
                    help="flags the build adds for the element-wise loops (activations.cc)")
    ap.add_argument("--cpp-table", metavar="FILE",
                    help="write every loop of every target as C++ initialisers "
                         "{FunctionId, direction, target, instructions, vector instructions} to FILE")
    args = ap.parse_args()
    if args.cpp_table:
        return write_cpp_table(args)
    targets = args.targets.split(",")
    wanted = {f.lower() for f in args.functions.split(",") if f}
    cpus = [c for c in args.mcpu.split(",") if c]
    lines = assembly_lines(args)
    rows = {}
    for target, row, direction, body in functions(lines):
        if target not in targets or (wanted and row.lower() not in wanted):
            continue
        rows[(row, direction, target)] = inner_loop(body)
    header = f"{'function':<12} {'dir':<8} {'target':<6} {'insns':>5} {'vector':>6}"
    for c in cpus:
        header += f" {'cyc ' + c:>13}"
    print(header)
    for (row, direction, target) in sorted(rows, key=lambda k: (k[0].lower(), k[1] != "forward", k[2])):
        insns = rows[(row, direction, target)]
        vec = vector_instructions(insns)
        out = f"{row:<12} {direction:<8} {target:<6} {per_vector(len(insns)):>5} {per_vector(vec):>6}"
        for c in cpus:
            cyc = mca(insns, c)
            out += f" {cyc / VECTORS_PER_ITERATION:>13.2f}" if cyc is not None else f" {'-':>13}"
        print(out)
        if args.show:
            print("\n".join(insns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
