"""check_decisive.py's verdicts on synthetic results with known answers, and one tiny real run.

Run by ctest (tests/CMakeLists.txt part of the top-level CMakeLists): python3 -m unittest.
Environment: IP_SOURCE_DIR (the repository) and IP_BINARY_DIR (the build) for the real run.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("IP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("IP_BINARY_DIR", os.path.join(SOURCE, "build"))
SCRIPT = os.path.join(SOURCE, "experiments", "check_decisive.py")

spec = importlib.util.spec_from_file_location("check_decisive", SCRIPT)
check_decisive = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_decisive)


def fn(name, value, lo, hi, control=False, reference=False):
    return {"function": name, "control": control, "verdict": "reference" if reference else "slower",
            "relative": {"value": value, "ci_low": lo, "ci_high": hi}}


def result(scale, functions, worst, control_failures=()):
    return {"scales": [{"scale": scale, "costs": {"functions": functions, "worst_relative_half_width": worst,
                                                  "controls": {"failures": list(control_failures)}}}]}


class Verdicts(unittest.TestCase):
    def test_good_runs_pass(self):
        a = result(4, {"i": fn("Identity", 1, 1, 1, reference=True), "d": fn("Dropout", 1.004, 0.995, 1.012, True),
                       "r": fn("ReLU", 1.10, 1.095, 1.105), "g": fn("GELU", 1.20, 1.195, 1.205)}, 0.006)
        b = result(4, {"i": fn("Identity", 1, 1, 1, reference=True), "d": fn("Dropout", 0.998, 0.99, 1.006, True),
                       "r": fn("ReLU", 1.101, 1.096, 1.106), "g": fn("GELU", 1.199, 1.19, 1.21)}, 0.008)
        v, _ = check_decisive.check(a, b, 3, 4)
        self.assertTrue(v["controls"]["pass"])
        self.assertTrue(v["precision"]["pass"])
        self.assertTrue(v["reproducibility"]["pass"])
        self.assertEqual(v["reproducibility"]["separated_pairs"], 3)

    def test_a_control_off_its_reference_misses(self):
        a = result(3, {"d": fn("Dropout", 1.02, 1.01, 1.03, True), "r": fn("ReLU", 1.1, 1.0, 1.2)}, 0.09,
                   ["Dropout 1.0200 [1.0050, 1.0350] (98.75% CI)"])
        v, lines = check_decisive.check(a, a, 3, 4)
        self.assertFalse(v["controls"]["pass"])
        self.assertAlmostEqual(v["controls"]["worst_deviation"], 0.02)
        self.assertEqual(v["controls"]["unadjusted_intervals_excluding_1"], 2)
        self.assertTrue(any("MISS" in line for line in lines))
        self.assertFalse(v["precision"]["pass"], "no scale at 10^4 or above: nothing shown precise")

    def test_a_control_whose_plain_interval_misses_but_the_family_one_holds_passes(self):
        a = result(3, {"d": fn("Dropout", 1.006, 1.0001, 1.015, True)}, 0.01)
        v, lines = check_decisive.check(a, a, 3, 4)
        self.assertTrue(v["controls"]["pass"])
        self.assertEqual(v["controls"]["unadjusted_intervals_excluding_1"], 2)
        self.assertTrue(any("alone excludes 1" in line for line in lines))

    def test_a_swapped_ranking_misses(self):
        a = result(4, {"r": fn("ReLU", 1.10, 1.09, 1.11), "g": fn("GELU", 1.20, 1.19, 1.21)}, 0.01)
        b = result(4, {"r": fn("ReLU", 1.25, 1.24, 1.26), "g": fn("GELU", 1.20, 1.19, 1.21)}, 0.01)
        v, _ = check_decisive.check(a, b, 3, 4)
        self.assertFalse(v["reproducibility"]["pass"])
        self.assertEqual(v["reproducibility"]["swapped"], ["10^4: ReLU vs GELU"])
        self.assertEqual(v["reproducibility"]["inside_share"], 0.5)


class TinyRun(unittest.TestCase):
    def test_two_runs_and_a_report(self):
        if not os.access(os.path.join(BUILD, "rand_power"), os.X_OK):
            self.skipTest("no rand_power in " + BUILD)
        out = tempfile.mkdtemp(prefix="ip_check_decisive_")
        try:
            proc = subprocess.run([sys.executable, SCRIPT, "--build-dir", BUILD, "--out", out, "--run-args",
                                   "--functions relu,dropout --scales 0-1 --budget 1s --min-sample 2ms "
                                   "--train-epochs 1 --threads 1", "--control-from", "0", "--precision-from", "1"],
                                  capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
            with open(os.path.join(out, "report.json")) as f:
                report = json.load(f)
            self.assertEqual(set(report["verdicts"]), {"controls", "precision", "reproducibility", "time"})
            self.assertIn("lscpu", report["machine_before"])
            self.assertTrue(os.path.exists(os.path.join(out, "report.txt")))
            for run in ("run1", "run2"):
                self.assertTrue(any(f.startswith("relative_cost_") and f.endswith(".csv")
                                    for f in os.listdir(os.path.join(out, run, "figures"))))
        finally:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
