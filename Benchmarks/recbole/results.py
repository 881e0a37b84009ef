"""Writes Benchmarks/recbole-results.md (to stdout) from the files Benchmarks/recbole/run.sh made.

Usage: results.py WORK_DIR MODEL [MODEL ...]
Environment: LOAD_NOTE, a sentence on what else ran on the machine (printed under the command).
"""

import json
import os
import platform
import subprocess
import sys


def cell(value, low=None, high=None):
    if value is None:
        return "—"
    if low is None:
        return f"{value:.4f}"
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def shape(config):
    """A RecBole model's size and training settings, from whichever of its keys it has."""
    parts = []
    for key, label in [
        ("n_layers", "{} layers"), ("num_layers", "{} layers"), ("embedding_size", "embedding {}"),
        ("hidden_size", "H {}"), ("hidden_dropout_prob", "dropout {}"), ("dropout_prob", "dropout {}"),
        ("learning_rate", "lr {}"), ("train_batch_size", "batch {}"), ("loss_type", "loss {}"),
    ]:
        if config.get(key) is not None:
            parts.append(label.format(config[key]))
    return ", ".join(parts)


def resumed_epoch_median(r):
    """(median epoch seconds, epochs recorded) for a run resumed across sittings on a shared
    machine, whose accumulated time adds up contended epochs; None when every epoch was timed in
    the recorded sitting (or none was), and the measured total stands."""
    median = r.get("median_epoch_seconds")
    recorded = len(r.get("epoch_seconds_recorded") or [])
    return None if median is None or recorded == r["epochs_run"] else (median, recorded)


def recbole_training_seconds(r):
    """The figure the comparison uses: the median epoch times the epochs for a resumed run, else
    the measured total."""
    resumed = resumed_epoch_median(r)
    return r["training_seconds"] if resumed is None else resumed[0] * r["epochs_run"]


def our_rules(loo):
    """Our leave-one-out result's rows under RecBole's rule (history not masked), and its
    masked rows by name (the outcome lists its configured rule first)."""
    masked_first = loo["maskHistory"]
    unmasked = loo["otherRuleResults"] if masked_first else loo["results"]
    masked = loo["results"] if masked_first else loo["otherRuleResults"]
    return unmasked, {r["name"]: r for r in masked}


def standing(ours, theirs):
    """Ours against RecBole's point value: ahead or behind when our 95% interval excludes it."""
    if ours["low"] > theirs:
        return "ahead"
    if ours["high"] < theirs:
        return "behind"
    return "level (RecBole's value inside our interval)"


def recbole_training(r):
    """RecBole's training wall time cell: for a resumed run, the median epoch time multiplied by
    the epochs run, with the accumulated figure beside it."""
    resumed = resumed_epoch_median(r)
    if resumed is None:
        return f"{r['training_seconds']:.0f}"
    median, recorded = resumed
    return (
        f"{median * r['epochs_run']:.0f} (median of {recorded} recorded epochs, {median:.0f} s, x "
        f"{r['epochs_run']}; {r['training_seconds']:.0f} accumulated over resumed runs)"
    )


def goal_lines(work, models, variants):
    """The issue's goal, computed: the best of our PinnerFormer rows (by unmasked Recall@10)
    against each RecBole model on Recall@10 and NDCG@10 under both rules, and the ratio of
    training wall times."""
    rows = []
    for loo, label, _ in variants:
        unmasked, masked = our_rules(loo)
        seconds = loo.get("trainingSeconds") or {}
        for row in unmasked:
            if row["name"].startswith("PinnerFormer") and row["name"] in seconds:
                rows.append((row["name"] + label, row["estimates"], masked[row["name"]]["estimates"], seconds[row["name"]]))
    if not rows:
        return []
    name, unmasked, masked, seconds = max(rows, key=lambda r: r[1]["recall@10"]["mean"])
    lines = ["## The goal: ours ahead of RecBole on Recall@10 and NDCG@10 with at least 5x less training time\n"]
    for model in models:
        r = json.load(open(os.path.join(work, f"recbole-{model}.json")))
        theirs_seconds = recbole_training_seconds(r)
        for rule, ours, theirs in [("not masked (RecBole's rule)", unmasked, r["recbole_test"]), ("masked", masked, r["test_masked"])]:
            parts = []
            for metric, key in [("Recall@10", "recall@10"), ("NDCG@10", "ndcg@10")]:
                value = theirs.get(key, theirs.get("hit@10")) if key == "recall@10" else theirs[key]
                parts.append(
                    f"{metric} {ours[key]['mean']:.4f} [{ours[key]['low']:.4f}, {ours[key]['high']:.4f}] vs "
                    f"{value:.4f}: {standing(ours[key], value)}"
                )
            lines.append(f"- Best of ours ({name}) vs RecBole {model}, {rule}: " + "; ".join(parts) + ".")
        lines.append(
            f"- Training wall time: RecBole {model} {theirs_seconds:.0f} s vs ours {seconds:.0f} s: "
            f"{theirs_seconds / seconds:.1f}x less for ours (goal: at least 5x)."
        )
    lines.append("")
    return lines


def main():
    work, models = sys.argv[1], sys.argv[2:]
    variants = []
    for suffix, label in [("", ""), ("-pinid", " + pin IDs")]:
        path = os.path.join(work, f"ours{suffix}.json")
        if os.path.exists(path):
            seconds = float(open(os.path.join(work, f"ours{suffix}-end-to-end-seconds")).read())
            variants.append((json.load(open(path))["outcome"], label, seconds))
    metrics = ["recall@10", "ndcg@10", "mrr@10"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()

    out = []
    out.append("# Side by side with RecBole on RecBole's protocol (ml-100k)\n")
    state = f"RECBOLE_STATE={os.environ['RECBOLE_STATE']} " if os.environ.get("RECBOLE_STATE") else ""
    out.append(
        f"Command: `{state}Benchmarks/recbole/run.sh {' '.join(models)}` (git {commit}; after `Benchmarks/setup-peers.sh`), "
        f"{os.cpu_count()} cores, {platform.machine()}, both sides on the same machine one after the other.\n"
    )
    if os.environ.get("LOAD_NOTE"):
        out.append(f"Load: {os.environ['LOAD_NOTE']}\n")
    out.append(
        "Protocol (both sides): RecBole 1.2.1's sequential leave-one-out (`LS: valid_and_test`, `order: TO`, "
        "stable sort by timestamp), every rating an interaction, full ranking over all 1,682 items with the "
        "padding item excluded. **Not masked** is RecBole's rule for sequential models (items the user already "
        "rated stay in the ranking); **masked** removes every earlier item of the user. RecBole's masked "
        "figures re-score its best checkpoint; its unmasked figures are RecBole's own evaluator (recomputed "
        "here and checked equal). Recall@10 = Hit@10 (one target per user). The split check compared our "
        "split with RecBole's for every user (targets and input sequences): identical.\n"
    )
    header = (
        "| model | Recall@10 not masked | NDCG@10 not masked | MRR@10 not masked | Recall@10 masked | "
        "NDCG@10 masked | MRR@10 masked | training wall time (s) | budget used |"
    )
    out.append(header)
    out.append("| --- " * 9 + "|")
    notes = []
    for model in models:
        r = json.load(open(os.path.join(work, f"recbole-{model}.json")))
        rb = r["recbole_test"]
        m = r["test_masked"]
        out.append(
            f"| RecBole {model} (defaults: {shape(r['config'])}) | {cell(rb['hit@10'])} | {cell(rb['ndcg@10'])} | "
            f"{cell(rb['mrr@10'])} | {cell(m['recall@10'])} | {cell(m['ndcg@10'])} | {cell(m['mrr@10'])} | "
            f"{recbole_training(r)} | {r['epochs_run']} epochs (best: epoch {r['best_epoch']} counting from 1; early stop "
            f"after {r['config'].get('stopping_step')} without improvement, at most {r['config'].get('epochs')}) |"
        )
        resumed = r["end_to_end_seconds"] < r["training_seconds"]
        what = (
            "this last run only loaded the data and evaluated the finished training's best checkpoint"
            if resumed
            else "data loading, training, evaluation"
        )
        notes.append(
            f"- RecBole {model}: end to end {r['end_to_end_seconds']:.0f} s ({what}); "
            f"torch {r['torch']}, {r['threads']} threads; best validation MRR@10 {r['best_valid_score']:.4f}."
        )
    for loo, label, _ in variants:
        unmasked_rows, masked_by_name = our_rules(loo)
        seconds = loo.get("trainingSeconds") or {}
        for row in unmasked_rows:
            name = row["name"]
            if label and not name.startswith("PinnerFormer"):
                continue  # the baselines do not change with the model's pin-ID option
            e = row["estimates"]
            mk = masked_by_name.get(name, {}).get("estimates", {})
            trained = seconds.get(name)
            unmasked = " | ".join(cell(e[k]["mean"], e[k]["low"], e[k]["high"]) for k in metrics)
            masked = " | ".join(
                cell(mk[k]["mean"], mk[k]["low"], mk[k]["high"]) if k in mk else "—" for k in metrics
            )
            wall = "—" if trained is None else f"{trained:.0f}"
            budget = "early stopping on the validation item (below)" if trained is not None else "no training"
            out.append(f"| ours: {name}{label} | {unmasked} | {masked} | {wall} | {budget} |")
    out.append("")
    out.append("Our intervals: 95% per-user bootstrap. RecBole reports point values (one seed, 2020).\n")
    out.extend(goal_lines(work, models, variants))
    for loo, label, end_to_end in variants:
        for t in loo.get("tunings", []):
            notes.append(f"- ours{label}: {t['summary']}")
            curve = t.get("curve") or {}
            scores = (curve.get("series") or {}).get("validation Recall@10")
            if scores:
                points = ", ".join(f"{int(x)}: {y:.4f}" for x, y in zip(curve["x"], scores))
                notes.append(f"  Validation Recall@10 by step: {points}.")
        notes.append(
            f"- ours{label} end to end: {end_to_end:.0f} s (data, both PinnerFormer objectives, PinnerSage, baselines)."
        )
    out.extend(notes)
    print("\n".join(out))


if __name__ == "__main__":
    main()
