"""Benchmark: the shipped general picker at 0 labels, and fine-tuned from it vs from scratch at 10 / 100.

Datasets: the real EMPIAR-10017 set (10 train / 5 test micrographs, the split of
bench_pick_objectives.py / bench_pick_topaz.py, same labeled subsets for the same seed) and
micrographs simulated with proteins kept OUT of the pretraining corpus (HIV-1 protease 4E43; with
``--datasets unseen:1a28`` the progesterone receptor ligand-binding domain dimer;
fewlabel.pick.pretrained.HELD_OUT; simulator defaults, 1.25 Å/px, SNR 0.05).

Rows: ``general (0 labels)`` = the shipped weights alone, set up from the particle diameter as
``fewlabel pick extract --diameter`` does; ``pretrained`` / ``scratch`` = ``pick train`` defaults
(resnet8/16, GE-binomial, lr 5e-4) started from the shipped weights or at random, best epoch by
validation AUPRC. ``best_s`` = training wall time until that best epoch (0: the starting weights
were best), ``train_s`` = the whole schedule. Topaz pretrained rows are read (not rerun) from
benchmarks/results/bench_pick_topaz_real.json. AUPRC: recall over all true particles of the test
micrographs, match radius = particle radius (``auprc_strict``: half of it).

    python benchmarks/bench_pick_pretrained.py --datasets real --labels 10,100 --inits pretrained,scratch \\
        --seeds 0,1,2 --epochs 10 --steps 100
    python benchmarks/bench_pick_pretrained.py --datasets real --labels 10 --inits pretrained --seeds 0,1,2 --lr 1e-4

Each trained model is scored twice by default (``--scoring both``): as ``pick extract`` scores (score
maps averaged over the 8 rotations/mirrors, rows marked ``tta``) and with one orientation (``--no-tta``).

Defaults: ``pick train``'s schedule (10 epochs x 100 minibatches). ``--lr``, ``--pseudo``,
``--freeze-epochs`` set the fine-tuning options instead of ``pick train``'s defaults; a row's method
names every setting that differs from the pre-issue-#8 fine-tuning (lr 5e-4, no pseudo-labels,
nothing frozen). Results merge into benchmarks/results/bench_pick_pretrained.{json,md} (same
dataset/labels/method/seed/validation/schedule replaced, everything else kept; two runs of the
script may write in parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from fewlabel.pick.train import default_downsample as pick_train_downsample

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pick_objectives import (RESULTS, default_downsample, labeled_subset, markdown_table,  # noqa: E402
                                   prepared, real_dataset)

HELD_OUT_MOLECULE = "4E43"


def unseen_dataset(work: Path, n_train: int, n_test: int, size: int, labels: list[int],
                   molecule: str = HELD_OUT_MOLECULE) -> dict:
    """Micrographs of a protein that is not in the pretraining corpus (cached under ``work``)."""
    from fewlabel.io.picks import read_picks
    from fewlabel.pick.pretrained import CORPUS, HELD_OUT
    from fewlabel.simulate.micrographs import simulate_micrographs

    assert molecule in HELD_OUT and not any(c.split(":")[0] == molecule for c in CORPUS)
    out = {}
    for part, n, seed in (("train", n_train, 100), ("test", n_test, 1100)):
        d = work / f"unseen_{molecule}_{part}_{n}_{size}_{seed}"
        if not (d / "simulation.json").exists():
            simulate_micrographs(d, n=n, seed=seed, labeled_sizes=tuple(labels), progress=False,
                                 shape=(size, size), molecules=(molecule,))
        out[part] = d
    info = json.loads((out["train"] / "simulation.json").read_text())
    truth_train = read_picks(out["train"] / "truth.tsv")
    return {"name": f"simulated {molecule} (not in corpus; {n_train} train / {n_test} test, {size} px)",
            "short": f"unseen {molecule} (sim)",
            "train_paths": sorted((out["train"] / "micrographs").glob("*.mrc")),
            "test_paths": sorted((out["test"] / "micrographs").glob("*.mrc")),
            "truth": read_picks(out["test"] / "truth.tsv"), "truth_train": truth_train,
            "particle_radius": float(info["particle_radius_px"]), "expected": len(truth_train) / n_train}


def picks_of_prepared(model, prepared: np.ndarray, name: str, radius_ds: float, factor: float,
                      tta: bool = True) -> pd.DataFrame:
    """``pick extract``'s scoring of one prepared image (``tta``: score map averaged over the 8 rotations/mirrors,
    its default; else ``--no-tta``), NMS at ``radius_ds`` (prepared px), picks scaled back by ``factor``."""
    import torch

    from fewlabel.pick.extract import picks_from_scores
    from fewlabel.pick.models import score_map

    with torch.inference_mode():
        smap = score_map(model, torch.from_numpy(prepared), tta=tta).numpy()
    return picks_from_scores(smap, name, radius_ds, factor)


def score(model, names, images, truth, particle_radius, downsample, tta: bool = False) -> dict:
    """Pick the prepared test images with ``model`` as ``pick extract`` does (:func:`picks_of_prepared`);
    AUPRC at the particle radius and half of it."""
    from fewlabel.pick import metrics

    picks = pd.concat([picks_of_prepared(model, im, n, particle_radius / downsample, downsample, tta)
                       for n, im in zip(names, images)], ignore_index=True)
    curve = metrics.evaluate_picks(picks, truth, particle_radius)
    strict = metrics.evaluate_picks(picks, truth, particle_radius / 2)
    best = curve.best_f1()
    return {"auprc": curve.auprc, "auprc_strict": strict.auprc, "precision": best["precision"],
            "recall": best["recall"], "n_picks": curve.n_picks, "n_true": curve.n_true}


def run_general(ds: dict, downsample: float | None, scorings: tuple[bool, ...] = (False,),
                weights: str | None = None) -> dict[bool, dict]:
    """The general picker (``weights``, default the shipped one) alone (zero labels), as ``pick extract
    --diameter 2R``, or downsampled by ``downsample`` instead): one result per scoring in ``scorings`` (tta off / on)."""
    from fewlabel.pick.pretrained import config_for_diameter, load_general

    model, config = load_general(weights)
    cfg = config_for_diameter(config, 2 * ds["particle_radius"])
    downsample = downsample or cfg["downsample"]
    names, images, _ = prepared(ds["test_paths"], downsample)
    out = {}
    for tta in scorings:
        t = time.perf_counter()
        res = score(model, names, images, ds["truth"], ds["particle_radius"], downsample, tta)
        out[tta] = {**res, "train_s": 0.0, "best_s": 0.0, "best_epoch": 0, "extract_s": time.perf_counter() - t}
    return out


#: fine-tuning settings a row is labelled with when they differ from these (pick train before issue #8's
#: fine-tuning work: lr 5e-4, no pseudo-labels, nothing frozen), so labels never change meaning with the defaults
LEGACY = {"lr": 5e-4, "pseudo_labels": 0.0, "freeze_epochs": 0, "mix_start": 0.0, "lr_decay": "constant",
          "keep_bn_stats": False, "average_last": 1, "label_tiles": 0.0, "distill": 0.0, "distill_targets": "tile"}
SHORT = {"lr": "lr", "pseudo_labels": "pseudo", "freeze_epochs": "freeze", "mix_start": "mix", "lr_decay": "decay",
         "keep_bn_stats": "bn", "average_last": "swa", "label_tiles": "lt", "distill": "kd",
         "distill_targets": "kdt"}


def _short(value) -> str:
    """A setting as a row label shows it: numbers as %g, ``keep_bn_stats=True`` as ``bn=keep``."""
    if isinstance(value, bool):
        return "keep" if value else "update"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def method_label(init: str, settings: dict, tta: bool = False) -> str:
    """``init`` plus every fine-tuning setting that differs from :data:`LEGACY`, e.g. ``pretrained lr=0.0001``,
    and ``tta`` when test scores were averaged over rotations/mirrors (rows before that option: plain)."""
    moot = {"distill_targets"} if not settings.get("distill") else set()  # targets of no distillation say nothing
    extra = [f"{SHORT[k]}={_short(settings[k])}" for k in LEGACY
             if k in settings and k not in moot and settings[k] != LEGACY[k]]
    return " ".join([init] + extra + (["tta"] if tta else []))


def run_train(ds: dict, labeled: pd.DataFrame, downsample: int, init: str, epochs: int, steps: int,
              seed: int, validation: str = "auto", overrides: dict | None = None,
              scorings: tuple[bool, ...] = (False,), weights: str | None = None) -> dict[bool, dict]:
    """``pick train`` defaults from the general picker (``weights``, default the shipped one) (``init="pretrained"``) or at random; test AUPRC of the
    one trained model per scoring in ``scorings`` (tta off / on).

    ``overrides``: TrainConfig fields (lr, pseudo_labels, freeze_epochs) instead of pick train's defaults.
    """
    from fewlabel.pick import data
    from fewlabel.pick.pretrained import pretrained_state
    from fewlabel.pick.sampling import estimate_pi
    from fewlabel.pick import train as train_mod
    from fewlabel.pick.train import (TrainConfig, default_validation_fraction, load_picker, split_validation,
                                     train_picker)

    pr = ds["particle_radius"]
    names, images, _ = prepared(ds["train_paths"], downsample)
    lab_ds = data.to_downsampled(labeled, downsample)
    pi = estimate_pi(ds["expected"], pr / 2 / downsample, images[0].shape)
    units = (overrides or {}).get("units", 16)
    state = pretrained_state("resnet8", units, weights)[0] if init == "pretrained" else None
    if init == "pretrained" and state is None:
        raise SystemExit(f"the general picker {weights or '(shipped)'} is not resnet8 with {units} units")
    cfg = TrainConfig(radius=pr / 2, pi=pi, downsample=downsample, epochs=epochs, steps_per_epoch=steps,
                      nms_radius=pr, seed=seed, init="general_picker" if state is not None else "scratch",
                      **(overrides or {}))
    cfg = train_mod.resolve_defaults(cfg, len(lab_ds))
    settings = {k: getattr(cfg, k, LEGACY[k]) for k in LEGACY}
    fraction = default_validation_fraction(len(lab_ds)) if validation == "auto" else float(validation)
    val = split_validation(names, lab_ds, fraction, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        history = train_picker(images, names, lab_ds, cfg, Path(tmp) / "m.pt", validation=val, progress=False,
                               log=lambda m: None, init_state=state)
        train_s = time.perf_counter() - t
        model, _ = load_picker(Path(tmp) / "m.pt")
    best = max(history, key=lambda h: h.get("val_auprc", h["epoch"]))
    test_names, test_images, _ = prepared(ds["test_paths"], downsample)
    out = {}
    for tta in scorings:
        t = time.perf_counter()
        res = score(model, test_names, test_images, ds["truth"], pr, downsample, tta)
        out[tta] = {**res, **settings, "train_s": train_s, "best_s": best.get("elapsed_s", float("nan")),
                    "best_epoch": best["epoch"], "extract_s": time.perf_counter() - t,
                    "val_auprc_best": best.get("val_auprc", float("nan"))}
    return out


def topaz_rows() -> list[dict]:
    """Topaz pretrained rows from bench_pick_topaz_{real,unseen}*.json (cited, not rerun).

    Rows on fewlabel's equal wall time are "topaz pretrained", those on `pick train` defaults' CPU time (the
    ``--fewlabel defaults`` files) "topaz pretrained (= pick train's CPU)"; rows with another budget keep their tool
    name ("topaz pretrained (budget 300 s)", "... (2x fewlabel's time)"); a file's downsampling other than the
    default shows as " ds=F".
    """
    rows = []
    for short, pattern in (("EMPIAR-10017", "bench_pick_topaz_real*.json"),
                           (f"unseen {HELD_OUT_MOLECULE} (sim)", "bench_pick_topaz_unseen*.json")):
        for path in sorted(RESULTS.glob(pattern)):
            ds_tag = f" ds={path.stem.rsplit('_ds', 1)[1]}" if "_ds" in path.stem else ""
            for r in json.loads(path.read_text()).get("runs", []):
                if not r.get("tool", "").startswith("topaz pretrained"):
                    continue
                budget = r["tool"] != "topaz pretrained"
                defaults = "_defaults" in path.stem  # trained for pick train's defaults' CPU time (or 2x)
                method = r["tool"] + (" (= pick train's CPU)" if defaults and not budget else "") + ds_tag
                rows.append({"dataset": short, "labels": int(r["labels"]), "method": method,
                             "seed": r.get("seed", 0), "auprc": r["auprc"], "auprc_strict": r.get("auprc_strict"),
                             "train_s": r.get("train_s"),
                             "source": f"{path.name} ({r.get('threads', '?')} thread(s), " + (
                                 f"{r['tool'].split('(')[1].rstrip(')')}" if budget else
                                 "pick train defaults' CPU time" if defaults else
                                 f"{r.get('epochs')}x{r.get('steps')} fewlabel-equal wall time") + ")"})
    return rows


def row_key(r: dict) -> tuple:
    """Rows with the same key are the same experiment: a rerun replaces, anything else is kept."""
    trained = r["labels"] > 0
    return (r["dataset"], r["labels"], r["method"], r["seed"], r.get("validation", "0.2") if trained else "-",
            (r.get("epochs"), r.get("steps")) if trained else "-")


def schedule(r: dict) -> str:
    return f"{int(r['epochs'])}x{int(r['steps'])}" if r.get("labels", 0) > 0 and r.get("epochs") else "-"


def merge_write(stem: Path, config: dict, new_rows: list[dict], header: list[str]) -> None:
    """Merge ``new_rows`` into the results on disk (same key replaced) and rewrite both files.

    Holds a lock while reading and writing, so two runs of this script in parallel lose nothing.
    """
    import fcntl

    with open(Path(tempfile.gettempdir()) / f"{stem.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = stem.with_suffix(".json")
        on_disk = json.loads(path.read_text())["runs"] if path.exists() else []
        keys = {row_key(r) for r in new_rows}
        write(stem, config, [r for r in on_disk if row_key(r) not in keys] + new_rows, header)


def write(stem: Path, config: dict, rows: list[dict], header: list[str]) -> None:
    from fewlabel.atomic import write_text_atomic

    topaz = topaz_rows()
    write_text_atomic(stem.with_suffix(".json"), json.dumps({"config": config, "runs": rows, "topaz": topaz},
                                                            indent=1, default=float) + "\n")
    df = pd.DataFrame(rows + topaz)
    df["schedule"] = [schedule(r) for r in rows] + ["(Topaz)" for _ in topaz]
    fixed = df["labels"].gt(0) & ~df["method"].str.startswith("topaz") & df["validation"].fillna("0.2").ne("auto")
    df.loc[fixed, "method"] = df.loc[fixed, "method"] + " (hold-out " + df.loc[fixed, "validation"].fillna("0.2") + ")"
    summary = (df.groupby(["dataset", "labels", "method", "schedule"], sort=False)
               .agg(mean=("auprc", "mean"), sd=("auprc", "std"), n=("auprc", "count"),
                    train_s=("train_s", "mean")).reset_index())
    summary = summary.sort_values(["dataset", "labels", "schedule", "method"], kind="stable")
    summary["auprc (mean ± sd)"] = [f"{m:.3f} ± {0 if np.isnan(s) else s:.3f}" for m, s in zip(summary["mean"],
                                                                                             summary["sd"])]
    summary["train_s"] = [f"{v:.0f}" for v in summary["train_s"]]
    table = summary[["dataset", "labels", "method", "schedule", "auprc (mean ± sd)", "n", "train_s"]]
    df = df.sort_values(["dataset", "labels", "schedule", "method", "seed"], kind="stable")
    cols = ["dataset", "labels", "method", "schedule", "seed", "auprc", "auprc_strict", "best_epoch", "best_s",
            "train_s", "val_auprc_best", "load"]
    commands = sorted({r["command"] for r in rows if r.get("command")})
    md = ([f"# {stem.name}", ""] + header
          + ["", "Commands whose rows are in this table (each JSON row carries its own; rows without one are the "
             "6x40 rows from before rows carried it: the 3-seed rows from `--seeds 0,1,2 --inits pretrained,scratch "
             "--validation auto --epochs 6 --steps 40`, hold-out 0.2 rows from `--seeds 0,1,2` before that option "
             "existed, 1000-label rows from `--datasets real --labels 1000 --seeds 0,1 --inits pretrained,scratch`):", ""]
          + [f"- `{c}`" for c in commands]
          + ["", "## Test AUPRC (match radius = particle radius; mean ± sd over seeds)", "",
             "schedule = epochs x minibatches (`pick train` default: 10x100); method suffixes: lr = Adam learning "
             "rate, pseudo = the starting model's top picks on the training micrographs added as positives "
             "(number = this fraction of the expected particle count), freeze = epochs with the trunk frozen, "
             "mix = this fraction of the saved weights is the starting model's (weight-space ensembling), "
             "decay=cosine = learning rate decayed to 0 over the run (`--lr-decay`), bn=keep = the general picker's "
             "batch-norm running statistics kept while fine-tuning (`--keep-bn-stats yes`), "
             "tta = test score maps averaged over the 8 rotations/mirrors (`pick extract`'s default since "
             "session 4; rows without it: one orientation, `--no-tta`), each tta row scores the same trained "
             "model as the row without it; gp=NAME = started from (or, at 0 labels, scored with) the candidate "
             "general picker NAME.pt given by `--weights` "
             "instead of the shipped one (benchmarks/results/general_picker_candidates.md); "
             "ds=F = micrographs downsampled by F instead of round(R/3) (9 real, 4 unseen): the general picker's "
             "working scale (particle radius 6.75 px, `pick train`'s default from it since session 6) or "
             "`--downsample`; u=N = N channels per layer instead of 16 (`--units`: from scratch, or from a "
             "candidate general picker of that width); "
             "train_s = mean training wall time (s).", "",
             markdown_table(table, index=False), "", "## Every run", "",
             "load = 1-minute load average of the 2-core VM when the run ended (empty for older rows).", "",
             markdown_table(df[[c for c in cols if c in df]], index=False)])
    if topaz:
        md += ["", "Topaz rows: " + "; ".join(sorted({r["source"] for r in topaz}))]
    write_text_atomic(stem.with_suffix(".md"), "\n".join(md) + "\n")


def planned_settings(init: str, overrides: dict, n_labeled: int) -> dict:
    """The fine-tuning settings a run of ``init`` with ``overrides`` will use (pick train's defaults resolved)."""
    from fewlabel.pick import train as train_mod

    cfg = train_mod.TrainConfig(radius=1.0, pi=0.1, init="general_picker" if init == "pretrained" else "scratch",
                                **overrides)
    cfg = train_mod.resolve_defaults(cfg, n_labeled)
    return {k: getattr(cfg, k, LEGACY[k]) for k in LEGACY}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="real,unseen",
                    help="real (EMPIAR-10017), unseen (simulated 4E43) and/or unseen:MOLECULE (another protein of "
                         "fewlabel.pick.pretrained.HELD_OUT, e.g. unseen:1a28)")
    ap.add_argument("--labels", default="10,100")
    ap.add_argument("--inits", default="general,pretrained,scratch")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=10, help="pick train's default")
    ap.add_argument("--steps", type=int, default=100, help="minibatches per epoch (pick train's default)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--validation", default="auto",
                    help="validation fraction, or auto (pick train's default: none below 200 labels)")
    ap.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: pick train's)")
    ap.add_argument("--pseudo", type=float, default=None,
                    help="general-picker pseudo-positives, fraction of the expected count (default: pick train's)")
    ap.add_argument("--mix-start", type=float, default=None,
                    help="saved weights mixed with the starting ones, this fraction (default: pick train's)")
    ap.add_argument("--freeze-epochs", type=int, default=None,
                    help="epochs with the trunk frozen when fine-tuning (default: pick train's)")
    ap.add_argument("--lr-decay", choices=["constant", "cosine"], default=None,
                    help="learning rate over the run (default: pick train's)")
    ap.add_argument("--keep-bn-stats", choices=["yes", "no"], default=None,
                    help="keep the general picker's batch-norm statistics while fine-tuning (default: pick train's)")
    ap.add_argument("--average-last", type=int, default=None,
                    help="saved weights averaged over the last this-many epochs (default: pick train's)")
    ap.add_argument("--label-tiles", type=float, default=None,
                    help="fraction of positive tiles centred on hand labels rather than any positive "
                         "(default: pick train's)")
    ap.add_argument("--distill", type=float, default=None,
                    help="weight of distillation from the starting model on unlabeled pixels (default: pick train's)")
    ap.add_argument("--distill-targets", choices=["tile", "tta"], default=None,
                    help="distillation targets: the starting model per training tile, or its scores averaged over "
                         "8 orientations, computed once (default: pick train's)")
    ap.add_argument("--scoring", choices=["both", "tta", "plain"], default="both",
                    help="test scores of each trained model: averaged over rotations/mirrors as pick extract's "
                         "default (tta), one orientation (plain, --no-tta), or both as two rows")
    ap.add_argument("--weights", default=None,
                    help="a candidate general picker instead of the shipped one (its rows' methods end in "
                         "'gp=FILE STEM', so they never replace the shipped picker's rows)")
    ap.add_argument("--units", type=int, default=None,
                    help="channels per layer instead of 16 (rows get u=N); from a general picker only with a "
                         "candidate of that width (--weights)")
    ap.add_argument("--downsample", type=float, default=None,
                    help="downsampling factor instead of pick train's default for the row's start")
    ap.add_argument("--work", default=str(Path(__file__).resolve().parent / "work"))
    args = ap.parse_args(argv)
    scorings = {"both": (False, True), "tta": (True,), "plain": (False,)}[args.scoring]
    import torch

    from fewlabel.pick.pretrained import weights_path

    torch.set_num_threads(args.threads)
    labels = [int(v) for v in args.labels.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    overrides = {k: v for k, v in (("lr", args.lr), ("pseudo_labels", args.pseudo), ("units", args.units),
                                   ("freeze_epochs", args.freeze_epochs), ("mix_start", args.mix_start),
                                   ("lr_decay", args.lr_decay), ("average_last", args.average_last),
                                   ("label_tiles", args.label_tiles), ("distill", args.distill),
                                   ("distill_targets", args.distill_targets),
                                   ("keep_bn_stats",
                                    None if args.keep_bn_stats is None else args.keep_bn_stats == "yes"))
                 if v is not None}
    if args.units and set(args.inits.split(",")) - {"scratch"} and not args.weights:
        ap.error("--units applies to --inits scratch, or with --weights of a candidate of that width "
                 "(the shipped general picker has 16 units)")
    work = Path(args.work)
    stem = RESULTS / "bench_pick_pretrained"
    earlier = json.loads(stem.with_suffix(".json").read_text())["runs"] if stem.with_suffix(".json").exists() else []
    wp = weights_path()
    recipe = json.loads(Path(str(wp) + ".json").read_text())["config"]["recipe"] if wp else {}
    command = "python benchmarks/bench_pick_pretrained.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = [f"General picker: src/fewlabel/data/weights/general_picker.pt (recipe seed {recipe.get('seed')}, "
              f"{recipe.get('n_micrographs')} corpus micrographs, {recipe.get('steps')} steps; "
              "benchmarks/pretrain_picker.py). Fine-tuning: pick train defaults unless the method says otherwise, "
              "schedule per row, 1 torch thread, shared 2-core VM with other jobs running (times are wall times "
              "under that load; `load` column).", "",
              "- EMPIAR-10017 (10 train / 5 test micrographs, 4096 px): particle radius 54 px, downsample 9 (ds=F rows: F), "
              "634 particles/micrograph, 3737 test particles",
              f"- simulated {HELD_OUT_MOLECULE} and 1a28 (neither in the pretraining corpus; 10 train / 5 test each, "
              "1024 px, simulator defaults)"]
    gp = f" gp={Path(args.weights).stem}" if args.weights else ""
    datasets = []
    for name in args.datasets.split(","):
        if name == "real":
            ds = real_dataset()
            if ds is None:
                print(f"skipping {name}: data not found")
                continue
            ds["short"] = "EMPIAR-10017"
        elif name == "unseen" or name.startswith("unseen:"):
            ds = unseen_dataset(work, 10, 5, 1024, labels, name.partition(":")[2] or HELD_OUT_MOLECULE)
        else:
            ap.error(f"--datasets: unknown set {name!r} (real, unseen, unseen:MOLECULE)")
        datasets.append(ds)
    rows: list[dict] = []
    for ds in datasets:
        pr = ds["particle_radius"]
        legacy = default_downsample(pr / 2)  # every row before the general picker's working scale (session 6)
        inits = args.inits.split(",")
        jobs = ([(0, "general", 0)] if "general" in inits else []) + [
            (n, init, s) for n in labels for init in inits if init != "general" for s in seeds]
        for n, init, seed in jobs:
            downsample = args.downsample or pick_train_downsample(pr / 2, pr, init in ("general", "pretrained"))
            suffix = ((gp if init in ("general", "pretrained") else "")  # rows that used the general picker
                      + (f" ds={downsample:g}" if downsample != legacy else "")
                      + (f" u={args.units}" if args.units else ""))
            if n == 0:
                wants = {tta: {"dataset": ds["short"], "labels": 0, "seed": 0,
                               "method": "general (0 labels)" + (" tta" if tta else "") + suffix} for tta in scorings}
            else:
                settings = planned_settings(init, overrides, n)
                wants = {tta: {"dataset": ds["short"], "labels": n, "method": method_label(init, settings, tta) + suffix,
                               "seed": seed, "validation": args.validation, "epochs": args.epochs,
                               "steps": args.steps} for tta in scorings}
            done = {row_key(r) for r in earlier}
            if all(row_key(w) in done for w in wants.values()):
                print(f"{ds['short']:22s} N={n:4d} {init:12s} seed={seed}: already in the results, skipped")
                continue
            if n == 0:
                results = run_general(ds, args.downsample, scorings, args.weights)
            else:
                labeled = labeled_subset(ds["truth_train"], n, seed)
                results = run_train(ds, labeled, downsample, init, args.epochs, args.steps, seed, args.validation,
                                    overrides, scorings, args.weights)
            new = []
            for tta, res in results.items():
                row = {**wants[tta], "command": command, **res, "load": round(os.getloadavg()[0], 2)}
                if n:
                    row.update(method=method_label(init, res, tta) + suffix, threads=args.threads)
                new.append(row)
                print(f"{ds['short']:22s} N={n:4d} {row['method']:32s} {schedule(row):6s} seed={seed} "
                      f"auprc={row['auprc']:.4f} strict={row['auprc_strict']:.4f} best_epoch={row['best_epoch']} "
                      f"train_s={row['train_s']:.0f} load={row['load']}", flush=True)
            rows += new
            merge_write(stem, vars(args), new, header)  # after every run: an interruption loses nothing
    if not rows:  # nothing new: rewrite the tables anyway (Topaz rows are read from their own files)
        merge_write(stem, vars(args), [], header)
    print(f"wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
