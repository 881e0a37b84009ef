#!/usr/bin/env python3
"""PyTorch reference for the Swift PinnerFormer implementation.

Builds the same architecture in PyTorch (written independently from the Swift code, from the
description in docs/papers.md and Sources/PinnerFormer/Config.swift), loads the
weights from tiny-model.safetensors (written by the Swift Checkpoint code), runs the forward and
backward pass of the sampled-softmax loss on tiny-batch.json and writes expected.json: the loss,
the user and pin vectors and the gradient of every parameter. Tests/PinnerFormerTests/
ReferenceParityTests.swift compares the Swift results with it.

Regenerate (needs torch and numpy: Debian's python3-torch, or the environment of
Benchmarks/setup-peers.sh):
    /usr/bin/python3 Tests/Reference/pinnerformer_reference.py            # expected.json
    /usr/bin/python3 Tests/Reference/pinnerformer_reference.py pinid      # expected-pinid.json
The second reads tiny-model-pinid.safetensors: the same tiny model with learned pin-ID
embeddings (config pinIDEmbedding), which add an input feature group and a term of the pin tower.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float32)


def read_safetensors(path):
    """A minimal reader of the safetensors layout: u64 header size, JSON header, raw data."""
    with open(path, "rb") as f:
        blob = f.read()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    data = blob[8 + size :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        assert entry["dtype"] == "F32"
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"]).copy()
    return header["__metadata__"], tensors


def time_encoding(times, periods, phases):
    """cos(2πt/p + φ), sin(2πt/p + φ) per period, then log(1 + t); angle reduced in float64."""
    t = torch.clamp(times, min=0)
    p = torch.tensor(periods, dtype=torch.float64)
    base = (2 * math.pi * (torch.fmod(t[:, None], p) / p)).to(torch.float32)
    angle = base + phases[None, :]
    return torch.cat([torch.cos(angle), torch.sin(angle), torch.log1p(t)[:, None].to(torch.float32)], dim=1)


def layer_norm(x, gamma, beta):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), gamma, beta, eps=1e-5)


def gelu(x):
    return torch.nn.functional.gelu(x)  # exact (erf) form


def l2_normalize(x):
    return x / torch.clamp(torch.linalg.vector_norm(x, dim=-1, keepdim=True), min=1e-12)


def forward(P, config, batch, content):
    """Loss, user vectors (B*M x D) and pin vectors of the PinnerFormer model.

    P: parameter tensors by name; batch: the dict of tiny-batch.json (lists) or of tensors.
    """
    as_tensor = lambda v, dtype: v if torch.is_tensor(v) else torch.tensor(v, dtype=dtype)
    B, M = batch["count"], batch["length"]
    H, heads = config["hidden"], config["heads"]
    cd = config["contentDimension"]
    lengths = as_tensor(batch["lengths"], torch.long)
    real = (torch.arange(M)[None, :] < lengths[:, None]).reshape(-1)
    pins = as_tensor(batch["pins"], torch.long)
    types = as_tensor(batch["types"], torch.long)
    surfaces = as_tensor(batch["surfaces"], torch.long)
    durations = as_tensor(batch["durations"], torch.float32)
    stamps = as_tensor(batch["timestamps"], torch.float64).reshape(B, M)
    ends = as_tensor(batch["endTimes"], torch.float64)
    to_end = torch.clamp(ends[:, None] - stamps, min=0)
    gap = torch.zeros_like(stamps)
    gap[:, 1:] = torch.clamp(stamps[:, 1:] - stamps[:, :-1], min=0)
    mask = real.to(torch.float32)[:, None]
    zero_ids = torch.where(real, types, torch.zeros_like(types))
    zero_surf = torch.where(real, surfaces, torch.zeros_like(surfaces))
    zero_t = lambda x: torch.where(real, x.reshape(-1), torch.zeros_like(x.reshape(-1)))

    # Per-action features: [content * sqrt(cd) | type | surface | log1p(duration) | 3 time encodings
    # | pin-ID row (with pinIDEmbedding)].
    pin_ids = config.get("pinIDEmbedding", False)
    zero_pins = torch.where(real, pins, torch.zeros_like(pins))
    features = torch.cat(
        [
            content[pins] * math.sqrt(cd),
            P["action_type"][zero_ids],
            P["surface"][zero_surf],
            torch.log1p(torch.clamp(durations, min=0))[:, None],
            time_encoding(zero_t(stamps), config["absolutePeriods"], P["time.absolute_phase"]),
            time_encoding(zero_t(to_end), config["relativePeriods"], P["time.to_end_phase"]),
            time_encoding(zero_t(gap), config["relativePeriods"], P["time.gap_phase"]),
        ]
        + ([P["pin_id"][zero_pins]] if pin_ids else []),
        dim=1,
    )
    features = features * mask
    x = features @ P["input.weight"] + P["input.bias"]
    x = x + P["position"].repeat(B, 1)

    causal = torch.tril(torch.ones(M, M, dtype=torch.bool))
    hs = H // heads
    for l in range(config["layers"]):
        p = lambda n: P[f"blocks.{l}.{n}"]
        h = layer_norm(x, p("ln1.weight"), p("ln1.bias"))
        qkv = (h @ p("attn.qkv.weight") + p("attn.qkv.bias")).reshape(B, M, 3, heads, hs)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))  # B, heads, M, hs
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        scores = scores.masked_fill(~causal, float("-inf"))
        att = torch.softmax(scores, dim=-1) @ v  # B, heads, M, hs
        att = att.transpose(1, 2).reshape(B * M, H)
        x = x + att @ p("attn.proj.weight") + p("attn.proj.bias")
        h = layer_norm(x, p("ln2.weight"), p("ln2.bias"))
        x = x + gelu(h @ p("ffn.fc1.weight") + p("ffn.fc1.bias")) @ p("ffn.fc2.weight") + p("ffn.fc2.bias")

    h = layer_norm(x, P["head.ln.weight"], P["head.ln.bias"])
    users = l2_normalize(gelu(h @ P["head.fc1.weight"] + P["head.fc1.bias"]) @ P["head.fc2.weight"] + P["head.fc2.bias"])
    if "candidates" not in batch:
        return None, users, None

    candidates = as_tensor(batch["candidates"], torch.long)
    pin_hidden = gelu(content[candidates] @ P["pin_tower.fc1.weight"] + P["pin_tower.fc1.bias"])
    pin_out = pin_hidden @ P["pin_tower.fc2.weight"] + P["pin_tower.fc2.bias"]
    if pin_ids:
        pin_out = pin_out + P["pin_id"][candidates]
    pin_vectors = l2_normalize(pin_out)

    tau = torch.clamp(torch.exp(P["log_temperature"]), min=config["temperatureFloor"])
    u = users[as_tensor(batch["pairTokens"], torch.long)]
    # cos / τ - log Q, with τ applied to the small side and log Q fused into the product.
    log_q = as_tensor(batch["logQ"], torch.float32)
    targets = as_tensor(batch["targets"], torch.long)
    if batch.get("inBatchNegatives", True):
        logits = torch.addmm(-log_q[None, :].expand(u.shape[0], -1), u / tau, pin_vectors.T)
        for i, j in batch.get("masked", []):
            logits[i, j] = float("-inf")
    else:
        # Random negatives only: each pair's own label, then the shared random candidates.
        first = batch["inBatchCount"]
        positive = ((u / tau) * pin_vectors[targets]).sum(-1) - log_q[targets]
        negative = torch.addmm(-log_q[None, first:].expand(u.shape[0], -1), u / tau, pin_vectors[first:].T)
        logits = torch.cat([positive[:, None], negative], dim=1)
        targets = torch.zeros_like(targets)
    ce = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    loss = (ce * as_tensor(batch["weights"], torch.float32)).sum()
    return loss, users, pin_vectors


def main():
    suffix = f"-{sys.argv[1]}" if len(sys.argv) > 1 else ""
    metadata, weights = read_safetensors(os.path.join(HERE, f"tiny-model{suffix}.safetensors"))
    config = json.loads(metadata["config"])
    with open(os.path.join(HERE, "tiny-batch.json")) as f:
        batch = json.load(f)
    P = {name: torch.tensor(value, requires_grad=True) for name, value in weights.items()}
    content = torch.tensor(batch["content"], dtype=torch.float32).reshape(-1, config["contentDimension"])
    loss, users, pin_vectors = forward(P, config, batch, content)
    users.retain_grad()
    loss.backward()

    expected = {
        "generator": f"pinnerformer_reference.py, torch {torch.__version__}",
        "loss": loss.item(),
        "users": users.detach().reshape(-1).tolist(),
        "pins": pin_vectors.detach().reshape(-1).tolist(),
        "gradients": {name: t.grad.reshape(-1).tolist() for name, t in P.items()},
    }
    with open(os.path.join(HERE, f"expected{suffix}.json"), "w") as f:
        json.dump(expected, f)
    print(f"loss {loss.item():.6f}; wrote expected{suffix}.json")


if __name__ == "__main__":
    main()
