"""The commands the README and docs/ show still exist: every `make <target>` is a target of the
Makefile, every `build/<program>` is built, and every `--flag` written after a program is one its
--help lists. So a renamed flag or target fails a test instead of leaving a page that lies.

Run by ctest with IP_SOURCE_DIR (the repository) and IP_BINARY_DIR (the build).
"""
import glob
import os
import re
import subprocess
import unittest

SOURCE = os.environ.get("IP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("IP_BINARY_DIR", os.path.join(SOURCE, "build"))
PAGES = [os.path.join(SOURCE, "README.md")] + sorted(glob.glob(os.path.join(SOURCE, "docs", "*.md")))
PROGRAMS = ("rand_power", "mnist_power", "kernel_bench", "power_table", "compare_results", "figures",
            "check_kernels", "train_example")


def commands(text):
    """Command lines shown on a page: lines of sh code blocks, and `inline code` spans."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            found.append(line.split("#", 1)[0].strip())
    found += re.findall(r"`([^`\n]+)`", text)
    return [c for c in found if c]


class DocsCommands(unittest.TestCase):
    def test_make_targets_exist(self):
        with open(os.path.join(SOURCE, "Makefile")) as f:
            targets = set(re.findall(r"^([a-z][a-z0-9-]*):", f.read(), flags=re.M))
        missing = []
        for page in PAGES:
            with open(page) as f:
                for cmd in commands(f.read()):
                    for target in re.findall(r"(?:^|\s)make ((?:[a-z][a-z0-9-]*)(?:\s+[a-z][a-z0-9-]*)*)", cmd):
                        for t in target.split():
                            if t not in targets:
                                missing.append(f"{os.path.basename(page)}: make {t}")
        self.assertEqual(missing, [])

    def test_program_flags_exist(self):
        helps = {}
        for program in PROGRAMS:
            path = os.path.join(BUILD, program)
            if os.access(path, os.X_OK):
                helps[program] = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
        if not helps:
            self.skipTest("no programs built in " + BUILD)
        missing = []
        for page in PAGES:
            with open(page) as f:
                for cmd in commands(f.read()):
                    m = re.search(r"(?:^|[\s/])(%s)\b(.*)" % "|".join(PROGRAMS), cmd)
                    if not m or m.group(1) not in helps:
                        continue
                    for flag in re.findall(r"(--[a-z][a-z0-9-]*)", m.group(2)):
                        if flag not in helps[m.group(1)]:
                            missing.append(f"{os.path.basename(page)}: {m.group(1)} {flag}")
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
