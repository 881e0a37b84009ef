#!/usr/bin/env python3
"""Python side of the ANN benchmark: FAISS's own Python bindings (Debian's python3-faiss,
FAISS 1.7.3, the same library as libfaiss-dev), driven step by step by
`swift run -c release ann-benchmark` so that Swift and Python measurements alternate in pairs
under the same machine conditions.

Protocol: one JSON command per line on stdin, one JSON answer per line on stdout.
  {"op": "build", "factory": F}         train on train.npy + add corpus.npy; answers train_s, add_s, bytes
  {"op": "load", "path": P}             read an index file (replaces the current index)
  {"op": "set", "name": N, "value": V}  faiss.ParameterSpace().set_index_parameter
  {"op": "threads", "n": T}             faiss.omp_set_num_threads
  {"op": "search", "limit": L, "k": K}  one timed batch search of the first L queries; answers seconds, recall
  {"op": "quit"}
Needs /usr/bin/python3 with python3-faiss and python3-numpy (scripts/setup.sh).
"""
import json
import os
import sys
import time

import faiss
import numpy as np


def read_ivecs(path):
    raw = np.fromfile(path, dtype="<i4")
    return raw.reshape(-1, raw[0] + 1)[:, 1:]


def recall_at(found, truth, k):
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth))
    return hits / (len(truth) * k)


def main():
    work = sys.argv[1]
    queries = np.ascontiguousarray(np.load(os.path.join(work, "queries.npy")))
    truth = read_ivecs(os.path.join(work, "gt.ivecs"))
    index = None
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        answer = {"ok": True}
        if op == "build":
            index = None
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
            index = None
        elif op == "load":
            index = None
            index = faiss.read_index(cmd["path"])
        elif op == "set":
            faiss.ParameterSpace().set_index_parameter(index, cmd["name"], cmd["value"])
        elif op == "threads":
            faiss.omp_set_num_threads(cmd["n"])
        elif op == "search":
            limit, k = cmd["limit"], cmd["k"]
            batch = queries[:limit]
            start = time.perf_counter()
            _, labels = index.search(batch, k)
            answer["seconds"] = time.perf_counter() - start
            answer["recall"] = recall_at(labels, truth[:limit], k)
        elif op == "quit":
            break
        else:
            answer = {"ok": False, "error": "unknown op " + op}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
