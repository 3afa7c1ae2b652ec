#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers into tests/fuzz/corpus/<fuzzer>/.

Seeds are small valid files (named valid-*) and near-valid ones (bad-*: one field wrong, so the
fuzzer starts next to every check). tests/test_fuzz_corpus.cc loads every seed with the real
parsers and fails when a valid-* seed is refused or a bad-* seed accepted, so the corpus follows
format changes. Deterministic: rerunning it rewrites the same bytes. Standard library only.

    python3 tests/fuzz/make_corpus.py
"""
import gzip
import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(fuzzer, name, data):
    d = os.path.join(ROOT, fuzzer)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    # mtime=0 keeps the bytes identical from one run of this script to the next.
    return gzip.compress(data, compresslevel=9, mtime=0)


# ---- IDX (big-endian magic 0x000008NN, NN dimensions, then unsigned bytes) ----

def idx(dims, payload=None):
    n = 1
    for d in dims:
        n *= d
    if payload is None:
        payload = bytes((i * 7) % 10 for i in range(n))
    return struct.pack(">I", 0x0800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_corpus():
    labels = idx([12])
    images = idx([3, 4, 5], bytes((i * 37) % 256 for i in range(60)))
    write("idx", "valid-labels", labels)
    write("idx", "valid-images", images)
    write("idx", "valid-labels.gz", gz(labels))
    write("idx", "valid-images.gz", gz(images))
    write("idx", "valid-empty-labels", idx([0]))
    write("idx", "bad-truncated-images", images[:-3])
    write("idx", "bad-trailing-labels", labels + b"\x00")
    write("idx", "bad-huge-dims", idx([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b""))
    write("idx", "bad-huge-dims.gz", gz(idx([60000, 28, 28], b"\x00" * 64)))
    write("idx", "bad-label-11", idx([2], b"\x01\x0b"))
    write("idx", "bad-float-type", struct.pack(">II", 0x0D01, 1) + b"\x00" * 4)
    bad_crc = bytearray(gz(labels))
    bad_crc[-8] ^= 0xFF  # gzip trailer: CRC-32 of the data, then its length
    write("idx", "bad-crc.gz", bytes(bad_crc))
    write("idx", "bad-two-members.gz", gz(labels) + gz(b"\x00"))


# ---- model files (engine/model_file.h) ----

MAGIC = b"IPMODEL\x1a"
VERSION = 1


def model(description, shapes, version=VERSION, fix_crc=True):
    out = bytearray(MAGIC)
    out += struct.pack("<I", version)
    out += struct.pack("<I", len(description)) + description.encode()
    out += struct.pack("<I", len(shapes))
    for s in shapes:
        out += struct.pack("<I", len(s)) + b"".join(struct.pack("<Q", d) for d in s)
    k = 0
    for s in shapes:
        n = 1
        for d in s:
            n *= d
        for _ in range(n):
            out += struct.pack("<f", (k % 11) * 0.125 - 0.5)
            k += 1
    crc = zlib.crc32(bytes(out)) if fix_crc else 0
    return bytes(out) + struct.pack("<I", crc)


def model_corpus():
    write("model_file", "valid-mlp", model("linear(3,2) relu linear(2,1)", [[2, 3], [2], [1, 2], [1]]))
    # Arguments written as describe() prints them (the loader compares): 0.25 is exact in float.
    write("model_file", "valid-prelu", model("linear(2,2) prelu leaky_relu(0.25) linear(2,2)",
                                             [[2, 2], [2], [1], [2, 2], [2]]))
    write("model_file", "valid-dropout", model("linear(1,1) dropout tanh", [[1, 1], [1]]))
    # Structurally valid, so the checksum passes: the description disagrees with the shapes.
    write("model_file", "bad-shape-mismatch", model("linear(3,2) relu", [[3, 2], [2]]))
    # A description naming an enormous layer behind tiny data: must be refused, not allocated.
    write("model_file", "bad-huge-linear", model("linear(16777216,16777216)", [[1, 1], [1]]))
    write("model_file", "bad-unknown-function", model("linear(1,1) nosuch", [[1, 1], [1]]))
    write("model_file", "bad-version", model("linear(1,1)", [[1, 1], [1]], version=99))
    write("model_file", "bad-crc", model("linear(1,1)", [[1, 1], [1]], fix_crc=False))
    write("model_file", "bad-rank-5", model("tanh", [[1, 1, 1, 1, 1]]))


# ---- result files (results/results.h) ----

RELU = "torch.nn.modules.activation.ReLU"
GELU = "torch.nn.modules.activation.GELU"
DROP = "torch.nn.modules.dropout.Dropout"


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


def results_corpus():
    paper_scale = {
        "train_epochs": 2000, "pred_items": 100, "train_times": {}, "runs": 2,
        "pred_times": [{RELU: 0.00031, GELU: 0.00042, DROP: 0.0002},
                       {RELU: 0.00030, GELU: 0.00041, DROP: 0.00021}],
        "device": "cpu", "hardware_name": "Some CPU", "outprefix": "cpu",
        "test_chunk_size": 100, "started_at": "Mon Jun  8 14:25:21 2020 CEST",
        "parameters": {"scale": 2, "test_size_cap": 100000},
    }
    write("results", "valid-rand-paper.json", dump(paper_scale))
    ours = dict(paper_scale, scale=2, runs_planned=3, partial=True, generator="inferencepower",
                pred_energy=[{RELU: {"joules": 1.5, "quality": "measured", "source": "rapl"}},
                             {RELU: {"joules": None, "quality": "unavailable", "source": ""}}])
    write("results", "valid-rand-ours.json", dump(ours))
    consolidated = {"device": "cuda", "hardware_name": "Some GPU", "outprefix": "gpu", "runs": 1,
                    "train_epochs": 10, "parameters": {"test_size_cap": 10},
                    "scales": [dict(paper_scale, pred_items=1, test_chunk_size=1),
                               dict(paper_scale, pred_items=1000, test_chunk_size=10)]}
    write("results", "valid-rand-all.json", dump(consolidated))
    cls = "<class '%s'>"
    mnist = {"times": {cls % RELU: 12.5, cls % GELU + "(approximate='tanh')": 13.0},
             "accuracies": {cls % RELU: 0.91, cls % GELU + "(approximate='tanh')": 0.88},
             "epochs": {cls % RELU: 3}, "reached_target": {cls % RELU: True},
             "accuracy_curves": {cls % RELU: [0.5, 0.8, 0.91]},
             "energy": {cls % RELU: {"joules": 40.0, "quality": "estimated", "source": "tdp"}},
             "dataset": "mnist", "device": "cpu", "target_accuracy": 0.9, "max_epochs": 100,
             "partial": False}
    write("results", "valid-mnist.json", dump(mnist))
    write("results", "valid-function-list.json", dump([RELU, GELU, DROP]))
    write("results", "bad-negative-seconds.json",
          dump(dict(paper_scale, pred_times=[{RELU: -1.0}])))
    write("results", "bad-energy-runs.json", dump(dict(ours, pred_energy=[{}])))
    write("results", "bad-mnist-missing-accuracy.json",
          dump(dict(mnist, accuracies={cls % RELU: 0.91})))
    write("results", "bad-truncated.json", dump(paper_scale)[:200])
    write("results", "bad-scale-type.json", dump(dict(paper_scale, scale="two")))


if __name__ == "__main__":
    idx_corpus()
    model_corpus()
    results_corpus()
