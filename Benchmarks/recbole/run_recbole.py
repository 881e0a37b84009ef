"""RecBole 1.2.1's sequential recommenders on ml-100k, on RecBole's own protocol.

Runs one model (SASRec by default) with RecBole's default configuration for it (the model's
yaml, RecBole's `sequential.yaml` quick-start settings: `LS: valid_and_test`, `order: TO`, full
ranking), trains it to convergence with RecBole's own early stopping (valid_metric MRR@10,
stopping_step 10, at most 300 epochs), evaluates the best checkpoint on the test split and
writes one JSON with:

- RecBole's own test metrics (its evaluator: no history masking for sequential models),
- the same metrics recomputed here from the full score matrix, unmasked (must equal RecBole's)
  and with the user's whole history masked (every earlier item of the user set to -inf),
- training wall time (RecBole's `fit`, validation included) and end-to-end wall time,
- the split RecBole used: per user, the validation and test targets and the input sequences
  (RecBole truncates them to MAX_ITEM_LIST_LENGTH = 50), as raw ids, for the split check.

Usage: run_recbole.py --data-dir Datasets/cache --out result.json [--model SASRec] [--threads 2]
       [--state-dir DIR] [--max-minutes N]
(`Benchmarks/recbole/run.sh` runs it with the environment of `Benchmarks/setup-peers.sh`).

RecBole's SASRec needs minutes per epoch on 2 CPU cores, so training can span several runs: after
every epoch the full training state (model, optimizer, epoch, early-stopping counter, best score,
training seconds so far) is saved in --state-dir; with --max-minutes the run stops after the
epoch that passes the limit and exits with status 3, and the next run resumes from that state.
The reported training time adds up the runs (the data loading of each run is not counted).
"""

import argparse
import json
import os
import sys
import tempfile
import time

START = time.perf_counter()

import numpy as np  # noqa: E402

# --- Shims: RecBole 1.2.1 (2023) on current NumPy, torch, setuptools and pandas -----------------
# NumPy 2 removed np.float_, np.complex_, np.unicode_; RecBole's Config.compatibility_settings
# reads them to re-create the older aliases (np.float, np.long, ...), so both must exist.
for alias, value in {
    "float_": np.float64, "complex_": np.complex128, "unicode_": np.str_, "object_": np.object_,
}.items():
    if alias not in np.__dict__:
        setattr(np, alias, value)

import torch  # noqa: E402

# torch >= 2.6 loads checkpoints with weights_only=True by default; RecBole's own checkpoints
# hold its Config object, so reloading the best model fails without weights_only=False. Only
# files this run wrote itself are loaded.
_torch_load = torch.load


def _load_own_checkpoint(*args, **kwargs):
    kwargs.setdefault("weights_only", False)
    return _torch_load(*args, **kwargs)


torch.load = _load_own_checkpoint
# setuptools < 81 (pkg_resources, imported by RecBole's utilities) and pandas < 3 (RecBole writes
# into DataFrame views, which copy-on-write turns into no-ops) are pinned by setup-peers.sh.

from recbole.config import Config  # noqa: E402
from recbole.data import create_dataset, data_preparation  # noqa: E402
from recbole.utils import get_model, get_trainer, init_logger, init_seed  # noqa: E402


def ranks_of_targets(scores, targets):
    """1-based rank of each target in its row (ties count against the target: strict >)."""
    target_scores = scores.gather(1, targets.view(-1, 1))
    return (scores > target_scores).sum(dim=1) + 1


def metrics_from_ranks(ranks, k=10):
    ranks = ranks.double()
    hit = (ranks <= k).double()
    return {
        f"hit@{k}": hit.mean().item(),
        f"recall@{k}": hit.mean().item(),  # one target per user: Recall@k = Hit@k
        f"ndcg@{k}": (hit / torch.log2(ranks + 1)).mean().item(),
        f"mrr@{k}": (hit / ranks).mean().item(),
    }


class Paused(Exception):
    def __init__(self, epoch):
        super().__init__(f"paused after epoch {epoch}")
        self.epoch = epoch


class Resumable:
    """The training state in a folder: best.pth (RecBole's best checkpoint), latest.pth (after
    every epoch, written to a temporary name and renamed) and seconds.json."""

    def __init__(self, trainer, folder):
        self.trainer, self.folder = trainer, folder
        self.previous_seconds = 0.0
        self.resumed_epochs = 0
        # Wall seconds of each epoch (training and validation) since this field was introduced:
        # the machine is shared, so the report also gives the median epoch times the epochs.
        self.epoch_seconds = []
        self.finished = None  # the saved outcome of a run that already early-stopped
        if folder is None:
            return
        os.makedirs(folder, exist_ok=True)
        best, latest = os.path.join(folder, "best.pth"), os.path.join(folder, "latest.pth")
        if os.path.exists(latest):
            trainer.resume_checkpoint(latest)
            with open(os.path.join(folder, "seconds.json")) as f:
                saved = json.load(f)
            self.previous_seconds = saved["training_seconds"]
            self.epoch_seconds = saved.get("epoch_seconds", [])
            self.finished = saved.get("finished")
            self.resumed_epochs = trainer.start_epoch
            print(f"run_recbole: resumed at epoch {trainer.start_epoch} from {folder}", file=sys.stderr)
        trainer.saved_model_file = best  # RecBole saves its best model here (kept across runs)

    def save(self, epoch, seconds, epoch_seconds=None, finished=None):
        if self.folder is None:
            return
        if epoch_seconds is not None:
            self.epoch_seconds.append(epoch_seconds)
            tmp = os.path.join(self.folder, "latest.pth.tmp")
            self.trainer._save_checkpoint(epoch, verbose=False, saved_model_file=tmp)
            os.replace(tmp, os.path.join(self.folder, "latest.pth"))
        saved = {"training_seconds": seconds, "epochs_done": epoch + 1, "epoch_seconds": self.epoch_seconds}
        if finished is not None:
            saved["finished"] = finished
        with open(os.path.join(self.folder, "seconds.json.tmp"), "w") as f:
            json.dump(saved, f)
        os.replace(os.path.join(self.folder, "seconds.json.tmp"), os.path.join(self.folder, "seconds.json"))

    def epochs_done(self, trainer):
        return self.resumed_epochs + len(trainer.train_loss_dict)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder holding ml-100k/ml-100k.inter")
    parser.add_argument("--out", required=True, help="result JSON")
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="override RecBole's 300 (smoke tests)")
    parser.add_argument("--state-dir", default=None, help="training state for resuming (default: none)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this much training")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    data_dir = os.path.abspath(args.data_dir)
    inter = os.path.join(data_dir, "ml-100k", "ml-100k.inter")
    if not os.path.isfile(inter):
        sys.exit(f"run_recbole: {inter} is missing: run Datasets/fetch-ml-100k.sh first")

    args.out = os.path.abspath(args.out)
    work = tempfile.mkdtemp(prefix="recbole-")
    # RecBole writes ./log and ./log_tensorboard into the working directory: keep them out of the repo.
    os.chdir(work)
    overrides = {
        "data_path": data_dir,
        "checkpoint_dir": work,
        # RecBole's overall default samples one negative per pair; its CE loss (SASRec's
        # default) requires no negative sampling and refuses to start otherwise.
        "train_neg_sample_args": None,
        "metrics": ["Hit", "NDCG", "MRR"],
        "topk": [10],
        "show_progress": False,
        "use_gpu": False,
        "save_dataset": False,
        "save_dataloaders": False,
    }
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    config = Config(model=args.model, dataset="ml-100k", config_dict=overrides)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    # RecBole 1.2.1's sequential_recommender/sine.py calls torch.autograd.set_detect_anomaly(True)
    # at import, and get_model imports every sequential model, so every run of every model has
    # PyTorch's anomaly mode on: a debugging aid that records a traceback for every forward op
    # and checks every gradient for NaN in backward (aten::isnan + any after each backward node).
    # It changes no value that is computed; it made SASRec's training step 5-6x slower here
    # (profiled: isnan/any and traceback recording took most of the step). RecBole's trainer
    # still checks the loss for NaN itself. Turned off once the models are imported.
    torch.autograd.set_detect_anomaly(False)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    state = Resumable(trainer, args.state_dir)
    fit_start = time.perf_counter()
    epoch_end = [fit_start]

    def after_epoch(epoch, valid_score):
        now = time.perf_counter()
        state.save(epoch, state.previous_seconds + now - fit_start, epoch_seconds=now - epoch_end[0])
        epoch_end[0] = now
        if args.max_minutes is not None and now - fit_start > 60 * args.max_minutes:
            raise Paused(epoch)

    if state.finished:
        # A resumed run that had already early-stopped: training again would add an epoch.
        print(f"run_recbole: training finished earlier; evaluating {args.state_dir}/best.pth", file=sys.stderr)
        best_valid_score, best_valid = state.finished["best_valid_score"], state.finished["best_valid"]
        training_seconds, epochs_run = state.previous_seconds, state.resumed_epochs
        best_epoch = state.finished["best_epoch"]
    else:
        try:
            best_valid_score, best_valid = trainer.fit(
                train_data, valid_data, saved=True, show_progress=False, callback_fn=after_epoch
            )
        except Paused as paused:
            print(
                f"run_recbole: paused after epoch {paused.epoch} (--max-minutes {args.max_minutes}); "
                f"run again to resume from {args.state_dir}",
                file=sys.stderr,
            )
            sys.exit(3)
        training_seconds = state.previous_seconds + time.perf_counter() - fit_start
        epochs_run = state.epochs_done(trainer)
        # cur_step counts the validations since the best one (RecBole's early-stopping counter).
        best_epoch = epochs_run - trainer.cur_step
        best_valid = {k: float(v) for k, v in (best_valid or {}).items()}  # None: no gain after resume
        state.save(
            epochs_run - 1,
            training_seconds,
            finished={"best_valid_score": float(best_valid_score), "best_valid": best_valid, "best_epoch": best_epoch},
        )
    recbole_test = trainer.evaluate(test_data, load_best_model=True, show_progress=False)

    # Recompute from the score matrix: unmasked (RecBole's rule) and with the history masked.
    uid, iid = dataset.uid_field, dataset.iid_field
    list_field = iid + config["LIST_SUFFIX"]
    length_field = config["ITEM_LIST_LENGTH_FIELD"]
    inter_feat = dataset.inter_feat  # sorted by time (stable), all interactions
    history = {}
    for u, i in zip(inter_feat[uid].tolist(), inter_feat[iid].tolist()):
        history.setdefault(u, []).append(i)

    def split_of(data):
        feat = data._dataset.inter_feat
        users = feat[uid]
        rows = {}
        for r, u in enumerate(users.tolist()):
            n = int(feat[length_field][r])
            seq = feat[list_field][r][:n].tolist()
            rows[u] = (seq, int(feat[iid][r]), r)
        return feat, rows

    model.eval()
    ranks = {"unmasked": [], "masked": []}
    test_feat, test_rows = split_of(test_data)
    with torch.no_grad():
        batch = 256
        n = len(test_feat)
        for start in range(0, n, batch):
            part = test_feat[start : start + batch].to(config["device"])
            scores = model.full_sort_predict(part).view(len(part), -1)
            scores[:, 0] = -np.inf  # the padding item, as RecBole's full-sort evaluation does
            targets = part[iid]
            ranks["unmasked"].append(ranks_of_targets(scores, targets))
            masked = scores.clone()
            for r, u in enumerate(part[uid].tolist()):
                earlier = [i for i in history[u] if i != int(targets[r])]
                masked[r, earlier] = -np.inf
            ranks["masked"].append(ranks_of_targets(masked, targets))
    ours = {name: metrics_from_ranks(torch.cat(v)) for name, v in ranks.items()}

    _, valid_rows = split_of(valid_data)

    def raw_items(ids):
        return [str(x) for x in dataset.id2token(iid, ids)] if ids else []

    split = {}
    for u, (seq, target, _) in test_rows.items():
        vseq, vtarget, _ = valid_rows[u]
        split[str(dataset.id2token(uid, u))] = {
            "test_input": raw_items(seq),
            "test": str(dataset.id2token(iid, target)),
            "validation_input": raw_items(vseq),
            "validation": str(dataset.id2token(iid, vtarget)),
        }

    result = {
        "library": "recbole",
        "version": __import__("recbole").__version__,
        "torch": torch.__version__,
        "model": config["model"],
        "threads": args.threads,
        "config": {
            key: config[key]
            for key in [
                "epochs", "train_batch_size", "learning_rate", "stopping_step", "valid_metric",
                "MAX_ITEM_LIST_LENGTH", "eval_args", "seed", "n_layers", "n_heads", "hidden_size",
                "inner_size", "hidden_dropout_prob", "attn_dropout_prob", "loss_type", "num_layers",
                "embedding_size", "dropout_prob",
            ]
            if key in config
        },
        "users": len(test_rows),
        "items": dataset.item_num - 1,
        "best_valid_score": float(best_valid_score),
        "best_valid": {k: float(v) for k, v in best_valid.items()},
        "resumed_runs_state": args.state_dir,
        "epochs_run": epochs_run,
        "best_epoch": best_epoch,
        "epoch_seconds_recorded": state.epoch_seconds,
        "median_epoch_seconds": float(np.median(state.epoch_seconds)) if state.epoch_seconds else None,
        "recbole_test": {k: float(v) for k, v in recbole_test.items()},
        "test_unmasked": ours["unmasked"],
        "test_masked": ours["masked"],
        "training_seconds": training_seconds,
        "end_to_end_seconds": time.perf_counter() - START,
        "split": split,
    }
    # RecBole's evaluator and the recomputation must agree (same model, same rule).
    # RecBole rounds its metrics to metric_decimal_place (4) digits.
    places = config["metric_decimal_place"] or 4
    gap = abs(result["recbole_test"]["hit@10"] - round(ours["unmasked"]["hit@10"], places))
    result["recomputation_matches_recbole"] = gap < 1e-9
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    os.replace(tmp, args.out)
    print(
        f"run_recbole: {config['model']} test hit@10 {ours['unmasked']['hit@10']:.4f} "
        f"(RecBole's evaluator {result['recbole_test']['hit@10']:.4f}), masked {ours['masked']['hit@10']:.4f}; "
        f"{training_seconds:.0f} s training, {result['end_to_end_seconds']:.0f} s in all",
        file=sys.stderr,
    )
    if not result["recomputation_matches_recbole"]:
        sys.exit("run_recbole: the recomputed unmasked metrics differ from RecBole's evaluator")


if __name__ == "__main__":
    main()
