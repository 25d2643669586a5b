"""Benchmark: AUPRC of every PU objective vs number of labeled particles (Bepler et al. 2018, table).

Datasets: the fewlabel simulator (train and test micrographs simulated with different seeds) and,
when present, the real EMPIAR-10017 set in ../shared/data (train on 10 micrographs, test on the
other 5, ground truth from the masks). For each dataset x label count x objective x seed a picker
is trained on the training micrographs with that many labeled particles, picks are extracted from
the test micrographs and scored with fewlabel's evaluator (AUPRC, recall over all true particles).

Full size (the issue's table):   python benchmarks/bench_pick_objectives.py --full
Reduced (what fits a shared 2-core session), e.g.:
    python benchmarks/bench_pick_objectives.py --labels 10,100 --seeds 0 --epochs 3 --steps 40 --model conv31
Writes benchmarks/results/bench_pick_objectives.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
REAL = Path(os.environ.get("FEWLABEL_SHARED_DATA", REPO.parent / "shared" / "data")) / "empiar10017_betagal_micrographs"


def run_fewlabel(train_paths, labeled, test_paths, truth, *, radius, particle_radius, downsample, expected,
                 objective, autoencoder, model, epochs, steps, seed, normalize="robust") -> dict:
    """Train on ``train_paths`` with ``labeled`` (original px), pick ``test_paths``, score against ``truth``."""
    import torch

    from fewlabel.pick import data, metrics
    from fewlabel.pick.extract import iter_extract
    from fewlabel.pick.sampling import estimate_pi
    from fewlabel.pick.train import TrainConfig, load_picker, split_validation, train_picker

    t0 = time.perf_counter()
    names, images = [], []
    for name, _, im in data.iter_prepared(train_paths, downsample, normalize):
        names.append(name)
        images.append(im)
    lab_ds = data.to_downsampled(labeled, downsample)
    pi = estimate_pi(expected, radius / downsample, images[0].shape)
    cfg = TrainConfig(radius=radius, pi=pi, downsample=downsample, normalize=normalize, model=model,
                      objective=objective, autoencoder=autoencoder, epochs=epochs, steps_per_epoch=steps,
                      nms_radius=particle_radius, seed=seed)
    val = split_validation(names, lab_ds, 0.2, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.pt"
        history = train_picker(images, names, lab_ds, cfg, out, validation=val, progress=False, log=lambda m: None)
        train_s = time.perf_counter() - t0
        net, config = load_picker(out)
    t1 = time.perf_counter()
    picks = pd.concat(list(iter_extract(net, config, test_paths, particle_radius, batch_size=2)), ignore_index=True)
    extract_s = time.perf_counter() - t1
    curve = metrics.evaluate_picks(picks, truth, particle_radius)
    best_epoch = max(history, key=lambda h: h.get("val_auprc", h["epoch"]))["epoch"]
    del torch
    return {"auprc": curve.auprc, **{k: v for k, v in curve.best_f1().items() if k != "threshold"},
            "train_s": train_s, "extract_s": extract_s, "best_epoch": best_epoch, "pi": pi,
            "n_picks": curve.n_picks, "n_true": curve.n_true}


def simulated_dataset(work: Path, n_train: int, n_test: int, size: int, seed: int, labels: list[int]) -> dict:
    """Simulate train/test micrographs (cached under ``work``)."""
    from fewlabel.io.picks import read_picks
    from fewlabel.simulate.micrographs import simulate_micrographs

    out = {}
    for part, n, s in (("train", n_train, seed), ("test", n_test, seed + 1000)):
        d = work / f"sim_{part}_{n}_{size}_{s}"
        if not (d / "simulation.json").exists():
            simulate_micrographs(d, n=n, seed=s, labeled_sizes=tuple(labels), progress=False, shape=(size, size))
        out[part] = d
    info = json.loads((out["train"] / "simulation.json").read_text())
    radius_px = float(info["particle_radius_px"])
    truth_train = read_picks(out["train"] / "truth.tsv")
    return {
        "name": f"simulated ({n_train} train / {n_test} test, {size} px)",
        "train_paths": sorted((out["train"] / "micrographs").glob("*.mrc")),
        "test_paths": sorted((out["test"] / "micrographs").glob("*.mrc")),
        "truth": read_picks(out["test"] / "truth.tsv"),
        "labeled": lambda n, seed: _subset(truth_train, n, seed),
        "particle_radius": radius_px,
        "expected": len(truth_train) / n_train,
    }


def real_dataset() -> dict | None:
    """EMPIAR-10017: 10 training / 5 test micrographs, truth recovered from the masks."""
    from fewlabel.io.picks import read_picks

    if not REAL.is_dir():
        return None
    paths = sorted((REAL / "micrographs").glob("*.jpg"))
    truth = read_picks(REAL / "coords_groundtruth" / "derived_from_masks.tsv")
    train, test = paths[:10], paths[10:15]
    tr_names = {p.stem for p in train}
    truth_train = truth[truth.image_name.isin(tr_names)]
    return {
        "name": "EMPIAR-10017 (10 train / 5 test, 4096 px)",
        "train_paths": train,
        "test_paths": test,
        "truth": truth[truth.image_name.isin({p.stem for p in test})],
        "labeled": lambda n, seed: _subset(truth_train, n, seed),
        "particle_radius": 54.0,
        "expected": len(truth_train) / len(train),
        "downsample": 8,
    }


def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    """A GitHub Markdown table (no tabulate dependency)."""
    if index:
        df = df.reset_index()
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _subset(truth: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    order = np.random.default_rng(seed).permutation(len(truth))
    return truth.iloc[order[: min(n, len(truth))]].reset_index(drop=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="sim,real")
    ap.add_argument("--labels", default="10,100,1000")
    ap.add_argument("--objectives", default="ge-binomial,ge-kl,nnpu,pn")
    ap.add_argument("--autoencoder-labels", default="10,100", help="label counts for GE-binomial + autoencoder")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--model", default="resnet8")
    ap.add_argument("--sim-train", type=int, default=20)
    ap.add_argument("--sim-test", type=int, default=10)
    ap.add_argument("--sim-size", type=int, default=1024)
    ap.add_argument("--full", action="store_true", help="the issue's full table (all defaults above)")
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "work"))
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    labels = [int(v) for v in args.labels.split(",")]
    seeds = [int(v) for v in args.seeds.split(",")]
    objectives = args.objectives.split(",")
    ae_labels = [int(v) for v in args.autoencoder_labels.split(",") if v]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    datasets = []
    if "sim" in args.datasets:
        datasets.append(simulated_dataset(work, args.sim_train, args.sim_test, args.sim_size, 0, labels))
    if "real" in args.datasets:
        real = real_dataset()
        if real is None:
            print(f"skipping the real set: {REAL} not found")
        else:
            datasets.append(real)
    rows = []
    for ds in datasets:
        pr = ds["particle_radius"]
        downsample = ds.get("downsample") or max(1, int(round(pr / 2 / 3)))
        for n in labels:
            runs = [(o, 0.0) for o in objectives] + ([("ge-binomial", n / 10)] if n in ae_labels else [])
            for objective, ae in runs:
                for seed in seeds:
                    labeled = ds["labeled"](n, seed)
                    res = run_fewlabel(ds["train_paths"], labeled, ds["test_paths"], ds["truth"], radius=pr / 2,
                                       particle_radius=pr, downsample=downsample, expected=ds["expected"],
                                       objective=objective, autoencoder=ae, model=args.model, epochs=args.epochs,
                                       steps=args.steps, seed=seed)
                    row = {"dataset": ds["name"], "labels": len(labeled), "objective": objective + (f"+AE({ae:g})" if ae else ""),
                           "seed": seed, "model": args.model, "epochs": args.epochs, "steps": args.steps,
                           "downsample": downsample, **res}
                    rows.append(row)
                    print(f"{ds['name'][:24]:24s} N={len(labeled):5d} {row['objective']:18s} seed={seed} "
                          f"auprc={res['auprc']:.4f} train={res['train_s']:.0f}s extract={res['extract_s']:.1f}s",
                          flush=True)
    df = pd.DataFrame(rows)
    summary = (df.groupby(["dataset", "labels", "objective"], sort=False)["auprc"]
               .agg(["mean", "std", "count"]).reset_index())
    table = summary.assign(auprc=[f"{m:.3f} ± {0 if np.isnan(s) else s:.3f} (n={c})"
                                  for m, s, c in zip(summary["mean"], summary["std"], summary["count"])])
    table = table.pivot_table(index=["dataset", "labels"], columns="objective", values="auprc", aggfunc="first",
                              sort=False)
    print(table.to_string())
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"bench_pick_objectives{args.tag}"
    config = {k: v for k, v in vars(args).items()}
    stem.with_suffix(".json").write_text(json.dumps({"config": config, "runs": rows}, indent=2, default=float) + "\n")
    md = [f"# bench_pick_objectives{args.tag}", "",
          f"Command: `python benchmarks/bench_pick_objectives.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
          f"Model {args.model}, {args.epochs} epochs x {args.steps} steps, seeds {seeds}; AUPRC mean ± sd over seeds "
          "on held-out test micrographs (recall over all true particles).", "", markdown_table(table), "",
          "Per run: train/extract wall seconds", "",
          markdown_table(df[["dataset", "labels", "objective", "seed", "auprc", "precision", "recall", "train_s", "extract_s",
              "best_epoch"]], index=False)]
    stem.with_suffix(".md").write_text("\n".join(md) + "\n")
    print(f"wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
