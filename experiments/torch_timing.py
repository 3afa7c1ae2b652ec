"""PyTorch's side of compare_torch: each comparison's timing design, applied to torch.nn modules.

Modules come as constructor sources from the activation table ("nn.ELU(alpha=1.0)"), built here
with eval; the caller says which are timed in train mode. The only functions named here are
PREALLOC_FORMS's (compare_torch declares them to its --check-table) and rand_power's reference,
identity."""
import gzip
import math
import os
import random
import statistics
import struct
import time


def build(nn, source):
    """The torch.nn module of a constructor source such as "nn.Softmax(dim=-1)"."""
    return eval(source, {"nn": nn})


def median_time(call, warmup, repeats):
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), min(samples), max(samples)


# ---------------------------------------------------------------------------------------------
# 1. kernels

# The functions also timed into a preallocated output, where PyTorch has an out= form.
PREALLOC_FORMS = {
    "relu": lambda torch, x, y: torch.clamp(x, min=0, out=y),
    "sigmoid": lambda torch, x, y: torch.sigmoid(x, out=y),
    "tanh": lambda torch, x, y: torch.tanh(x, out=y),
}


def torch_kernels(torch, nn, specs, elements, cols, warmup, repeats):
    """PyTorch forward and backward per function on (elements/cols) x cols float32. specs: one
    (name, constructor source, train mode) per function, in the order to time them."""
    rows = elements // cols
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(rows, cols, generator=gen) * 4
    g = torch.randn(rows, cols, generator=gen)
    out = {}
    # The reference both sides share: a plain copy (PyTorch: clone, a fresh output like every
    # module call below; ours: kernel_bench's copy into a reused buffer).
    out[("copy", "-")] = median_time(lambda: x.clone(), warmup, repeats)
    for name, source, train in specs:
        module = build(nn, source)
        module.train(train)
        with torch.inference_mode():
            out[(name, "forward")] = median_time(lambda: module(x), warmup, repeats)
        xg = x.clone().requires_grad_(True)
        y = module(xg)
        out[(name, "backward")] = median_time(
            lambda: torch.autograd.grad(y, xg, g, retain_graph=True), warmup, repeats)
        del xg, y
    # The same kernels into a preallocated output: how much of PyTorch's time above is the fresh
    # allocation (its page faults), not the arithmetic.
    prealloc = {}
    y = torch.empty_like(x)
    names = {name for name, _, _ in specs}
    with torch.inference_mode():
        prealloc["copy"] = median_time(lambda: y.copy_(x), warmup, repeats)
        for name, form in PREALLOC_FORMS.items():
            if name in names:
                prealloc[name] = median_time(lambda: form(torch, x, y), warmup, repeats)
    return out, prealloc


# ---------------------------------------------------------------------------------------------
# 2. rand_power

def median_interval(values, level=0.95):
    """Median and its distribution-free interval (order statistics), as rand_power's costs.h."""
    v = sorted(values)
    n = len(v)
    med = statistics.median(v) if v else None
    k = 0
    for cand in range(1, (n + 1) // 2 + 1):
        below = sum(math.comb(n, i) for i in range(cand)) / 2 ** n
        if 1 - 2 * below >= level:
            k = cand
        else:
            break
    return (med, v[k - 1], v[n - k]) if k else (med, None, None)


def half_width(est):
    med, lo, hi = est
    return max(med - lo, hi - med) / med if lo is not None and med else float("inf")


def torch_rand_rounds(torch, nn, sources, names, scale, args):
    """PyTorch's modules (sources: name -> constructor source, "identity" among them) in
    rand_power's rounds design: every round times every function once and Identity as many
    times, in one random order; a sample is an untimed prediction then `reps`
    timed ones (reps sized so the sample lasts --min-sample); each function's cost relative to
    Identity is its time over the geometric mean of the nearest Identity samples on either side.
    Rounds stop at --precision (every function) or the scale's --rand-budget, after 6 at least."""
    items = 10 ** scale
    chunk = min(items, 100000)
    x = torch.randn(chunk, 1024, generator=torch.Generator().manual_seed(12))
    full, last = divmod(items, chunk)
    models = {}
    for name in names + ["identity"]:
        models[name] = nn.Sequential(nn.Linear(1024, 1024), *[build(nn, sources[name]) for _ in range(4)],
                                     nn.Linear(1024, 16)).eval()

    def predict(model):
        for _ in range(full):
            model(x)
        if last:
            model(x[:last])

    def sample(model, reps):
        predict(model)  # untimed: the sample starts from its own network's state
        t = time.perf_counter()
        for _ in range(reps):
            predict(model)
        return (time.perf_counter() - t) / reps

    rng = random.Random(1000003 * scale)
    with torch.inference_mode():
        calls = []
        while len(calls) < 3 or sum(calls) < args.min_sample:
            if len(calls) == 1 and calls[0] >= args.min_sample:
                break
            t = time.perf_counter()
            predict(models["identity"])
            calls.append(time.perf_counter() - t)
        reps = max(1, math.ceil(args.min_sample / statistics.median(calls)))
        relative = {n: [] for n in names}
        seconds = {n: [] for n in names + ["identity"]}
        active, rounds, started = list(names), 0, time.monotonic()
        while True:
            if rounds >= 6:
                active = [n for n in active if half_width(median_interval(relative[n])) > args.precision]
                if not active or time.monotonic() - started > args.rand_budget:
                    break
            order = active + ["identity"] * len(active)
            rng.shuffle(order)
            times = [sample(models[n], reps) for n in order]
            for i, n in enumerate(order):
                seconds[n].append(times[i] / items)
                if n == "identity":
                    continue
                before = next((times[j] for j in range(i - 1, -1, -1) if order[j] == "identity"), None)
                after = next((times[j] for j in range(i + 1, len(order)) if order[j] == "identity"), None)
                ref = math.sqrt(before * after) if before and after else before or after
                relative[n].append(times[i] / ref)
            rounds += 1
    return {"rounds": rounds, "reps": reps, "relative": {n: median_interval(v) for n, v in relative.items()},
            "seconds": {n: median_interval(v) for n, v in seconds.items()}}


# ---------------------------------------------------------------------------------------------
# 3. MNIST training step

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return data[4 + 4 * ndim:], dims


def mnist_tensors(torch, data_dir, n):
    """The first n training images (pixels scaled to [0, 1]) and their labels."""
    raw, _ = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    lab, _ = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    images = torch.frombuffer(bytearray(raw[:n * 784]), dtype=torch.uint8).reshape(n, 784).float() / 255
    labels = torch.frombuffer(bytearray(lab[:n]), dtype=torch.uint8).long()
    return images, labels


def torch_mnist_step(torch, nn, source, images, labels, steps):
    """Mean seconds per training step of batch 128 with the function of constructor `source`."""
    torch.manual_seed(1234)
    model = nn.Sequential(nn.Linear(784, 1024), *[build(nn, source) for _ in range(4)],
                          nn.Linear(1024, 10), nn.LogSoftmax(dim=1)).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    loss_fn = nn.NLLLoss()
    order = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(1))
    total = 0.0
    for s in range(steps):
        idx = order[s * 128:(s + 1) * 128]
        x, y = images[idx], labels[idx]  # data loading, untimed as in mnist_power
        t = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        total += time.perf_counter() - t
    return total / steps
