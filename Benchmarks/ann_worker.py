#!/usr/bin/env python3
"""Python side of the ANN benchmark, driven step by step by `ann-benchmark` so that its
measurements and the Swift ones alternate in paired rounds under the same machine conditions.

    ann_worker.py WORK_DIR faiss     FAISS's Python bindings: Debian's python3-faiss (FAISS 1.7.3,
                                     the same library as libfaiss-dev) under /usr/bin/python3, or
                                     PyPI's faiss-cpu (AVX2 build) in the peers' environment
    ann_worker.py WORK_DIR hnswlib   PyPI's hnswlib (it cannot read FAISS files: builds its own)

First line on stdout, before any command: {"ok": true, "library": ..., "version": ..., "detail": ...},
or {"ok": false, "missing": REASON} when the library does not import (then the worker exits 3).

Protocol: one JSON command per line on stdin, one JSON answer per line on stdout.
  {"op": "build", "factory": F}         faiss: train on train.npy + add corpus.npy, then drop it;
                                        answers train_s, add_s, bytes
  {"op": "load", "path": P}             faiss: read an index file (replaces the current index)
  {"op": "hnsw_build", "M": M, "ef_construction": E, "threads": T}
                                        hnswlib: build an index over corpus.npy, space "ip"
                                        (replaces the current index); answers train_s (0), add_s, bytes
  {"op": "set", "name": N, "value": V}  faiss: ParameterSpace().set_index_parameter;
                                        hnswlib: "efSearch" -> set_ef
  {"op": "threads", "n": T}             faiss.omp_set_num_threads / hnswlib set_num_threads
  {"op": "search", "limit": L, "k": K}  one timed batch search of the first L queries; answers seconds, recall
  {"op": "quit"}
"""
import json
import os
import sys
import tempfile
import time

import numpy as np


def read_ivecs(path):
    raw = np.fromfile(path, dtype="<i4")
    return raw.reshape(-1, raw[0] + 1)[:, 1:]


def recall_at(found, truth, k):
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth))
    return hits / (len(truth) * k)


def say(answer):
    print(json.dumps(answer), flush=True)


def faiss_detail(faiss):
    """Which build of FAISS runs: the SWIG module loaded (faiss-cpu up to 1.11 ships generic /
    avx2 / avx512 modules), the compile options and, for a dynamic-dispatch build (faiss-cpu
    1.12 on), the SIMD level it picked on this CPU."""
    modules = sorted(name.split(".")[-1] for name in sys.modules if "swigfaiss" in name and "._" not in name)
    parts = ["module " + "/".join(modules)]
    if hasattr(faiss, "get_compile_options"):
        parts.append("compile options: " + faiss.get_compile_options().strip())
    if hasattr(faiss, "SIMDConfig"):
        try:
            parts.append("SIMD level in use: " + faiss.SIMDConfig.get_level_name())
        except Exception:  # noqa: BLE001 (older dynamic-dispatch APIs: leave the level out)
            pass
    return ", ".join(parts)


class FaissSide:
    def __init__(self, faiss):
        self.faiss = faiss
        self.index = None

    def build(self, work, cmd, answer):
        faiss = self.faiss
        self.index = None
        corpus = np.load(os.path.join(work, "corpus.npy"))
        index = faiss.index_factory(corpus.shape[1], cmd["factory"], faiss.METRIC_INNER_PRODUCT)
        start = time.perf_counter()
        if not index.is_trained:
            index.train(np.load(os.path.join(work, "train.npy")))
        answer["train_s"] = time.perf_counter() - start
        start = time.perf_counter()
        index.add(corpus)
        answer["add_s"] = time.perf_counter() - start
        answer["bytes"] = int(faiss.serialize_index(index).size)

    def load(self, cmd):
        self.index = None
        self.index = self.faiss.read_index(cmd["path"])

    def set(self, name, value):
        self.faiss.ParameterSpace().set_index_parameter(self.index, name, value)

    def threads(self, n):
        self.faiss.omp_set_num_threads(n)

    def search(self, batch, k):
        return self.index.search(batch, k)[1]


class HnswlibSide:
    def __init__(self, hnswlib):
        self.hnswlib = hnswlib
        self.index = None

    def build(self, work, cmd, answer):
        self.index = None
        corpus = np.load(os.path.join(work, "corpus.npy"))
        index = self.hnswlib.Index(space="ip", dim=corpus.shape[1])
        start = time.perf_counter()
        index.init_index(max_elements=corpus.shape[0], M=cmd["M"], ef_construction=cmd["ef_construction"],
                         random_seed=100)
        index.add_items(corpus, np.arange(corpus.shape[0]), num_threads=cmd["threads"])
        answer["train_s"] = 0.0
        answer["add_s"] = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "index.hnsw")
            index.save_index(path)
            answer["bytes"] = os.path.getsize(path)
        self.index = index

    def load(self, cmd):
        raise ValueError("hnswlib cannot read FAISS index files")

    def set(self, name, value):
        if name != "efSearch":
            raise ValueError("hnswlib has no parameter " + name + " (only efSearch)")
        self.index.set_ef(int(value))

    def threads(self, n):
        self.index.set_num_threads(n)

    def search(self, batch, k):
        return self.index.knn_query(batch, k=k)[0]


def open_library(name):
    """The library's side, or None after answering {"ok": false, "missing": ...}."""
    try:
        if name == "faiss":
            import faiss
            say({"ok": True, "library": "faiss", "version": faiss.__version__, "detail": faiss_detail(faiss)})
            return FaissSide(faiss)
        if name == "hnswlib":
            import hnswlib
            version = getattr(hnswlib, "__version__", None)
            if version is None:
                from importlib.metadata import version as dist_version
                version = dist_version("hnswlib")
            say({"ok": True, "library": "hnswlib", "version": version, "detail": ""})
            return HnswlibSide(hnswlib)
        say({"ok": False, "missing": "unknown library " + name})
    except Exception as error:  # noqa: BLE001 (any import failure is a missing peer, reported)
        say({"ok": False, "missing": f"{type(error).__name__}: {error}"})
    return None


def main():
    work, library = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "faiss"
    side = open_library(library)
    if side is None:
        sys.exit(3)
    queries = np.ascontiguousarray(np.load(os.path.join(work, "queries.npy")))
    truth = read_ivecs(os.path.join(work, "gt.ivecs"))
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        answer = {"ok": True}
        try:
            if op in ("build", "hnsw_build"):
                if (op == "hnsw_build") != (library == "hnswlib"):
                    raise ValueError(op + " is not an op of " + library)
                side.build(work, cmd, answer)
                if op == "build":
                    side.index = None
            elif op == "load":
                side.load(cmd)
            elif op == "set":
                side.set(cmd["name"], cmd["value"])
            elif op == "threads":
                side.threads(cmd["n"])
            elif op == "search":
                limit, k = cmd["limit"], cmd["k"]
                batch = queries[:limit]
                start = time.perf_counter()
                labels = side.search(batch, k)
                answer["seconds"] = time.perf_counter() - start
                answer["recall"] = recall_at(labels, truth[:limit], k)
            elif op == "quit":
                break
            else:
                answer = {"ok": False, "error": "unknown op " + op}
        except Exception as error:  # noqa: BLE001 (reported to the driver, which stops)
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        say(answer)


if __name__ == "__main__":
    main()
