#!/usr/bin/env bash
# Measures the inputs of the cost sheet (scale-out/cost_sheet.py -> Benchmarks/scale-out.md) with
# the release binary on this machine and writes scale-out/measured.json: each figure with the
# command behind it, the machine, and whether other jobs were competing for its cores.
#
#   scale-out/measure.sh [BINARY]       # default .build/release/eval-retrieval; ~15 min on 2 busy cores
#
# Env: WORK (default /tmp/scaleout-measure: bundles, shards and vectors, reused by a rerun when
# their recipe is unchanged), PYTHON (default the peers' venv; needs numpy), CONTENDED=0|1 to
# override the detection. Everything runs under nice -n 10; every timed command runs one thread.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "measure.sh: needs GNU time (apt-get install time) for peak RSS" >&2; exit 1; }
BIN=$(readlink -f "${1:-.build/release/eval-retrieval}")
PY=${PYTHON:-/opt/pinretrieval-peers/bin/python}
exec nice -n 10 "$PY" - "$BIN" "${WORK:-/tmp/scaleout-measure}" scale-out/measured.json <<'EOF'
import hashlib, json, os, shlex, subprocess, sys, time
import numpy as np

sys.path.insert(0, "scale-out")
from test_driver import write_shards  # random histories over a bundle's pins

BIN, WORK, OUT = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
ENV1 = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
HISTORY = 64  # actions per user: the encoder's whole window (maxLength 64)
LOG = os.path.join(WORK, "stderr.log")


def say(*a):
    print("measure:", *a, file=sys.stderr, flush=True)


def timed(argv, repeats=1, env=ENV1, threads=1):
    """Best (least CPU) of `repeats` runs: wall and CPU (user + sys) seconds, peak RSS. GNU time
    reports them: a child forked (vforked) by this big Python process would inherit its peak RSS."""
    best, stats = None, os.path.join(WORK, "time.txt")
    for _ in range(repeats):
        start = time.perf_counter()
        with open(LOG, "w") as log:
            status = subprocess.run(["/usr/bin/time", "-o", stats, "-f", "%U %S %M", *argv],
                                    stdout=subprocess.DEVNULL, stderr=log, env=env).returncode
        wall = time.perf_counter() - start
        if status != 0:
            sys.exit(f"measure: {shlex.join(argv)} failed:\n{open(LOG).read()[-2000:]}")
        user, system, rss_kb = open(stats).read().split()[-3:]
        r = {"wallSeconds": round(wall, 3), "cpuSeconds": round(float(user) + float(system), 3),
             "peakRssBytes": int(rss_kb) * 1024}
        if best is None or r["cpuSeconds"] < best["cpuSeconds"]:
            best = r
    t = str(threads)
    best["command"] = f"OMP_NUM_THREADS={t} OPENBLAS_NUM_THREADS={t} nice -n 10 " + shlex.join(argv)
    return best


def bundle(name, recipe):
    """A PinnerFormer bundle trained a few steps on a small synthetic world (speed does not depend
    on training); rebuilt only when the recipe changes."""
    path, cfg = os.path.join(WORK, "bundle-" + name), os.path.join(WORK, name + ".yaml")
    if not (os.path.exists(cfg) and open(cfg).read() == recipe and os.path.exists(path + "/manifest.json")):
        say("training bundle", name)
        with open(cfg, "w") as f:
            f.write(recipe)
        timed([BIN, "run", "--config", cfg, "--out", os.path.join(WORK, "report-" + name),
               "--export-bundle", path], env=dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2"), threads=2)
    files = {f: os.path.getsize(os.path.join(path, f)) for f in sorted(os.listdir(path))}
    pins = json.load(open(path + "/manifest.json"))["pinCount"]
    cmd = f"nice -n 10 {shlex.join([BIN, 'run', '--config', cfg, '--export-bundle', path])}"
    return path, {"recipe": recipe, "command": cmd, "pins": pins, "fileBytes": files,
                  "bytesPerPin": round(sum(files.values()) / pins, 1)}


def shard(bundle_path, name, users):
    directory = os.path.join(WORK, f"shard-{name}-{users}")
    path = os.path.join(directory, "shard-00.json")
    if not os.path.exists(path):
        write_shards(bundle_path, directory, [users], seed=users, lengths=(HISTORY, HISTORY))
    return path


def others():
    """Other processes using over 20% of a core (ps: average over their lifetime)."""
    rows = subprocess.run(["ps", "-eo", "pid,ni,pcpu,etime,args", "--sort=-pcpu"], capture_output=True,
                          text=True).stdout.splitlines()[1:]
    busy = []
    for row in rows:
        pid, ni, pcpu, etime, args = row.split(None, 4)
        if float(pcpu) > 20 and int(pid) != os.getpid():
            busy.append({"pid": int(pid), "nice": ni, "cpuPercent": float(pcpu), "elapsed": etime,
                         "command": args[:100]})
    return busy


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


start = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadAverage": loadavg(), "busyProcesses": others()}
world = "synthetic: {pins: 100000, users: 300, topics: 20, days: 28}\n"
common = "training: {steps: 5}\ntuning: {learningRates: [0.001]}\nevaluation: {bootstrapResamples: 10}\n" \
         "alphaGrid: [1]\nann: {latencyQueries: 10}\nthreads: 2\n"
sizes = {"H64-D64": ("", [4000, 16000]), "H256-D256": ("model: {hidden: 256, outputDimension: 256}\n", [1000])}
embed = {}
for name, (model, user_counts) in sizes.items():
    path, info = bundle(name, world + model + common)
    one = timed([BIN, "embed", "--bundle", path, "--histories", shard(path, name, 1),
                 "--out", os.path.join(WORK, "o1"), "--threads", "1"], repeats=2)
    runs = []
    for users in user_counts:
        say("embed", name, users, "users")
        r = timed([BIN, "embed", "--bundle", path, "--histories", shard(path, name, users),
                   "--out", os.path.join(WORK, "o"), "--threads", "1"], repeats=2)
        r.update(users=users, historyActions=HISTORY, inputJsonBytes=os.path.getsize(shard(path, name, users)),
                 usersPerCpuSecond=round(users / r["cpuSeconds"], 1),
                 usersPerWallSecond=round(users / r["wallSeconds"], 1),
                 marginalUsersPerCpuSecond=round((users - 1) / (r["cpuSeconds"] - one["cpuSeconds"]), 1))
        runs.append(r)
    embed[name] = {"bundle": info, "oneUser": one, "shards": runs}

index = {}
rng = np.random.default_rng(1)
for d in (64, 256):
    factory, n_small, n, queries = f"IVF4096,PQ{d // 4}x8np", 100_000, 400_000, 2000
    paths = {k: os.path.join(WORK, f"{k}-{d}.npy") for k in ("pins", "small", "sample", "queries", "query1")}
    if not all(os.path.exists(p) for p in paths.values()):
        x = rng.standard_normal((n + queries, d)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        np.save(paths["pins"], x[:n]); np.save(paths["small"], x[:n_small]); np.save(paths["sample"], x[:40_000])
        np.save(paths["queries"], x[n:]); np.save(paths["query1"], x[n:n + 1])
    trained = os.path.join(WORK, f"trained-{d}.faiss")
    say("index train", d)
    train = timed([BIN, "index", "train", "--sample", paths["sample"], "--factory", factory, "--out", trained],
                  env=dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2"), threads=2)
    add, search = {}, {}
    for key, rows in (("small", n_small), ("pins", n)):
        out = os.path.join(WORK, f"{key}-{d}.faiss")
        say("index add", d, rows)
        a = timed([BIN, "index", "add", "--trained", trained, "--vectors", paths[key], "--first-id", "0", "--out", out])
        a.update(vectors=rows, vectorsPerCpuSecond=round(rows / a["cpuSeconds"], 1), indexBytes=os.path.getsize(out),
                 bytesPerVector=round((os.path.getsize(out) - os.path.getsize(trained)) / rows, 2))
        add[rows] = a
        q = lambda f: [BIN, "index", "search", "--index", out, "--queries", f, "--k", "100", "--nprobe", "16"]
        s1, s = timed(q(paths["query1"]), repeats=2), timed(q(paths["queries"]), repeats=2)
        s.update(vectors=rows, queries=queries, oneQuery=s1, qpsPerCpuSecond=round(queries / s["cpuSeconds"], 1),
                 marginalQpsPerCpuSecond=round((queries - 1) / (s["cpuSeconds"] - s1["cpuSeconds"]), 1))
        search[rows] = s
    index[f"d{d}"] = {"factory": factory, "nprobe": 16, "k": 100, "vectors": "random unit Gaussian float32",
                      "train": train, "add": add, "search": search}

end = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "loadAverage": loadavg(), "busyProcesses": others()}
busy = bool(start["busyProcesses"] or end["busyProcesses"]) or max(start["loadAverage"][0], end["loadAverage"][0]) > 0.5
override = os.environ.get("CONTENDED")
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
mem = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1]) * 1024
contended = bool(int(override)) if override else busy
# How much of each one-thread command's wall time it spent on a core (1.0: never waited for one).
timed_runs = [r for e in embed.values() for r in e["shards"] + [e["oneUser"]]]
timed_runs += [r for i in index.values() for r in [*i["add"].values(), *i["search"].values()]]
ratios = [r["wallSeconds"] / max(r["cpuSeconds"], 0.01) for r in timed_runs]
note = (f"other jobs were busy on the cores at the start or end (busyProcesses, loadAverage); the timed "
        f"commands' wall / CPU time ratio was {min(ratios):.2f}-{max(ratios):.2f}, and CPU time itself "
        "can be inflated by sharing caches and memory bandwidth with them: every time figure is an upper bound"
        if contended else "no other busy process at the start or the end")
result = {
    "contended": contended,
    "contendedNote": note,
    "machine": {"nproc": os.cpu_count(), "cpuModel": cpu[0] if cpu else "unknown", "memoryBytes": mem,
                "kernel": os.uname().release},
    "binary": {"path": BIN, "sha256": hashlib.sha256(open(BIN, "rb").read()).hexdigest(),
               "version": subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip()},
    "start": start, "end": end,
    "method": "each timed command runs alone, one thread (OMP_NUM_THREADS=1, --threads 1), best CPU of the "
              "repeats; cpuSeconds = user + sys and peak RSS of the command (GNU time); 'marginal' rates subtract the "
              "one-user / one-query run (bundle or index load, process start). Histories: random draws of "
              f"{HISTORY} actions from the bundle's pins, action types and surfaces (scale-out/test_driver.py "
              "write_shards), the encoder's full window.",
    "embed": embed, "index": index,
}
with open(OUT + ".part", "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")
os.replace(OUT + ".part", OUT)
say("wrote", OUT)
EOF
