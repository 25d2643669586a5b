"""Benchmark: 2D classification of simulated particles: reference-based MRA and triplet embeddings vs classical baselines.

Datasets (``fewlabel.simulate.particles.simulate_particles``): 4 view classes of adk_open (tetrahedral
directions, 10 degree cones) and 4 different molecules (adk_open, adk_closed, 1hvr, 5a7u) in random
orientations; SNR clean, 0.1 and 0.03; random in-plane rotations, shifts, per-particle CTF (defocus
1-2.5 um). Each set is split in half (seeded): the supervised model sees the labels of the first half
only; every method is scored on the second half (k = true number of classes): ARI, NMI,
Hungarian-matched accuracy. Each seed simulates a new set.

Methods:
- ``pca``: PCA(20) of raw pixels + k-means (baseline);
- ``polar``: rotation/shift-invariant polar-Fourier amplitudes + PCA(20) + k-means (classical
  rotation-invariant baseline);
- ``mra``: ``fewlabel classify2d cluster --method mra``: CTF phase flipping with each particle's defocus,
  then multi-reference alignment (coarse-to-fine hard EM); no labels, no training; all particles of
  the set are classified, the held-out half is scored;
- ``supervised`` / ``self-supervised``: the triplet embedding network (``classify2d train``, on raw
  images as the CLI does) + k-means.

Unseen molecule: networks trained on view classes of adk_open embed view classes of 1hvr (SNR 0.1),
compared with networks trained on 1hvr itself. MRA trains nothing, so 1hvr is as new to it as adk.

    python benchmarks/bench_classify2d.py                    # seeds 0,1,2 for mra + baselines, 0 for networks
    python benchmarks/bench_classify2d.py --net-seeds 0,1,2  # networks on 3 seeds too (about 3x the time)

Writes benchmarks/results/classify2d<tag>.json and .md (rows, then mean +- sd over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from fewlabel.atomic import write_text_atomic  # noqa: E402
from fewlabel.classify2d.cluster import kmeans  # noqa: E402
from fewlabel.classify2d.ctf import ctf_correct, ctf_params_from_metadata  # noqa: E402
from fewlabel.classify2d.embed import embed  # noqa: E402
from fewlabel.classify2d.evaluate import cluster_scores  # noqa: E402
from fewlabel.classify2d.features import pixel_features, polar_fourier_features  # noqa: E402
from fewlabel.classify2d.mra import mra_classify  # noqa: E402
from fewlabel.classify2d.train import TrainConfig, train_embedding  # noqa: E402
from fewlabel.simulate.particles import simulate_particles  # noqa: E402

RESULTS = Path(__file__).parent / "results"
NETS = ("supervised", "self-supervised")


def simulate(kind: str, snr: str, n_per_class: int, box: int, seed: int, molecule: str = "adk_open"):
    """Images, labels and the phase-flipped images (each particle with its own simulated defocus)."""
    if kind == "views":
        x, lab = simulate_particles(n_per_class, "views", molecule=molecule, snr=snr, box=box, seed=seed)
    else:
        x, lab = simulate_particles(n_per_class, snr=snr, box=box, seed=seed)
    flipped = ctf_correct(x, lab.attrs["pixel_size"], ctf_params_from_metadata(lab), "flip")
    return x, lab["label"].to_numpy(), flipped


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


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and sd over seeds for every (dataset, SNR, method)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["snr"], r["method"]), []).append(r)
    out = []
    for (dataset, snr, method), rs in groups.items():
        s = {"dataset": dataset, "snr": snr, "method": method, "n": len(rs), "note": rs[0]["note"]}
        for key in ("ari", "nmi", "accuracy", "seconds"):
            v = np.array([r[key] for r in rs], dtype=float)
            s[key], s[key + "_sd"] = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
        out.append(s)
    return out


def write(rows: list[dict], args, started: float) -> None:
    """Write JSON and Markdown (called after every row, so a cut-off run keeps its rows)."""
    config = dict(vars(args))
    meta = {"config": config, "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
            "processor": platform.processor(), "torch": torch.__version__,
            "total_seconds": round(time.time() - started, 1)}
    summary = summarize(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(RESULTS / f"classify2d{args.tag}.json",
                      json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=2) + "\n")

    def pm(s, key):
        return f"{s[key]:.3f} ± {s[key + '_sd']:.3f}" if s["n"] > 1 else f"{s[key]:.3f}"

    head = ("| dataset | SNR | method | n seeds | ARI | NMI | accuracy | wall s | note |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(f"| {s['dataset']} | {s['snr']} | {s['method']} | {s['n']} | {pm(s, 'ari')} | {pm(s, 'nmi')} | "
                   f"{pm(s, 'accuracy')} | {s['seconds']:.1f} | {s['note']} |\n" for s in summary)
    raw_head = "| dataset | SNR | method | seed | ARI | NMI | accuracy | wall s |\n|---|---|---|---|---|---|---|---|\n"
    raw = "".join(f"| {r['dataset']} | {r['snr']} | {r['method']} | {r['seed']} | {r['ari']:.3f} | {r['nmi']:.3f} | "
                  f"{r['accuracy']:.3f} | {r['seconds']:.1f} |\n" for r in rows)
    conf = ", ".join(f"{k}={v}" for k, v in config.items())
    write_text_atomic(RESULTS / f"classify2d{args.tag}.md",
                      f"# classify2d benchmark\n\nConfiguration: {conf}.\n\n"
                      f"{4 * args.n_per_class} particles per set ({args.n_per_class} per class, 4 classes), "
                      f"scored on the held-out half (k = true number of classes). Mean ± sd over the "
                      f"seeds run (n seeds; each seed simulates a new set). Wall time per method and set, "
                      f"{torch.get_num_threads()} torch/BLAS thread under `nice` on a 2-core machine shared "
                      f"with other jobs (so times are upper bounds). Whole run: "
                      f"{meta['total_seconds']:.0f} s.\n\n{head}{body}\n## Every run\n\n{raw_head}{raw}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-per-class", type=int, default=100)
    p.add_argument("--box", type=int, default=64)
    p.add_argument("--size", type=int, default=16, help="working size of the network (low-pass)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=8)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--mra-size", type=int, default=48, help="refinement size of MRA (search at 24 px)")
    p.add_argument("--snrs", default="clean,0.1,0.03")
    p.add_argument("--datasets", default="views,molecules,unseen")
    p.add_argument("--methods", default="pca,polar,mra,supervised,self-supervised")
    p.add_argument("--seeds", default="0,1,2", help="seeds for the baselines and MRA")
    p.add_argument("--net-seeds", default="0", help="seeds for the networks (the costly part)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tag", default="", help="suffix of the result files (classify2d<tag>.json/.md)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    methods = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    net_seeds = [int(s) for s in args.net_seeds.split(",")]
    datasets = args.datasets.split(",")
    rows: list[dict] = []

    def record(dataset, snr, method, seed, scores, seconds, note=""):
        row = {"dataset": dataset, "snr": snr, "method": method, "seed": seed,
               **{k: round(v, 4) for k, v in scores.items()}, "seconds": round(seconds, 1), "note": note}
        rows.append(row)
        print(f"{dataset:22s} {snr:6s} {method:16s} seed {seed} ARI {row['ari']:.3f} NMI {row['nmi']:.3f} "
              f"acc {row['accuracy']:.3f}  {row['seconds']:.1f}s {note}", flush=True)
        write(rows, args, started)

    def run_set(dataset, label, snr, seed, molecule="adk_open", keep=None, sim_seed=None):
        x, y, flipped = simulate(dataset, snr, args.n_per_class, args.box, seed if sim_seed is None else sim_seed,
                                 molecule)
        tr, te = split(len(x), seed)
        k = len(np.unique(y))
        for name in [m for m in ("pca", "polar") if m in methods]:
            t0 = time.time()
            record(label, snr, name, seed, cluster_scores(y[te], baseline(name, x, te, k, seed)), time.time() - t0)
        if "mra" in methods:
            t0 = time.time()
            pred = mra_classify(flipped, k, size=args.mra_size, seed=seed)[0]
            record(label, snr, "mra", seed, cluster_scores(y[te], pred[te]), time.time() - t0,
                   "no labels, no training")
        if seed not in net_seeds:
            return x, y, te
        for mode in [m for m in NETS if m in methods]:
            t0 = time.time()
            res = train(x, y, tr, mode, args, seed)
            pred = kmeans(embed(res.model, x[te]), k, seed)[0]
            record(label, snr, mode, seed, cluster_scores(y[te], pred), time.time() - t0,
                   f"{len(res.history)} epochs" + (", trained on 1hvr views" if molecule == "1hvr" else ""))
            if keep is not None:
                keep[(mode, seed)] = res.model
        return x, y, te

    models: dict = {}
    for dataset in [d for d in ("views", "molecules") if d in datasets]:
        for snr in args.snrs.split(","):
            for seed in seeds:
                run_set(dataset, dataset, snr, seed, keep=models if dataset == "views" and snr == "0.1" else None)
    if "unseen" in datasets:
        # 1hvr views: seen = networks trained on 1hvr; unseen = the adk_open views SNR 0.1 networks
        for seed in seeds:
            x, y, te = run_set("views", "1hvr views", "0.1", seed, molecule="1hvr", sim_seed=seed + 100)
            for mode in [m for m in NETS if m in methods]:
                if (mode, seed) in models:
                    t0 = time.time()
                    pred = kmeans(embed(models[(mode, seed)], x[te]), 4, seed)[0]
                    record("1hvr views, unseen", "0.1", mode, seed, cluster_scores(y[te], pred), time.time() - t0,
                           "trained on adk_open views")
    write(rows, args, started)
    print(f"wrote {RESULTS}/classify2d{args.tag}.json and .md ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
