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
- ``mra-s16`` / ``mra-i64``: MRA with a stronger low-pass in the search (16 px instead of 24) / 64
  search starts instead of 16 (SNR 0.03 study);
- ``oracle``: NOT a method, the ceiling of reference-based assignment: each particle assigned to the
  best-correlating of the TRUE classes' aligned averages (up to 200 labeled-half particles each, 48 px);
- ``mra-profile``: k-means on the MRA class-correlation profile (each particle's best correlation with
  every MRA reference, ``mra.mra_profile``) instead of MRA's own argmax assignment;
- ``supervised`` / ``self-supervised``: the triplet embedding network (``classify2d train``, on raw
  images as the CLI does) + k-means;
- ``supervised-aligned``: the supervised network on phase-flipped particles that MRA has rotated and
  shifted onto their best reference (``mra.mra_profile``), so the network need not learn rotation
  invariance from 200 images (no rotation pooling, no rotation augmentation) + k-means;
- ``mra-net``: the same network on the same aligned particles, trained on the set's own MRA classes
  (no labels at all; ``classify2d train --mra-k``) + k-means; ``mra-net+profile``: its embedding
  joined with the MRA profile (``embed.combine_embeddings``, profile weight 0.75) + k-means.

Unseen molecule: networks trained on view classes of adk_open embed view classes of 1hvr (SNR 0.1),
compared with networks trained on 1hvr itself. MRA trains nothing, so 1hvr is as new to it as adk.
``supervised-aligned`` on the unseen molecule is trained on SEVERAL molecules instead: 8 view classes
of each vendored model except 1hvr and 4E43 (the same protein), classes = (molecule, view), each set
MRA-aligned by its own MRA; ``mra-net`` on 1hvr needs no labels, so 1hvr is unseen to it by
construction (it trains on 1hvr's MRA classes).

``--unseen-molecules 1hvr,4E43``: every held-out molecule in turn (4E43 is the same protein as 1hvr, its own
set). ``multi3``: the aligned network trained on the three other vendored models (the last session's
``supervised-aligned`` unseen row). ``generic`` (``classify2d.generic``, CLI ``classify2d generic``): the
aligned supervised network trained once per seed on (shape, view) classes of many shapes (``--shapes``,
default ``GENERIC_SHAPES``: 12 vendored monomers and Cn/Dn assemblies of them, never HIV-1 protease;
``--generic-views`` 8 views x ``--generic-per-class`` 40 particles each, SNR 0.1), then each held-out molecule
aligned onto its own MRA references and embedded; ``generic+profile`` joins that embedding with the
molecule's MRA profile (weight 0.75). ``supervised-aligned+profile``: the seen network + profile, its fair
comparison.

``--n-per-class`` takes a list (e.g. ``100,300,1000``): the dataset label then carries the size.

    python benchmarks/bench_classify2d.py                    # seeds 0,1,2 for mra + baselines, 0 for networks
    python benchmarks/bench_classify2d.py --net-seeds 0,1,2  # networks on 3 seeds too (about 3x the time)
    # issue #4: aligned networks, seen vs unseen molecule
    python benchmarks/bench_classify2d.py --snrs 0.1 --datasets views,unseen --seeds 0,1,2 --net-seeds 0,1,2 \
        --methods mra,mra-profile,supervised-aligned,mra-net,mra-net+profile --tag _aligned
    # issue #4: the generic embedding, seen vs unseen on two held-out molecules (3 seeds)
    python benchmarks/bench_classify2d.py --snrs 0.1 --datasets unseen --unseen-molecules 1hvr,4E43 \
        --seeds 0,1,2 --net-seeds 0,1,2 \
        --methods mra,supervised-aligned,supervised-aligned+profile,generic,generic+profile --tag _generic
    # the same with a different protein held out: adk_closed, generic network trained without adenylate kinase
    python benchmarks/bench_classify2d.py --snrs 0.1 --datasets unseen --unseen-molecules adk_closed --shapes no-adk \
        --seeds 0,1,2 --net-seeds 0,1,2 \
        --methods mra,supervised-aligned,supervised-aligned+profile,generic,generic+profile --tag _generic_adk
    # issue #4: SNR 0.03 against the number of particles per class
    python benchmarks/bench_classify2d.py --snrs 0.03 --datasets views --seeds 0 --n-per-class 100,300,1000 \
        --methods pca,polar,mra --tag _snr0.03_curve
    python benchmarks/bench_classify2d.py --snrs 0.03 --datasets views --seeds 0 --n-per-class 100,300,1000 \
        --methods oracle,mra-s16 --tag _snr0.03_variants

Writes benchmarks/results/classify2d<tag>.json and .md (rows, then mean +- sd over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from fewlabel.atomic import write_text_atomic  # noqa: E402
from fewlabel.classify2d.cluster import kmeans  # noqa: E402
from fewlabel.classify2d.ctf import ctf_correct, ctf_params_from_metadata  # noqa: E402
from fewlabel.classify2d.augment import AugmentConfig  # noqa: E402
from fewlabel.classify2d.embed import combine_embeddings, embed  # noqa: E402
from fewlabel.classify2d.evaluate import cluster_scores  # noqa: E402
from fewlabel.classify2d.generic import generic_training_set, parse_shapes  # noqa: E402
from fewlabel.classify2d.features import pixel_features, polar_fourier_features  # noqa: E402
from fewlabel.classify2d.mra import mra_classify, mra_profile  # noqa: E402
from fewlabel.classify2d.train import TrainConfig, train_embedding  # noqa: E402
from fewlabel.simulate.particles import simulate_particles  # noqa: E402

RESULTS = Path(__file__).parent / "results"
NETS = ("supervised", "self-supervised")
ALIGNED = ("supervised-aligned", "supervised-aligned+profile", "mra-net", "mra-net+profile")
#: the generic embedding (classify2d.generic): trained once per seed on (shape, view) classes of many shapes
GENERIC = ("generic", "generic+profile")
#: MRA variants (keyword arguments of mra_classify) for the SNR 0.03 study
MRA_VARIANTS = {"mra": {}, "mra-s16": {"search_size": 16}, "mra-i64": {"n_init": 64}}
#: vendored models never used to train the unseen-molecule network (4E43 is 1hvr's protein)
HELD_OUT = {"1hvr": ("1hvr", "4E43"), "4E43": ("1hvr", "4E43"), "adk_closed": ("adk_open", "adk_closed"),
            "adk_open": ("adk_open", "adk_closed")}
#: training shapes without adenylate kinase, for adk_closed as the unseen molecule
SHAPES_NO_ADK = ("5a7u,1hvr,4E43,5a7u:C2:2,5a7u:C3:0,5a7u:D2:0,5a7u:C5:1,1hvr:C2:0,4E43:C3:0,1hvr:D2:0,"
                 "4E43:C2:1,5a7u:C4:3")


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


def train(x, y, train_idx, mode: str, args, seed: int, aligned: bool = False, batch_size: int | None = None):
    """Train a network; ``train_idx`` None = every label of ``y`` is used. ``aligned``: the images are
    MRA-aligned, so no rotation pooling and no rotation augmentation (1 px shifts)."""
    labels = None
    if mode == "supervised":
        labels = np.asarray(y).copy() if train_idx is None else np.full(len(x), -1)
        if train_idx is not None:
            labels[train_idx] = y[train_idx]
    extra = {"rot_pool": 1, "augment": AugmentConfig(rotate=False, max_shift=1.0)} if aligned else {}
    cfg = TrainConfig(mode=mode, size=args.size, dim=args.dim, width=args.width, epochs=args.epochs,
                      patience=args.patience, batch_size=batch_size or args.batch_size, seed=seed, **extra)
    return train_embedding(x, labels, cfg, progress=False, log=lambda m: None)


def mra_aligned(flipped: np.ndarray, k: int, args, seed: int, **kw):
    """MRA labels, the class-correlation profile and the aligned particles of one set."""
    labels, refs = mra_classify(flipped, k, size=args.mra_size, seed=seed, **kw)
    profile, aligned = mra_profile(flipped, refs)
    return labels, profile, aligned


def oracle_labels(flipped: np.ndarray, y: np.ndarray, train_idx: np.ndarray, args, members: int = 200):
    """Best-correlating true-class reference for every particle; references = aligned averages of up to
    ``members`` particles of each class from the labeled half (the ceiling of MRA's assignment step)."""
    from fewlabel.classify2d.cluster import class_average
    from fewlabel.classify2d.mra import _prepare

    x = _prepare(flipped, args.mra_size)
    refs = np.stack([class_average(x[train_idx[y[train_idx] == c][:members]], n_iter=3, n_angles=36)
                     for c in np.unique(y)])
    return np.argmax(mra_profile(flipped, refs)[0], axis=1)


def multi_molecule_set(held_out: str, snr: str, args, seed: int, n_views: int = 8, n_per_class: int = 40):
    """Training set for the unseen molecule: ``n_views`` view classes of every vendored model except
    ``held_out`` (and its other entries), each set phase-flipped and aligned by its own MRA; labels are
    (molecule, view) pairs. Returns aligned images, labels and the molecule names."""
    from fewlabel.simulate.density import vendored_molecules

    skip = HELD_OUT.get(held_out, (held_out,))
    names = [m for m in vendored_molecules() if m not in skip]
    xs, ys = [], []
    for i, mol in enumerate(names):
        x, lab = simulate_particles(n_per_class, "views", molecule=mol, n_views=n_views, snr=snr, box=args.box,
                                    seed=seed * 1000 + 200 + i)
        flipped = ctf_correct(x, lab.attrs["pixel_size"], ctf_params_from_metadata(lab), "flip")
        xs.append(mra_aligned(flipped, n_views, args, seed)[2])
        ys.append(lab["label"].to_numpy() + n_views * i)
    return np.concatenate(xs), np.concatenate(ys), names


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
    meta = {"config": config, "command": COMMAND, "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(), "processor": platform.processor(), "torch": torch.__version__,
            "load_average_start": LOAD_START, "load_average_now": [round(v, 2) for v in os.getloadavg()],
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
                      f"# classify2d benchmark\n\nCommand: `{COMMAND}`\n\nConfiguration: {conf}.\n\n"
                      f"Load average (1, 5, 15 min) at the start {LOAD_START}, at the last row "
                      f"{meta['load_average_now']}.\n\n"
                      f"{args.n_per_class} particles per class (see the dataset label when a list), 4 classes, "
                      f"scored on the held-out half (k = true number of classes). Mean ± sd over the "
                      f"seeds run (n seeds; each seed simulates a new set). Wall time per method and set, "
                      f"{torch.get_num_threads()} torch/BLAS thread under `nice` on a 2-core machine shared "
                      f"with other jobs (so times are upper bounds). Whole run: "
                      f"{meta['total_seconds']:.0f} s.\n\n{head}{body}\n## Every run\n\n{raw_head}{raw}")


COMMAND = "python " + " ".join(shlex.quote(a) for a in sys.argv)
LOAD_START = [round(v, 2) for v in os.getloadavg()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-per-class", default="100", help="particles per class; a comma list for a curve")
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
    p.add_argument("--unseen-molecules", default="1hvr", help="held-out molecules of the unseen dataset")
    p.add_argument("--shapes", default="default",
                   help="training shapes of the generic embedding (comma list of name[:GROUP[:seed]]; "
                        "'no-adk': SHAPES_NO_ADK, for adk_closed as the unseen molecule)")
    p.add_argument("--generic-views", type=int, default=8, help="view classes per training shape")
    p.add_argument("--generic-per-class", type=int, default=40, help="particles per (shape, view) class")
    p.add_argument("--generic-batch", type=int, default=64, help="batch size of the generic network")
    p.add_argument("--tag", default="", help="suffix of the result files (classify2d<tag>.json/.md)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    methods = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    net_seeds = [int(s) for s in args.net_seeds.split(",")]
    datasets = args.datasets.split(",")
    sizes = [int(v) for v in args.n_per_class.split(",")]
    rows: list[dict] = []

    def record(dataset, snr, method, seed, scores, seconds, note=""):
        row = {"dataset": dataset, "snr": snr, "method": method, "seed": seed,
               **{k: round(v, 4) for k, v in scores.items()}, "seconds": round(seconds, 1), "note": note}
        rows.append(row)
        print(f"{dataset:22s} {snr:6s} {method:16s} seed {seed} ARI {row['ari']:.3f} NMI {row['nmi']:.3f} "
              f"acc {row['accuracy']:.3f}  {row['seconds']:.1f}s {note}", flush=True)
        write(rows, args, started)

    def run_set(dataset, label, snr, seed, n_per_class, molecule="adk_open", keep=None, sim_seed=None):
        x, y, flipped = simulate(dataset, snr, n_per_class, args.box, seed if sim_seed is None else sim_seed,
                                 molecule)
        tr, te = split(len(x), seed)
        k = len(np.unique(y))
        out = {"x": x, "y": y, "te": te}
        for name in [m for m in ("pca", "polar") if m in methods]:
            t0 = time.time()
            record(label, snr, name, seed, cluster_scores(y[te], baseline(name, x, te, k, seed)), time.time() - t0)
        for name in [m for m in MRA_VARIANTS if m in methods and m != "mra"]:
            t0 = time.time()
            pred = mra_classify(flipped, k, size=args.mra_size, seed=seed, **MRA_VARIANTS[name])[0]
            record(label, snr, name, seed, cluster_scores(y[te], pred[te]), time.time() - t0,
                   ", ".join(f"{a}={v}" for a, v in MRA_VARIANTS[name].items()))
        if "oracle" in methods:
            t0 = time.time()
            record(label, snr, "oracle", seed, cluster_scores(y[te], oracle_labels(flipped, y, tr, args)[te]),
                   time.time() - t0, "NOT a method: true-class references (ceiling of the assignment)")
        if any(m in methods for m in ("mra", "mra-profile") + ALIGNED + GENERIC):
            t0 = time.time()
            mra_labels, profile, aligned = mra_aligned(flipped, k, args, seed)
            mra_s = time.time() - t0
            out.update(profile=profile, aligned=aligned)
            if "mra" in methods:
                record(label, snr, "mra", seed, cluster_scores(y[te], mra_labels[te]), mra_s, "no labels, no training")
            if "mra-profile" in methods:
                record(label, snr, "mra-profile", seed, cluster_scores(y[te], kmeans(profile[te], k, seed)[0]),
                       mra_s, "no labels: k-means on the MRA correlation profile")
        if seed not in net_seeds:
            return out
        for mode in [m for m in NETS if m in methods]:
            t0 = time.time()
            res = train(x, y, tr, mode, args, seed)
            pred = kmeans(embed(res.model, x[te]), k, seed)[0]
            record(label, snr, mode, seed, cluster_scores(y[te], pred), time.time() - t0,
                   f"{len(res.history)} epochs" + (", trained on 1hvr views" if molecule == "1hvr" else ""))
            if keep is not None:
                keep[(mode, seed)] = res.model
        if "supervised-aligned" in methods or "supervised-aligned+profile" in methods:
            t0 = time.time()
            res = train(aligned, y, tr, "supervised", args, seed, aligned=True)
            emb = embed(res.model, aligned[te])
            s = time.time() - t0 + mra_s
            if "supervised-aligned" in methods:
                record(label, snr, "supervised-aligned", seed, cluster_scores(y[te], kmeans(emb, k, seed)[0]), s,
                       f"{len(res.history)} epochs, labels of the other half" +
                       (f", trained on {molecule} views" if molecule != "adk_open" else ""))
            if "supervised-aligned+profile" in methods:
                pred = kmeans(combine_embeddings(emb, profile[te], 0.75), k, seed)[0]
                record(label, snr, "supervised-aligned+profile", seed, cluster_scores(y[te], pred), s,
                       "labels of the other half; profile weight 0.75")
        if "mra-net" in methods or "mra-net+profile" in methods:
            t0 = time.time()
            res = train(aligned, mra_labels, None, "supervised", args, seed, aligned=True)
            emb = embed(res.model, aligned[te])
            s = time.time() - t0 + mra_s
            if "mra-net" in methods:
                record(label, snr, "mra-net", seed, cluster_scores(y[te], kmeans(emb, k, seed)[0]), s,
                       f"{len(res.history)} epochs, no labels (MRA classes)")
            if "mra-net+profile" in methods:
                pred = kmeans(combine_embeddings(emb, profile[te], 0.75), k, seed)[0]
                record(label, snr, "mra-net+profile", seed, cluster_scores(y[te], pred), s,
                       "no labels; profile weight 0.75")
        return out

    def size_label(dataset, n):
        return dataset if len(sizes) == 1 else f"{dataset} {n}/class"

    models: dict = {}
    for dataset in [d for d in ("views", "molecules") if d in datasets]:
        for snr in args.snrs.split(","):
            for n in sizes:
                for seed in seeds:
                    run_set(dataset, size_label(dataset, n), snr, seed, n,
                            keep=models if dataset == "views" and snr == "0.1" else None)
    if "unseen" in datasets:
        # held-out molecules (views, SNR 0.1): seen = networks trained on the molecule's own labels; unseen =
        # the adk_open views SNR 0.1 networks, the aligned network trained on (molecule, view) classes of the
        # other vendored models (multi3), or the generic embedding trained on many shapes (generic)
        for seed in seeds:
            generic_model, generic_s, generic_note = None, 0.0, ""
            for j, mol in enumerate(args.unseen_molecules.split(",")):
                got = run_set("views", f"{mol} views", "0.1", seed, sizes[0], molecule=mol,
                              sim_seed=seed + 100 + 200 * j)
                x, y, te = got["x"], got["y"], got["te"]
                unseen = f"{mol} views, unseen"
                for mode in [m for m in NETS if m in methods]:
                    if (mode, seed) in models:
                        t0 = time.time()
                        pred = kmeans(embed(models[(mode, seed)], x[te]), 4, seed)[0]
                        record(unseen, "0.1", mode, seed, cluster_scores(y[te], pred), time.time() - t0,
                               "trained on adk_open views")
                if seed not in net_seeds:
                    continue
                if "multi3" in methods:
                    t0 = time.time()
                    xm, ym, names = multi_molecule_set(mol, "0.1", args, seed)
                    res = train(xm, ym, None, "supervised", args, seed, aligned=True, batch_size=64)
                    pred = kmeans(embed(res.model, got["aligned"][te]), 4, seed)[0]
                    record(unseen, "0.1", "multi3", seed, cluster_scores(y[te], pred),
                           time.time() - t0, f"{len(res.history)} epochs, trained on {len(np.unique(ym))} "
                           f"(molecule, view) classes of {', '.join(names)} ({len(ym)} particles)")
                if any(m in methods for m in GENERIC):
                    if generic_model is None:
                        t0 = time.time()
                        shapes = parse_shapes(SHAPES_NO_ADK if args.shapes == "no-adk" else args.shapes)
                        held = set(HELD_OUT.get(mol, (mol,)))
                        if any(sh.split(":")[0] in held for sh in shapes):
                            raise SystemExit(f"--shapes holds {mol} (or its protein): it would not be unseen")
                        xg, yg, _ = generic_training_set(shapes, args.generic_per_class, args.generic_views, "0.1",
                                                         args.box, args.mra_size, seed, log=lambda m: None)
                        res = train(xg, yg, None, "supervised", args, seed, aligned=True,
                                    batch_size=args.generic_batch)
                        generic_model, generic_s = res.model, time.time() - t0
                        generic_note = (f"{len(res.history)} epochs, {len(np.unique(yg))} (shape, view) classes of "
                                        f"{len(shapes)} shapes, {len(yg)} particles")
                        print(f"generic network: {generic_note}, {generic_s:.0f} s", flush=True)
                    t0 = time.time()
                    emb = embed(generic_model, got["aligned"][te])
                    s = time.time() - t0 + generic_s
                    if "generic" in methods:
                        record(unseen, "0.1", "generic", seed, cluster_scores(y[te], kmeans(emb, 4, seed)[0]), s,
                               generic_note)
                    if "generic+profile" in methods:
                        pred = kmeans(combine_embeddings(emb, got["profile"][te], 0.75), 4, seed)[0]
                        record(unseen, "0.1", "generic+profile", seed, cluster_scores(y[te], pred), s,
                               "generic embedding + the molecule's MRA profile, weight 0.75")
    write(rows, args, started)
    print(f"wrote {RESULTS}/classify2d{args.tag}.json and .md ({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
