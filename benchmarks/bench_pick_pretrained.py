"""Benchmark: the shipped general picker at 0 labels, and fine-tuned from it vs from scratch at 10 / 100.

Datasets: the real EMPIAR-10017 set (10 train / 5 test micrographs, the split of
bench_pick_objectives.py / bench_pick_topaz.py, same labeled subsets for the same seed) and
micrographs simulated with a protein kept OUT of the pretraining corpus (HIV-1 protease 4E43,
fewlabel.pick.pretrained.HELD_OUT; simulator defaults, 1.25 Å/px, SNR 0.05).

Rows: ``general (0 labels)`` = the shipped weights alone, set up from the particle diameter as
``fewlabel pick extract --diameter`` does; ``pretrained`` / ``scratch`` = ``pick train`` defaults
(resnet8/16, GE-binomial, lr 5e-4) started from the shipped weights or at random, best epoch by
validation AUPRC. ``best_s`` = training wall time until that best epoch (0: the starting weights
were best), ``train_s`` = the whole schedule. Topaz pretrained rows are read (not rerun) from
benchmarks/results/bench_pick_topaz_real.json. AUPRC: recall over all true particles of the test
micrographs, match radius = particle radius (``auprc_strict``: half of it).

    python benchmarks/bench_pick_pretrained.py --seeds 0 --epochs 6 --steps 40
Writes benchmarks/results/bench_pick_pretrained.{json,md}.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pick_objectives import (RESULTS, default_downsample, labeled_subset, markdown_table,  # noqa: E402
                                   prepared, real_dataset)

HELD_OUT_MOLECULE = "4E43"


def unseen_dataset(work: Path, n_train: int, n_test: int, size: int, labels: list[int]) -> dict:
    """Micrographs of a protein that is not in the pretraining corpus (cached under ``work``)."""
    from fewlabel.io.picks import read_picks
    from fewlabel.pick.pretrained import CORPUS
    from fewlabel.simulate.micrographs import simulate_micrographs

    assert not any(c.split(":")[0] == HELD_OUT_MOLECULE for c in CORPUS)
    out = {}
    for part, n, seed in (("train", n_train, 100), ("test", n_test, 1100)):
        d = work / f"unseen_{HELD_OUT_MOLECULE}_{part}_{n}_{size}_{seed}"
        if not (d / "simulation.json").exists():
            simulate_micrographs(d, n=n, seed=seed, labeled_sizes=tuple(labels), progress=False,
                                 shape=(size, size), molecules=(HELD_OUT_MOLECULE,))
        out[part] = d
    info = json.loads((out["train"] / "simulation.json").read_text())
    truth_train = read_picks(out["train"] / "truth.tsv")
    return {"name": f"simulated {HELD_OUT_MOLECULE} (not in corpus; {n_train} train / {n_test} test, {size} px)",
            "train_paths": sorted((out["train"] / "micrographs").glob("*.mrc")),
            "test_paths": sorted((out["test"] / "micrographs").glob("*.mrc")),
            "truth": read_picks(out["test"] / "truth.tsv"), "truth_train": truth_train,
            "particle_radius": float(info["particle_radius_px"]), "expected": len(truth_train) / n_train}


def score(model, names, images, truth, particle_radius, downsample) -> dict:
    """Pick the prepared test images with ``model``; AUPRC at the particle radius and half of it."""
    import torch

    from fewlabel.pick import metrics
    from fewlabel.pick.extract import picks_from_scores
    from fewlabel.pick.models import score_map

    with torch.inference_mode():
        picks = pd.concat([picks_from_scores(score_map(model, torch.from_numpy(im)).numpy(), n,
                                             particle_radius / downsample, downsample)
                           for n, im in zip(names, images)], ignore_index=True)
    curve = metrics.evaluate_picks(picks, truth, particle_radius)
    strict = metrics.evaluate_picks(picks, truth, particle_radius / 2)
    best = curve.best_f1()
    return {"auprc": curve.auprc, "auprc_strict": strict.auprc, "precision": best["precision"],
            "recall": best["recall"], "n_picks": curve.n_picks, "n_true": curve.n_true}


def run_general(ds: dict, downsample: int) -> dict:
    """The shipped general picker alone (zero labels), as ``pick extract --diameter 2R``."""
    from fewlabel.pick.pretrained import config_for_diameter, load_general

    model, config = load_general()
    cfg = config_for_diameter(config, 2 * ds["particle_radius"])
    assert cfg["downsample"] == downsample, (cfg["downsample"], downsample)
    names, images, _ = prepared(ds["test_paths"], downsample)
    t = time.perf_counter()
    res = score(model, names, images, ds["truth"], ds["particle_radius"], downsample)
    return {**res, "train_s": 0.0, "best_s": 0.0, "best_epoch": 0, "extract_s": time.perf_counter() - t}


def run_train(ds: dict, labeled: pd.DataFrame, downsample: int, init: str, epochs: int, steps: int,
              seed: int, validation: str = "auto") -> dict:
    """``pick train`` defaults from the general picker (``init="pretrained"``) or at random; test AUPRC."""
    from fewlabel.pick import data
    from fewlabel.pick.pretrained import pretrained_state
    from fewlabel.pick.sampling import estimate_pi
    from fewlabel.pick.train import (TrainConfig, default_validation_fraction, load_picker, split_validation,
                                     train_picker)

    pr = ds["particle_radius"]
    names, images, _ = prepared(ds["train_paths"], downsample)
    lab_ds = data.to_downsampled(labeled, downsample)
    pi = estimate_pi(ds["expected"], pr / 2 / downsample, images[0].shape)
    state = pretrained_state("resnet8", 16)[0] if init == "pretrained" else None
    cfg = TrainConfig(radius=pr / 2, pi=pi, downsample=downsample, epochs=epochs, steps_per_epoch=steps,
                      nms_radius=pr, seed=seed, init="general_picker" if state is not None else "scratch")
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
    t = time.perf_counter()
    res = score(model, test_names, test_images, ds["truth"], pr, downsample)
    return {**res, "train_s": train_s, "best_s": best.get("elapsed_s", float("nan")), "best_epoch": best["epoch"],
            "extract_s": time.perf_counter() - t, "val_auprc_best": best.get("val_auprc", float("nan"))}


def topaz_rows() -> list[dict]:
    """Topaz pretrained rows on the real set from bench_pick_topaz_real*.json (cited, not rerun)."""
    rows = []
    for path in sorted(RESULTS.glob("bench_pick_topaz_real*.json")):
        for r in json.loads(path.read_text()).get("runs", []):
            if r.get("tool") == "topaz pretrained":
                rows.append({"dataset": "EMPIAR-10017", "labels": int(r["labels"]), "method": "topaz pretrained",
                             "seed": r.get("seed", 0), "auprc": r["auprc"], "auprc_strict": r.get("auprc_strict"),
                             "train_s": r.get("train_s"), "source": f"{path.name} ({r.get('threads', '?')} thread(s), "
                                                                    f"{r.get('epochs')}x{r.get('steps')} fewlabel-equal wall time)"})
    return rows


def write(stem: Path, config: dict, rows: list[dict], header: list[str]) -> None:
    from fewlabel.atomic import write_text_atomic

    topaz = topaz_rows()
    write_text_atomic(stem.with_suffix(".json"), json.dumps({"config": config, "runs": rows, "topaz": topaz},
                                                            indent=1, default=float) + "\n")
    df = pd.DataFrame(rows + topaz)
    if "validation" in df:  # rows fine-tuned with a fixed hold-out are shown apart from pick train's default
        fixed = df["labels"].gt(0) & df["method"].isin(["pretrained", "scratch"]) & df["validation"].fillna("0.2").ne("auto")
        df.loc[fixed, "method"] = df.loc[fixed, "method"] + " (hold-out " + df.loc[fixed, "validation"].fillna("0.2") + ")"
    summary = (df.groupby(["dataset", "labels", "method"], sort=False)["auprc"].agg(["mean", "std", "count"])
               .reset_index())
    summary["auprc"] = [f"{m:.3f} ± {0 if np.isnan(s) else s:.3f} (n={c})"
                        for m, s, c in zip(summary["mean"], summary["std"], summary["count"])]
    table = summary.pivot_table(index=["dataset", "labels"], columns="method", values="auprc", aggfunc="first",
                                sort=False)
    cols = ["dataset", "labels", "method", "seed", "auprc", "auprc_strict", "best_epoch", "best_s", "train_s",
            "val_auprc_best"]
    md = [f"# {stem.name}", ""] + header + ["", "## Test AUPRC (match radius = particle radius; mean ± sd over seeds)",
                                           "", markdown_table(table), "", "## Every run", "",
                                           markdown_table(df[[c for c in cols if c in df]], index=False)]
    if topaz:
        md += ["", "Topaz rows: " + "; ".join(sorted({r["source"] for r in topaz}))]
    write_text_atomic(stem.with_suffix(".md"), "\n".join(md) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="real,unseen")
    ap.add_argument("--labels", default="10,100")
    ap.add_argument("--inits", default="general,pretrained,scratch")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--validation", default="auto",
                    help="validation fraction, or auto (pick train's default: none below 200 labels)")
    ap.add_argument("--work", default=str(Path(__file__).resolve().parent / "work"))
    args = ap.parse_args(argv)
    import torch

    from fewlabel.pick.pretrained import weights_path

    torch.set_num_threads(args.threads)
    labels = [int(v) for v in args.labels.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    work = Path(args.work)
    stem = RESULTS / "bench_pick_pretrained"
    earlier = json.loads(stem.with_suffix(".json").read_text())["runs"] if stem.with_suffix(".json").exists() else []
    wp = weights_path()
    recipe = json.loads(Path(str(wp) + ".json").read_text())["config"]["recipe"] if wp else {}
    command = "python benchmarks/bench_pick_pretrained.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = [f"Last command: `{command}` (rows kept from earlier runs of this script carry their own command in the "
              "JSON; the 3-seed default-protocol rows came from `--seeds 0,1,2 --inits pretrained,scratch --validation "
              "auto`, the hold-out 0.2 rows from `--seeds 0,1,2` before that option existed, the 1000-label rows from "
              "`--datasets real --labels 1000 --seeds 0,1 --inits pretrained,scratch`)", "",
              f"General picker: src/fewlabel/data/weights/general_picker.pt (recipe seed {recipe.get('seed')}, "
              f"{recipe.get('n_micrographs')} corpus micrographs, {recipe.get('steps')} steps; "
              "benchmarks/pretrain_picker.py). Fine-tuning: pick train defaults, "
              f"{args.epochs} epochs x {args.steps} minibatches, {args.threads} torch thread(s), seeds {seeds}, "
              "shared 2-core VM (times are wall times under load)."]
    datasets = []
    for name in args.datasets.split(","):
        ds = real_dataset() if name == "real" else unseen_dataset(work, 10, 5, 1024, labels)
        if ds is None:
            print(f"skipping {name}: data not found")
            continue
        ds["short"] = "EMPIAR-10017" if name == "real" else f"unseen {HELD_OUT_MOLECULE} (sim)"
        datasets.append(ds)
    rows: list[dict] = []
    same = lambda r, d, n, m, s: (r["dataset"] == d and r["labels"] == n and r["method"] == m  # noqa: E731
                                  and r["seed"] == s and (r.get("epochs"), r.get("steps")) in
                                  ((args.epochs, args.steps), (None, None))
                                  and r.get("validation", "0.2") == args.validation)
    for ds in datasets:
        pr = ds["particle_radius"]
        downsample = default_downsample(pr / 2)
        header.append(f"- {ds['name']}: particle radius {pr:g} px, downsample {downsample}, "
                      f"{ds['expected']:.0f} particles/micrograph, {len(ds['truth'])} test particles")
        inits = args.inits.split(",")
        jobs = ([(0, "general (0 labels)", 0)] if "general" in inits else []) + [
            (n, init, s) for n in labels for init in inits if init != "general" for s in seeds]
        for n, method, seed in jobs:
            done = [r for r in earlier if same(r, ds["short"], n, method, seed)]
            if done:
                rows.append(done[0])
                continue
            if n == 0:
                res = run_general(ds, downsample)
                row = {"dataset": ds["short"], "labels": 0, "method": method, "seed": seed, "command": command, **res}
            else:
                labeled = labeled_subset(ds["truth_train"], n, seed)
                res = run_train(ds, labeled, downsample, method, args.epochs, args.steps, seed, args.validation)
                row = {"dataset": ds["short"], "labels": n, "method": method, "seed": seed, "epochs": args.epochs,
                       "steps": args.steps, "validation": args.validation, "command": command, **res}
            rows.append(row)
            key = lambda r: (r["dataset"], r["labels"], r["method"], r["seed"],  # noqa: E731
                             r.get("validation", "0.2") if r["labels"] else "-")
            kept = [r for r in earlier if key(r) not in {key(x) for x in rows}]  # an interrupted run loses nothing
            print(f"{ds['short']:22s} N={n:4d} {method:20s} seed={seed} auprc={row['auprc']:.4f} "
                  f"strict={row['auprc_strict']:.4f} best_epoch={row['best_epoch']} best_s={row['best_s']:.0f} "
                  f"train_s={row['train_s']:.0f}", flush=True)
            write(stem, vars(args), rows + kept, header)
    print(f"wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
