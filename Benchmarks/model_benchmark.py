#!/usr/bin/env python3
"""PyTorch side of the PinnerFormer speed benchmark: the same model as the Swift one
(Tests/Reference/pinnerformer_reference.py, the parity reference), the same batch shapes, the
same optimizer (AdamW + gradient clipping), timed the same way (median over timed steps after
warm-up). Prints one JSON object. Driven by `swift run -c release model-benchmark`.

    python model_benchmark.py --hidden 64 --length 64 --threads 1 [--steps 10]
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference"))
from pinnerformer_reference import forward  # noqa: E402


def make_config(hidden, length, layers, heads, output, content_dim):
    return {
        "hidden": hidden, "layers": layers, "heads": heads, "maxLength": length, "outputDimension": output,
        "contentDimension": content_dim, "actionTypes": 4, "surfaces": 3, "typeEmbedding": 8, "surfaceEmbedding": 8,
        "pinTowerHidden": 64, "temperatureFloor": 0.01,
        "absolutePeriods": [900, 3600, 10800, 21600, 43200, 86400, 172800, 302400, 604800, 1209600, 2592000, 31536000],
        "relativePeriods": [math.pow(28 * 86400, i / 31) for i in range(32)],
    }


def make_parameters(c):
    H, D, cd = c["hidden"], c["outputDimension"], c["contentDimension"]
    F = cd + 8 + 8 + 1 + (2 * 12 + 1) + 2 * (2 * 32 + 1)
    shapes = {"input.weight": (F, H), "input.bias": (H,), "position": (c["maxLength"], H), "action_type": (4, 8),
              "surface": (3, 8), "time.absolute_phase": (12,), "time.to_end_phase": (32,), "time.gap_phase": (32,)}
    for l in range(c["layers"]):
        p = f"blocks.{l}."
        shapes.update({p + "ln1.weight": (H,), p + "ln1.bias": (H,), p + "attn.qkv.weight": (H, 3 * H),
                       p + "attn.qkv.bias": (3 * H,), p + "attn.proj.weight": (H, H), p + "attn.proj.bias": (H,),
                       p + "ln2.weight": (H,), p + "ln2.bias": (H,), p + "ffn.fc1.weight": (H, 4 * H),
                       p + "ffn.fc1.bias": (4 * H,), p + "ffn.fc2.weight": (4 * H, H), p + "ffn.fc2.bias": (H,)})
    shapes.update({"head.ln.weight": (H,), "head.ln.bias": (H,), "head.fc1.weight": (H, H), "head.fc1.bias": (H,),
                   "head.fc2.weight": (H, D), "head.fc2.bias": (D,), "pin_tower.fc1.weight": (cd, 64),
                   "pin_tower.fc1.bias": (64,), "pin_tower.fc2.weight": (64, D), "pin_tower.fc2.bias": (D,),
                   "log_temperature": (1,)})
    g = torch.Generator().manual_seed(1)
    P = {}
    for name, shape in shapes.items():
        if name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "head.ln.weight":
            t = torch.ones(shape)
        elif name == "log_temperature":
            t = torch.full(shape, math.log(0.1))
        elif name.endswith(".bias") or name.endswith("_phase"):
            t = torch.zeros(shape)
        else:
            t = 0.02 * torch.randn(shape, generator=g)
        P[name] = t.requires_grad_(True)
    return P


def make_batch(c, batch_size, pins, negatives):
    g = torch.Generator().manual_seed(2)
    B, M = batch_size, c["maxLength"]
    n = B * M
    stamps = 1.65e9 + torch.cumsum(torch.rand(B, M, generator=g, dtype=torch.float64) * 600, dim=1)
    labels = torch.randint(0, pins, (n,), generator=g)
    return {
        "count": B, "length": M, "lengths": torch.full((B,), M, dtype=torch.long),
        "pins": torch.randint(0, pins, (n,), generator=g), "types": torch.randint(0, 4, (n,), generator=g),
        "surfaces": torch.randint(0, 3, (n,), generator=g), "durations": torch.rand(n, generator=g) * 30,
        "timestamps": stamps.reshape(-1), "endTimes": stamps[:, -1],
        # Loss at every position: the batch's labels are the in-batch candidates, plus random pins.
        "pairTokens": torch.arange(n), "targets": torch.arange(n),
        "weights": torch.full((n,), 1.0 / n),
        "candidates": torch.cat([labels, torch.randint(0, pins, (negatives,), generator=g)]),
        "logQ": -torch.rand(n + negatives, generator=g) * 5,
        # Each position's softmax: its own label plus the shared random negatives.
        "inBatchNegatives": False, "inBatchCount": n,
    }


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--hidden", type=int, default=64)
    a.add_argument("--length", type=int, default=64)
    a.add_argument("--layers", type=int, default=2)
    a.add_argument("--heads", type=int, default=4)
    a.add_argument("--output", type=int, default=64)
    a.add_argument("--batch", type=int, default=128)
    a.add_argument("--negatives", type=int, default=1024)
    a.add_argument("--pins", type=int, default=50000)
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--steps", type=int, default=10)
    a.add_argument("--warmup", type=int, default=2)
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    c = make_config(args.hidden, args.length, args.layers, args.heads, args.output, 64)
    P = make_parameters(c)
    content = torch.nn.functional.normalize(torch.randn(args.pins, 64, generator=torch.Generator().manual_seed(3)), dim=1)
    batch = make_batch(c, args.batch, args.pins, args.negatives)
    optimizer = torch.optim.AdamW(P.values(), lr=1e-3, weight_decay=0.01)

    def step():
        optimizer.zero_grad(set_to_none=False)
        loss, _, _ = forward(P, c, batch, content)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(P.values(), 1.0)
        optimizer.step()

    times = []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        step()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    inference = {k: v for k, v in batch.items() if k not in ("candidates",)}
    infer_times = []
    with torch.no_grad():
        for i in range(args.warmup + args.steps):
            start = time.perf_counter()
            _, users, _ = forward(P, c, inference, content)
            last = users.reshape(args.batch, args.length, -1)[:, -1]
            if i >= args.warmup:
                infer_times.append(time.perf_counter() - start)
    print(json.dumps({"torch": torch.__version__, "step_ms": 1000 * statistics.median(times),
                      "step_ms_all": [1000 * t for t in times],
                      "infer_users_per_s": args.batch / statistics.median(infer_times),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
