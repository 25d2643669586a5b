"""Benchmark: 2D classification of simulated particles by triplet-loss embeddings vs classical baselines.

Datasets (``fewlabel.simulate.particles.simulate_particles``): 4 view classes of adk_open (tetrahedral
directions, 10 degree cones) and 4 different molecules (adk_open, adk_closed, 1hvr, 5a7u); SNR clean,
0.1 and 0.03; random in-plane rotations, shifts, CTF. Each set is split in half (seeded): the
supervised model sees the labels of the first half only; every method is scored on the second half
(k-means with the true k): ARI, NMI, Hungarian-matched accuracy.

Methods: ``pca``: PCA(20) of raw pixels + k-means; ``polar``: rotation/shift-invariant polar-Fourier
amplitudes (fewlabel.classify2d.features) + PCA(20) + k-means; ``supervised`` / ``self-supervised``:
the triplet embedding network (fewlabel.classify2d.train) + k-means; ``mra``: reference-based
classification without labels (fewlabel.classify2d.mra: multi-reference alignment, hard EM, all
particles of the set, scored on the held-out half); ``mra-pseudo``: the triplet network trained in
supervised mode on the MRA classes of the first half (no true labels), then k-means. Unseen molecule: a model trained
on view classes of adk_open embeds view classes of 1hvr; compared with a model trained on 1hvr itself.

    python benchmarks/bench_classify2d.py            # full configuration
    python benchmarks/bench_classify2d.py --quick    # the reduced configuration (2 shared CPU cores)

Writes benchmarks/results/classify2d.json and classify2d.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from fewlabel.atomic import write_text_atomic  # noqa: E402
from fewlabel.classify2d.cluster import kmeans  # noqa: E402
from fewlabel.classify2d.embed import embed  # noqa: E402
from fewlabel.classify2d.evaluate import cluster_scores  # noqa: E402
from fewlabel.classify2d.features import pixel_features, polar_fourier_features  # noqa: E402
from fewlabel.classify2d.train import TrainConfig, train_embedding  # noqa: E402
from fewlabel.simulate.particles import simulate_particles  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def simulate(kind: str, snr: str, n_per_class: int, box: int, seed: int, molecule: str = "adk_open"):
    if kind == "views":
        x, lab = simulate_particles(n_per_class, "views", molecule=molecule, snr=snr, box=box, seed=seed)
    else:
        x, lab = simulate_particles(n_per_class, snr=snr, box=box, seed=seed)
    return x, lab["label"].to_numpy()


def split(n: int, seed: int):
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


def baseline(name: str, x: np.ndarray, test: np.ndarray, k: int, seed: int) -> np.ndarray:
    f = pixel_features(x) if name == "pca" else polar_fourier_features(x, max_freq=0.15)
    z = PCA(min(20, f.shape[1]), random_state=seed).fit_transform(f)
    return kmeans(z[test], k, seed)[0]


def train(x, y, train_idx, mode: str, args, seed: int):
    labels = None
    if mode == "supervised":
        labels = np.full(len(x), -1)
        labels[train_idx] = y[train_idx]
    cfg = TrainConfig(mode=mode, size=args.size, dim=args.dim, width=args.width, epochs=args.epochs,
                      patience=args.patience, batch_size=args.batch_size, seed=seed)
    return train_embedding(x, labels, cfg, progress=False, log=lambda m: None)


def mra_labels(x, k, args, seed):
    from fewlabel.classify2d.mra import mra_classify

    return mra_classify(x, k, size=args.mra_size, seed=seed)[0]


def write(rows: list[dict], args) -> None:
    """Write the JSON and Markdown results (called after every row, so a cut-off run keeps its rows)."""
    config = {k: v for k, v in vars(args).items()}
    meta = {"config": config, "cpu_threads": args.threads, "machine": platform.machine(),
            "processor": platform.processor(), "torch": torch.__version__}
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(RESULTS / f"classify2d{args.tag}.json", json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    head = "| dataset | SNR | method | ARI | NMI | accuracy | wall s | note |\n|---|---|---|---|---|---|---|---|\n"
    body = "".join(f"| {r['dataset']} | {r['snr']} | {r['method']} | {r['ari']:.3f} | {r['nmi']:.3f} | "
                   f"{r['accuracy']:.3f} | {r['seconds']:.1f} | {r['note']} |\n" for r in rows)
    conf = ", ".join(f"{k}={v}" for k, v in config.items())
    write_text_atomic(RESULTS / f"classify2d{args.tag}.md", f"# classify2d benchmark\n\nConfiguration: {conf}.\n"
                                           f"Scored on the held-out half of each set (k = true number of "
                                           f"classes). Wall time per method on {args.threads} CPU threads "
                                           f"(shared machine).\n\n{head}{body}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced configuration (see --help of each option)")
    p.add_argument("--n-per-class", type=int, default=400)
    p.add_argument("--box", type=int, default=64)
    p.add_argument("--size", type=int, default=24, help="working size of the network (low-pass)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--snrs", default="clean,0.1,0.03")
    p.add_argument("--datasets", default="views,molecules,unseen")
    p.add_argument("--tag", default="", help="suffix of the result files (classify2d<tag>.json/.md)")
    p.add_argument("--mra-size", type=int, default=24, help="working size of the reference-based method")
    p.add_argument("--methods", default="pca,polar,mra,supervised,self-supervised,mra-pseudo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    if args.quick:
        args.n_per_class, args.size, args.epochs, args.width, args.dim, args.batch_size = 100, 16, 20, 16, 64, 32
    torch.set_num_threads(args.threads)
    rows = []

    def record(dataset, snr, method, scores, seconds, note=""):
        row = {"dataset": dataset, "snr": snr, "method": method, **{k: round(v, 3) for k, v in scores.items()},
               "seconds": round(seconds, 1), "note": note}
        rows.append(row)
        print(f"{dataset:18s} {snr:6s} {method:16s} ARI {row['ari']:.3f} NMI {row['nmi']:.3f} "
              f"acc {row['accuracy']:.3f}  {row['seconds']:.1f}s {note}", flush=True)
        write(rows, args)

    models = {}
    datasets = args.datasets.split(",")
    for dataset in [d for d in ("views", "molecules") if d in datasets]:
        for snr in args.snrs.split(","):
            x, y = simulate(dataset, snr, args.n_per_class, args.box, args.seed)
            tr, te = split(len(x), args.seed)
            k = len(np.unique(y))
            methods = args.methods.split(",")
            for name in [m for m in ("pca", "polar") if m in methods]:
                t0 = time.time()
                record(dataset, snr, name, cluster_scores(y[te], baseline(name, x, te, k, args.seed)), time.time() - t0)
            mra = None
            if "mra" in methods or "mra-pseudo" in methods:
                t0 = time.time()
                mra = mra_labels(x, k, args, args.seed)
                record(dataset, snr, "mra", cluster_scores(y[te], mra[te]), time.time() - t0, "no labels")
            for mode in [m for m in ("supervised", "self-supervised", "mra-pseudo") if m in methods]:
                t0 = time.time()
                if mode == "mra-pseudo":
                    res = train(x, mra, tr, "supervised", args, args.seed)
                else:
                    res = train(x, y, tr, mode, args, args.seed)
                pred = kmeans(embed(res.model, x[te]), k, args.seed)[0]
                record(dataset, snr, mode, cluster_scores(y[te], pred), time.time() - t0,
                       f"{len(res.history)} epochs")
                if dataset == "views" and snr == "0.1":
                    models[mode] = res.model
    # unseen molecule: views of 1hvr embedded by the adk_open view models, vs models trained on 1hvr
    if "unseen" not in datasets:
        return
    snr = "0.1"
    x, y = simulate("views", snr, args.n_per_class, args.box, args.seed + 1, molecule="1hvr")
    tr, te = split(len(x), args.seed)
    methods = args.methods.split(",")
    for mode in [m for m in ("supervised", "self-supervised", "mra-pseudo") if m in methods]:
        if mode in models:
            t0 = time.time()
            pred = kmeans(embed(models[mode], x[te]), 4, args.seed)[0]
            record("unseen 1hvr views", snr, mode, cluster_scores(y[te], pred), time.time() - t0,
                   "trained on adk_open views")
        t0 = time.time()
        yy = mra_labels(x, 4, args, args.seed) if mode == "mra-pseudo" else y
        res = train(x, yy, tr, "supervised" if mode == "mra-pseudo" else mode, args, args.seed)
        pred = kmeans(embed(res.model, x[te]), 4, args.seed)[0]
        record("seen 1hvr views", snr, mode, cluster_scores(y[te], pred), time.time() - t0, "trained on 1hvr views")

    write(rows, args)
    print(f"wrote {RESULTS}/classify2d{args.tag}.json and .md")


if __name__ == "__main__":
    main()
