"""Tests of driver.py against the real binary on a tiny synthetic world, on a local 2-CPU Ray cluster.

    /opt/pinretrieval-peers/bin/python scale-out/test_driver.py --binary PATH [--bundle DIR] [-v]

(a) embed over 3 shards with 2 workers = the binary run on each shard in one process, byte for
byte, and every user exactly once; (b) each shard's first attempt killed mid-run is retried and
the result is the same; (c) a malformed shard fails the job naming it and the binary's reason,
with no _SUCCESS.json; (d) index-add over 3 pin shards + merge searches exactly as one `index add`
over all pins. Without --bundle a tiny bundle is trained first (about 25 s on 2 cores).
"""

import argparse
import filecmp
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "driver.py")
TINY_WORLD = """\
synthetic: {pins: 2000, users: 300, topics: 20, days: 28}
training: {steps: 30}
tuning: {learningRates: [0.001]}
evaluation: {bootstrapResamples: 10}
alphaGrid: [1]
ann: {latencyQueries: 10}
threads: 2
"""
ARGS = None  # --binary, --bundle
STATE = {}  # work dir, bundle, shards, reference outputs, Ray address


def write_shards(bundle, directory, sizes, seed=0, lengths=(1, 80), extra=None):
    """Writes shard-00.json, ... of random histories over the bundle's pins, action types and
    surfaces (timestamps increasing), user ids u0000000, u0000001, ... across shards; `extra`
    (user -> actions) goes into the first shard. Returns the paths."""
    with open(os.path.join(bundle, "pin-ids.txt")) as f:
        pins = f.read().split()
    with open(os.path.join(bundle, "manifest.json")) as f:
        manifest = json.load(f)
    rng, user, paths = random.Random(seed), 0, []
    os.makedirs(directory, exist_ok=True)
    for s, n in enumerate(sizes):
        shard = dict(extra or {}) if s == 0 else {}
        for _ in range(n):
            t, history = 1_700_000_000 + rng.randrange(86_400), []
            for _ in range(rng.randint(*lengths)):
                t += rng.randrange(1, 600)
                history.append({"pin": rng.choice(pins), "action": rng.choice(manifest["actionTypes"]),
                                "timestamp": t, "surface": rng.choice(manifest["surfaces"]),
                                "duration": rng.randrange(0, 60)})
            shard[f"u{user:07d}"] = history
            user += 1
        paths.append(os.path.join(directory, f"shard-{s:02d}.json"))
        with open(paths[-1], "w") as f:
            json.dump(shard, f)
    return paths


def run(argv, check=True):
    result = subprocess.run(argv, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{argv} exited {result.returncode}:\n{result.stderr}")
    return result


def driver(*args, check=True):
    return run([sys.executable, DRIVER, *args, "--address", STATE["address"], "--workers", "2"], check)


def embed_outputs(name):
    return [name + ".npy", name + ".users.json", name + ".summary.json"]


def setUpModule():
    import ray

    warnings.filterwarnings("ignore", category=ResourceWarning)  # Ray's own unclosed files

    work = STATE["work"] = tempfile.mkdtemp(prefix="scaleout-test.")
    bundle = ARGS.bundle
    if not bundle:
        with open(os.path.join(work, "tiny.yaml"), "w") as f:
            f.write(TINY_WORLD)
        bundle = os.path.join(work, "bundle")
        run([ARGS.binary, "run", "--config", os.path.join(work, "tiny.yaml"), "--out",
             os.path.join(work, "report"), "--export-bundle", bundle])
    STATE["bundle"] = bundle
    unknown = {"nobody": [{"pin": "no-such-pin", "action": "repin", "timestamp": 5}]}
    STATE["shards"] = write_shards(bundle, os.path.join(work, "in"), [90, 120, 70], extra=unknown)
    ref = STATE["ref"] = os.path.join(work, "ref")
    os.makedirs(ref)
    for path in STATE["shards"]:  # the reference: the binary on each shard, one process at a time
        name = os.path.basename(path)[:-5]
        run([ARGS.binary, "embed", "--bundle", bundle, "--histories", path, "--out",
             os.path.join(ref, name), "--threads", "1"])
        for produced, f in zip(["vectors.npy", "users.json", "summary.json"], embed_outputs(name)):
            os.replace(os.path.join(ref, name, produced), os.path.join(ref, f))
        os.rmdir(os.path.join(ref, name))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    STATE["address"] = ray.get_runtime_context().gcs_address


def tearDownModule():
    import ray

    ray.shutdown()
    if "work" in STATE:
        shutil.rmtree(STATE["work"], ignore_errors=True)


class DriverTests(unittest.TestCase):
    def assertSameAsReference(self, out):
        for path in STATE["shards"]:
            for f in embed_outputs(os.path.basename(path)[:-5]):
                self.assertTrue(filecmp.cmp(os.path.join(STATE["ref"], f), os.path.join(out, f), shallow=False), f)
        with open(os.path.join(out, "_SUCCESS.json")) as f:
            manifest = json.load(f)
        self.assertEqual([s["input"] for s in manifest["shards"]], STATE["shards"])
        for s in manifest["shards"]:
            for f, digest in s["outputs"].items():
                self.assertEqual(run(["sha256sum", os.path.join(out, f)]).stdout.split()[0], digest)
        self.assertEqual(sorted(os.listdir(out)),
                         sorted(["_SUCCESS.json"] + [f for s in manifest["shards"] for f in s["outputs"]]))

    def test_a_embed_matches_one_process_and_covers_every_user_once(self):
        out = os.path.join(STATE["work"], "out-a")
        driver("embed", "--binary", ARGS.binary, "--bundle", STATE["bundle"],
               "--shards", os.path.join(STATE["work"], "in", "*.json"), "--out", out)
        self.assertSameAsReference(out)
        embedded, given = [], set()
        for path in STATE["shards"]:
            with open(os.path.join(out, os.path.basename(path)[:-5] + ".users.json")) as f:
                embedded += json.load(f)
            with open(path) as f:
                given |= set(json.load(f))
        self.assertEqual(len(embedded), len(set(embedded)))
        self.assertEqual(set(embedded), given)

    def test_b_a_task_killed_mid_shard_is_retried(self):
        out, markers = os.path.join(STATE["work"], "out-b"), os.path.join(STATE["work"], "markers")
        os.makedirs(markers)
        result = driver("embed", "--binary", ARGS.binary, "--bundle", STATE["bundle"],
                        "--shards", os.path.join(STATE["work"], "in", "*.json"), "--out", out,
                        "--crash-once-dir", markers)
        crashed = {}
        for f in sorted(os.listdir(markers)):
            with open(os.path.join(markers, f)) as m:
                crashed[f] = json.load(m)["binaryStillRunningWhenKilled"]
        print(f"\n  (b) first attempts killed: {crashed}", file=sys.stderr)
        self.assertEqual(len(crashed), 3, result.stderr)
        self.assertTrue(all(crashed.values()), "a binary had finished before its task was killed")
        self.assertSameAsReference(out)

    def test_c_a_malformed_shard_fails_the_job_by_name(self):
        work = STATE["work"]
        inputs, out = os.path.join(work, "in-c"), os.path.join(work, "out-c")
        shutil.copytree(os.path.join(work, "in"), inputs)
        with open(os.path.join(inputs, "shard-01.json")) as f:
            text = f.read()
        with open(os.path.join(inputs, "shard-01.json"), "w") as f:
            f.write(text[: len(text) // 2])  # truncated mid-object
        shutil.copytree(STATE["ref"], out)  # yesterday's complete outputs ...
        with open(os.path.join(out, "_SUCCESS.json"), "w") as f:
            f.write("{}")  # ... and its manifest
        result = driver("embed", "--binary", ARGS.binary, "--bundle", STATE["bundle"],
                        "--shards", os.path.join(inputs, "*.json"), "--out", out, check=False)
        print(f"\n  (c) exit {result.returncode}, stderr tail:\n    "
              + "\n    ".join(result.stderr.strip().splitlines()[-2:]), file=sys.stderr)
        self.assertEqual(result.returncode, 1)
        self.assertIn("shard shard-01 failed", result.stderr)
        self.assertIn(os.path.join(inputs, "shard-01.json") + ": not a shard of histories", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "_SUCCESS.json")))
        for f in embed_outputs("shard-01"):
            self.assertFalse(os.path.exists(os.path.join(out, f)), f)
        self.assertFalse(os.path.exists(os.path.join(out, "_tmp")))

    def test_d_index_add_over_shards_and_merge_searches_as_one_index(self):
        import numpy as np

        work = os.path.join(STATE["work"], "index")
        os.makedirs(work)
        rng = np.random.default_rng(7)
        pins = rng.standard_normal((3000, 64)).astype(np.float32)
        pins /= np.linalg.norm(pins, axis=1, keepdims=True)
        np.save(os.path.join(work, "all.npy"), pins)
        for i, (a, b) in enumerate([(0, 1000), (1000, 2200), (2200, 3000)]):
            np.save(os.path.join(work, f"pins-{i:02d}.npy"), pins[a:b])
        np.save(os.path.join(work, "queries.npy"), pins[::100] + 0.1 * rng.standard_normal((30, 64)).astype(np.float32))
        b, trained = ARGS.binary, os.path.join(work, "trained.faiss")
        run([b, "index", "train", "--sample", os.path.join(work, "all.npy"), "--factory", "IVF16,PQ16x8np",
             "--out", trained])
        out = os.path.join(work, "out")
        driver("index-add", "--binary", b, "--trained", trained, "--shards", os.path.join(work, "pins-*.npy"),
               "--out", out, "--merge")
        run([b, "index", "add", "--trained", trained, "--vectors", os.path.join(work, "all.npy"),
             "--first-id", "0", "--out", os.path.join(work, "one.faiss")])

        def search(index):
            return run([b, "index", "search", "--index", index, "--queries", os.path.join(work, "queries.npy"),
                        "--k", "20", "--nprobe", "4"]).stdout

        # Parsed: the binary's JSON key order is not fixed between processes.
        merged = json.loads(search(os.path.join(out, "merged.faiss")))
        self.assertEqual(merged, json.loads(search(os.path.join(work, "one.faiss"))))
        self.assertEqual(len(merged), 30)
        with open(os.path.join(out, "_SUCCESS.json")) as f:
            manifest = json.load(f)
        self.assertEqual([s["firstId"] for s in manifest["shards"]], [0, 1000, 2200])
        same_bytes = filecmp.cmp(os.path.join(out, "merged.faiss"), os.path.join(work, "one.faiss"), shallow=False)
        print(f"\n  (d) search outputs equal; merged file byte-identical to one add: {same_bytes}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True, help="the eval-retrieval release executable")
    parser.add_argument("--bundle", help="an existing PinnerFormer bundle (default: train a tiny one)")
    ARGS, rest = parser.parse_known_args()
    ARGS.binary = os.path.abspath(ARGS.binary)
    warnings.filterwarnings("ignore", "pkg_resources is deprecated")  # ray 2.6.3, in every process
    os.environ.setdefault("PYTHONWARNINGS", "ignore:pkg_resources is deprecated:UserWarning")
    try:
        import ray  # noqa: F401
    except ImportError:
        print("SKIPPED: ray not installed (run scale-out/setup.sh)")
        sys.exit(0)
    unittest.main(argv=[sys.argv[0]] + rest)
