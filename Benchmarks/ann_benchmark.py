#!/usr/bin/env python3
"""Python side of the ANN benchmark: the same FAISS index parameters through Debian's
python3-faiss (FAISS 1.7.3, the library libfaiss-dev ships), on the data the Swift benchmark
wrote, measured with the same protocol (one warm-up search, then the median of --runs).

Run by `swift run -c release ann-benchmark` (which passes --work); prints one JSON object.
Needs /usr/bin/python3 with python3-faiss and python3-numpy (scripts/setup.sh --bench).
"""
import argparse
import json
import os
import statistics
import time

import faiss
import numpy as np


def read_ivecs(path):
    raw = np.fromfile(path, dtype="<i4")
    d = raw[0]
    return raw.reshape(-1, d + 1)[:, 1:]


def recall_at(found, truth, k):
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth))
    return hits / (len(truth) * k)


def timed_search(index, queries, k, runs):
    _, labels = index.search(queries, k)  # warm-up
    times = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        _, labels = index.search(queries, k)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return len(queries) / median, median, labels


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--work", required=True, help="directory with corpus.npy, train.npy, queries.npy, gt.ivecs")
    p.add_argument("--factory", required=True)
    p.add_argument("--metric", choices=["ip", "l2"], default="ip")
    p.add_argument("--nprobes", default="")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--k-factor", type=float, default=0)
    p.add_argument("--query-limit", type=int, default=0, help="search only the first N queries")
    args = p.parse_args()

    corpus = np.load(os.path.join(args.work, "corpus.npy"), mmap_mode="r")
    queries = np.ascontiguousarray(np.load(os.path.join(args.work, "queries.npy")))
    truth = read_ivecs(os.path.join(args.work, "gt.ivecs"))
    if args.query_limit:
        queries, truth = queries[: args.query_limit], truth[: args.query_limit]
    metric = faiss.METRIC_INNER_PRODUCT if args.metric == "ip" else faiss.METRIC_L2

    index = faiss.index_factory(corpus.shape[1], args.factory, metric)
    out = {"factory": args.factory, "faiss_version": faiss.__version__, "train_s": 0.0}
    if not index.is_trained:
        train = np.ascontiguousarray(np.load(os.path.join(args.work, "train.npy")))
        start = time.perf_counter()
        index.train(train)
        out["train_s"] = time.perf_counter() - start
    corpus = np.ascontiguousarray(corpus)
    start = time.perf_counter()
    index.add(corpus)
    out["add_s"] = time.perf_counter() - start
    out["bytes"] = int(faiss.serialize_index(index).size)
    if args.k_factor:
        faiss.ParameterSpace().set_index_parameter(index, "k_factor_rf", args.k_factor)

    rows = []
    nprobes = [int(x) for x in args.nprobes.split(",") if x] or [0]
    for nprobe in nprobes:
        if nprobe:
            faiss.ParameterSpace().set_index_parameter(index, "nprobe", nprobe)
        for threads in [int(x) for x in args.threads.split(",")]:
            faiss.omp_set_num_threads(threads)
            qps, median, labels = timed_search(index, queries, args.k, args.runs)
            rows.append({"nprobe": nprobe, "threads": threads, "qps": qps, "median_s": median,
                         "recall": recall_at(labels, truth, args.k)})
    out["rows"] = rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()
