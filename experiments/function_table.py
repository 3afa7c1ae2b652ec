"""The activation table for the Python tools: read from `check_kernels --list-functions --json`,
so that kernels/common/activation_list.h stays the only list of functions."""
import json
import math
import os
import subprocess


def read_table(source, program):
    """The table's JSON: `source` is the check_kernels binary (run with --list-functions --json)
    or a JSON file that command wrote. `program` names the caller in errors (SystemExit)."""
    if source.endswith(".json"):
        with open(source) as f:
            return json.load(f)
    if not os.access(source, os.X_OK):
        raise SystemExit(f"{program}: {source} not found: build the project first (make build) or give --table")
    proc = subprocess.run([source, "--list-functions", "--json"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{program}: {source} --list-functions --json failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def decode(v):
    """A number of the table's (or a golden file's) JSON: non-finite ones are strings there."""
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(v, v) if isinstance(v, str) else v
