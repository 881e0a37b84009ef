"""Fan `eval-retrieval embed` and `eval-retrieval index add` out over a Ray cluster, one task per shard.

    python driver.py embed --binary B --bundle DIR --shards 'in/*.json' --out OUTDIR
    python driver.py index-add --binary B --trained T --shards 'pins-*.npy' --out OUTDIR [--merge]

Why Ray rather than Spark: a shard is one run of a native executable on files, so all the engine
has to do is schedule Python functions around a subprocess and retry them; Ray does that with
plain tasks, no JVM and no data frames, and `pip install ray` gives a local cluster as well.

A real cluster: start it (`ray start --head` on one node, `ray start --address HEAD:6379` on the
others, or KubeRay), put the binary and the bundle at the same path on every node and the shards
and OUTDIR on a file system all of them mount, then run the driver on a node with
`--address auto`, or from outside with `--address ray://HEAD:10001`. Without --address it starts
a local cluster of --workers CPUs.

What a job guarantees:
- Each task runs the binary into its own temporary directory under OUTDIR/_tmp and moves the
  outputs into OUTDIR with os.replace (atomic, same file system), so OUTDIR only ever holds whole
  files. A task is idempotent: a rerun writes the same bytes under the same names, so Ray may
  retry it (max_retries for a lost worker or node, retry_exceptions for a binary killed by a signal).
- The binary exiting non-zero (bad input: it names the file) fails the shard without a retry;
  the job then fails naming every such shard with the binary's stderr, and removes that shard's
  old outputs from OUTDIR.
- OUTDIR/_SUCCESS.json (every shard, its outputs and their SHA-256) is removed when a job starts
  and written, atomically, only when every shard succeeded: it is what marks OUTDIR complete.
"""

import argparse
import glob
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

SUCCESS = "_SUCCESS.json"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ShardInterrupted(Exception):
    """The binary was killed by a signal (OOM killer, preemption): worth a retry."""


def run_shard(name, argv, outputs, out_dir, threads, crash_once_dir=None, produced=None):
    """One Ray task: runs argv ("{tmp}" in it is this attempt's temporary directory), then moves
    `outputs` (file names, in this order) from it into out_dir; `produced` (paths relative to the
    temporary directory, one per output) are where the binary wrote them when the names differ
    (embed writes one directory: n/vectors.npy, n/users.json, n/summary.json). Returns a dict;
    "error" in it is a deterministic failure (not retried)."""
    tmp_root = os.path.join(out_dir, "_tmp")
    os.makedirs(tmp_root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=name + ".", dir=tmp_root)
    try:
        argv = [a.replace("{tmp}", tmp) for a in argv]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        start = time.time()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        if crash_once_dir:
            _crash_on_first_attempt(name, proc, crash_once_dir)
        _, stderr = proc.communicate()
        stderr = stderr.decode(errors="replace").strip()
        if proc.returncode < 0:
            raise ShardInterrupted(f"{name}: {argv[0]} killed by signal {-proc.returncode}: {stderr}")
        if proc.returncode != 0:
            for f in outputs:  # an older run's files no longer match this input
                if os.path.exists(os.path.join(out_dir, f)):
                    os.remove(os.path.join(out_dir, f))
            command = " ".join(itertools.takewhile(lambda a: not a.startswith("-"), argv))
            return {"shard": name, "error": f"{command} exited {proc.returncode}: {stderr}"}
        sources = dict(zip(outputs, produced or outputs))
        missing = [sources[f] for f in outputs if not os.path.exists(os.path.join(tmp, sources[f]))]
        if missing:
            return {"shard": name, "error": f"{argv[0]} exited 0 but did not write {missing}"}
        digests = {f: sha256(os.path.join(tmp, sources[f])) for f in outputs}
        for f in outputs:
            os.replace(os.path.join(tmp, sources[f]), os.path.join(out_dir, f))
        return {"shard": name, "outputs": digests, "seconds": round(time.time() - start, 3)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _crash_on_first_attempt(name, proc, marker_dir):
    """Test hook (--crash-once-dir): the first attempt of each shard kills its binary mid-run and
    then its own worker process, as a lost node would; the marker file makes later attempts run."""
    marker = os.path.join(marker_dir, name + ".crashed")
    if os.path.exists(marker):
        return
    time.sleep(0.05)
    running = proc.poll() is None
    proc.kill()
    proc.wait()
    with open(marker + ".part", "w") as f:
        json.dump({"binaryStillRunningWhenKilled": running, "pid": os.getpid()}, f)
    os.replace(marker + ".part", marker)
    os._exit(1)


def shard_paths(pattern, suffix):
    paths = sorted(os.path.abspath(p) for p in glob.glob(pattern))
    if not paths:
        sys.exit(f"driver.py: --shards '{pattern}' matches no file")
    bad = [p for p in paths if not p.endswith(suffix)]
    if bad:
        sys.exit(f"driver.py: shards must end in {suffix}: {bad}")
    names = [os.path.basename(p)[: -len(suffix)] for p in paths]
    if len(set(names)) != len(names):
        sys.exit(f"driver.py: two shards have the same file name: {paths}")
    return paths, names


def npy_rows(path):
    import numpy as np

    return int(np.load(path, mmap_mode="r").shape[0])


def first_ids(paths, given):
    rows = [npy_rows(p) for p in paths]
    if given is None:
        ids = [sum(rows[:i]) for i in range(len(rows))]
    else:
        ids = [int(x) for x in given.split(",")]
        if len(ids) != len(paths):
            sys.exit(f"driver.py: --first-ids has {len(ids)} ids for {len(paths)} shards")
        spans = sorted(zip(ids, rows))
        for (a, n), (b, _) in zip(spans, spans[1:]):
            if a + n > b:
                sys.exit(f"driver.py: --first-ids overlap: ids {a}..{a + n - 1} and {b}...")
    return ids, rows


def run_tasks(ray, specs, workers, retries, threads):
    """Runs every spec as a task, at most `workers` at once; returns (results, failures) by shard."""
    task = ray.remote(run_shard).options(num_cpus=threads, max_retries=retries, retry_exceptions=True)
    queue, pending, results, failures = list(specs), {}, {}, {}
    while queue or pending:
        while queue and len(pending) < workers:
            spec = queue.pop(0)
            pending[task.remote(threads=threads, **spec)] = spec["name"]
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            name = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as e:  # retries used up: lost workers or a killed binary
                failures[name] = str(getattr(e, "cause", None) or e).strip().splitlines()[-1]
                continue
            if "error" in result:
                failures[name] = result["error"]
            else:
                results[name] = result
                print(f"driver.py: {name}: done in {result['seconds']} s", file=sys.stderr)
    return results, failures


def write_json_atomically(path, value):
    with open(path + ".part", "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".part", path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="job", required=True)
    for job in ("embed", "index-add"):
        p = sub.add_parser(job)
        p.add_argument("--binary", required=True, help="the eval-retrieval executable (same path on every node)")
        p.add_argument("--shards", required=True, help="glob of input shards (quote it)")
        p.add_argument("--out", required=True, help="output directory")
        p.add_argument("--address", help="Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: a local cluster)")
        p.add_argument("--workers", type=int, help="shards at once (and a local cluster's CPUs; default: all CPUs)")
        p.add_argument("--retries", type=int, default=3, help="retries of a shard whose worker or binary died")
        p.add_argument("--threads", type=int, default=1, help="threads (and CPUs reserved) per shard")
        p.add_argument("--crash-once-dir", help=argparse.SUPPRESS)  # test hook, see _crash_on_first_attempt
        if job == "embed":
            p.add_argument("--bundle", required=True, help="PinnerFormer bundle directory")
        else:
            p.add_argument("--trained", required=True, help="trained empty index (`index train`)")
            p.add_argument("--first-ids", help="comma-separated first id of each shard in sorted order "
                           "(default: running sum of the shards' row counts)")
            p.add_argument("--merge", action="store_true", help="also merge the shards into OUTDIR/merged.faiss")
    args = parser.parse_args(argv)

    binary = os.path.abspath(args.binary)
    out = os.path.abspath(args.out)
    common = {"out_dir": out, "crash_once_dir": args.crash_once_dir and os.path.abspath(args.crash_once_dir)}
    if args.job == "embed":
        paths, names = shard_paths(args.shards, ".json")
        bundle = os.path.abspath(args.bundle)
        specs = [dict(common, name=n, outputs=[n + ".npy", n + ".users.json", n + ".summary.json"],
                      produced=[n + "/vectors.npy", n + "/users.json", n + "/summary.json"],
                      argv=[binary, "embed", "--bundle", bundle, "--histories", p,
                            "--out", "{tmp}/" + n, "--threads", str(args.threads)])
                 for p, n in zip(paths, names)]
        inputs = {"bundle": bundle}
    else:
        paths, names = shard_paths(args.shards, ".npy")
        trained = os.path.abspath(args.trained)
        ids, rows = first_ids(paths, args.first_ids)
        if args.merge and "merged" in names:
            sys.exit("driver.py: a shard named merged.npy would collide with --merge's merged.faiss")
        specs = [dict(common, name=n, outputs=[n + ".faiss"],
                      argv=[binary, "index", "add", "--trained", trained, "--vectors", p,
                            "--first-id", str(i), "--out", "{tmp}/" + n + ".faiss"])
                 for p, n, i in zip(paths, names, ids)]
        inputs = {"trained": trained}

    os.makedirs(out, exist_ok=True)
    if os.path.exists(os.path.join(out, SUCCESS)):
        os.remove(os.path.join(out, SUCCESS))

    # ray 2.6.3 imports pkg_resources, which warns in every process it starts.
    warnings.filterwarnings("ignore", "pkg_resources is deprecated")
    os.environ.setdefault("PYTHONWARNINGS", "ignore:pkg_resources is deprecated:UserWarning")
    import ray

    if args.address:
        ray.init(address=args.address)
    else:
        ray.init(num_cpus=args.workers or os.cpu_count(), include_dashboard=False)
    workers = args.workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // args.threads)
    started = time.time()
    results, failures = run_tasks(ray, specs, workers, args.retries, args.threads)
    merged = None
    if args.job == "index-add" and args.merge and not failures:
        spec = dict(common, name="merged", outputs=["merged.faiss"],
                    argv=[binary, "index", "merge", "--out", "{tmp}/merged.faiss"]
                    + [os.path.join(out, n + ".faiss") for n in names])
        done, failed = run_tasks(ray, [spec], 1, args.retries, args.threads)
        merged, failures = done.get("merged"), failed
    ray.shutdown()
    shutil.rmtree(os.path.join(out, "_tmp"), ignore_errors=True)

    if failures:
        for name in sorted(failures):
            print(f"driver.py: shard {name} failed: {failures[name]}", file=sys.stderr)
        print(f"driver.py: {args.job} failed ({len(failures)} of {len(specs)} shards); "
              f"no {SUCCESS} in {out}", file=sys.stderr)
        return 1
    shards = []
    for i, (p, n) in enumerate(zip(paths, names)):
        entry = {"input": p, "outputs": results[n]["outputs"]}
        if args.job == "index-add":
            entry.update(firstId=ids[i], rows=rows[i])
        shards.append(entry)
    manifest = dict(inputs, job=args.job, binary=binary, binarySha256=sha256(binary), shards=shards,
                    seconds=round(time.time() - started, 3),
                    finishedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if merged:
        manifest["merged"] = merged["outputs"]
    write_json_atomically(os.path.join(out, SUCCESS), manifest)
    print(f"driver.py: {args.job}: {len(shards)} shards, wrote {os.path.join(out, SUCCESS)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
