"""Benchmark: fewlabel vs Topaz (topaz-em) on the same micrographs, labels, downsampling and radius.

Topaz is installed into its own venv under benchmarks/work/topaz-venv (gitignored): torch==2.13.0
first, then torchvision 0.28.x (it pins that torch) and topaz-em. Topaz runs as users run it
(`topaz preprocess`, `topaz train`, `topaz extract`), with ``--pi`` passed explicitly (its ``-n``
over-estimates pi ~7x) and both with its bundled pretrained initialisation (default) and
``--no-pretrained``. Its picks are scored with fewlabel's evaluator; wall times of train and
extract are reported for both tools. crYOLO/Gautomatch/CASSPER picks on the real set are added
as fixed, unscored reference rows (precision/recall points; their y axis is flipped).

    python benchmarks/bench_pick_topaz.py --dataset real --labels 100 --epochs 10 --epoch-size 1000
    python benchmarks/bench_pick_topaz.py --dataset sim --labels 10,100 --epochs 3 --epoch-size 100  # reduced
Writes benchmarks/results/bench_pick_topaz.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pick_objectives import (REAL, REPO, RESULTS, markdown_table, real_dataset,  # noqa: E402
                                   run_fewlabel, simulated_dataset)

VENV = REPO / "benchmarks" / "work" / "topaz-venv"


def ensure_topaz() -> Path:
    """Create the Topaz venv once; return its `topaz` executable."""
    exe = VENV / "bin" / "topaz"
    if exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    subprocess.run(pip + ["torchvision==0.28.*"], check=True)
    subprocess.run(pip + ["topaz-em"], check=True)
    return exe


def run(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def run_topaz(exe: Path, work: Path, train_paths, labeled, test_paths, truth, *, radius, particle_radius,
              downsample, pi, epochs, epoch_size, pretrained: bool, threads: int, seed: int) -> dict:
    """topaz preprocess/train/extract; picks scaled back by -x and scored by fewlabel."""
    from fewlabel.io.picks import read_picks, write_picks
    from fewlabel.pick import data, metrics

    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    work.mkdir(parents=True, exist_ok=True)
    pre_tr, pre_te = work / "pre_train", work / "pre_test"
    t_pre = run([str(exe), "preprocess", "-s", str(downsample), "-o", str(pre_tr), *map(str, train_paths)], env)
    t_pre += run([str(exe), "preprocess", "-s", str(downsample), "-o", str(pre_te), *map(str, test_paths)], env)
    targets = work / "targets.txt"
    write_picks(data.to_downsampled(labeled, downsample), targets)
    prefix = work / "model"
    cmd = [str(exe), "train", "--train-images", str(pre_tr), "--train-targets", str(targets),
           "--radius", f"{radius / downsample:g}", "--pi", f"{pi:.6g}", "--method", "GE-binomial",
           "--model", "resnet8", "--num-epochs", str(epochs), "--epoch-size", str(epoch_size),
           "--device", "-1", "--num-workers", "0", "--num-threads", str(threads),
           "--save-prefix", str(prefix), "-o", str(work / "train_log.txt")]
    if not pretrained:
        cmd.append("--no-pretrained")
    t_train = run(cmd, env)
    model = sorted(work.glob("model_epoch*.sav"), key=lambda p: int(p.stem.split("epoch")[-1]))[-1]
    out = work / "picks.txt"
    t_ext = run([str(exe), "extract", "-m", str(model), "-r", f"{particle_radius / downsample:g}",
                 "-x", str(downsample), "--device", "-1", "-o", str(out), *map(str, sorted(pre_te.glob("*.mrc")))], env)
    picks = read_picks(out)
    curve = metrics.evaluate_picks(picks, truth, particle_radius)
    return {"auprc": curve.auprc, "train_s": t_pre + t_train, "extract_s": t_ext, "n_picks": curve.n_picks}


def reference_pickers(truth: pd.DataFrame, test_names: set[str], radius: float) -> list[dict]:
    """crYOLO, Gautomatch, CASSPER picks on the test micrographs (y flipped): one P/R point each."""
    from fewlabel.io.picks import read_picks
    from fewlabel.pick import metrics

    rows = []
    for tool in ("crYOLO", "gautomatch", "CASSPER"):
        tables = []
        for name in sorted(test_names):
            f = REAL / "coords_pickers" / tool / f"{name}.star"
            if f.exists():
                t = read_picks(f)
                tables.append(t.assign(image_name=name, y_coord=4096 - t.y_coord)[["image_name", "x_coord", "y_coord"]])
        if not tables:
            continue
        curve = metrics.evaluate_picks(pd.concat(tables), truth, radius)
        rows.append({"tool": tool, "precision": float(curve.precision[0]), "recall": float(curve.recall[0]),
                     "n_picks": curve.n_picks})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="real", choices=["real", "sim"])
    ap.add_argument("--labels", default="10,100,1000")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=10, help="epochs for both tools")
    ap.add_argument("--epoch-size", type=int, default=100, help="minibatches per epoch for both tools")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-topaz", action="store_true", help="only fewlabel and the reference pickers")
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "topaz"))
    args = ap.parse_args(argv)
    from fewlabel.pick.sampling import estimate_pi

    ds = real_dataset() if args.dataset == "real" else simulated_dataset(Path(args.work), 20, 10, 1024, 0, [10, 100, 1000])
    if ds is None:
        sys.exit(f"real data not found at {REAL}")
    pr = ds["particle_radius"]
    downsample = ds.get("downsample") or max(1, int(round(pr / 6)))
    radius = pr / 2
    exe = None if args.skip_topaz else ensure_topaz()
    rows = []
    for n in [int(v) for v in args.labels.split(",")]:
        for seed in [int(v) for v in args.seeds.split(",")]:
            labeled = ds["labeled"](n, seed)
            res = run_fewlabel(ds["train_paths"], labeled, ds["test_paths"], ds["truth"], radius=radius,
                               particle_radius=pr, downsample=downsample, expected=ds["expected"],
                               objective="ge-binomial", autoencoder=0.0, model="resnet8", epochs=args.epochs,
                               steps=args.epoch_size, seed=seed)
            rows.append({"tool": "fewlabel ge-binomial", "labels": n, "seed": seed, **res})
            print(rows[-1], flush=True)
            if exe is None:
                continue
            pi = res["pi"]
            for pretrained in (True, False):
                w = Path(args.work) / f"{args.dataset}_{n}_{seed}_{'pre' if pretrained else 'scratch'}"
                tres = run_topaz(exe, w, ds["train_paths"], labeled, ds["test_paths"], ds["truth"], radius=radius,
                                 particle_radius=pr, downsample=downsample, pi=pi, epochs=args.epochs,
                                 epoch_size=args.epoch_size, pretrained=pretrained, threads=args.threads, seed=seed)
                rows.append({"tool": f"topaz {'pretrained' if pretrained else 'scratch'}", "labels": n, "seed": seed,
                             **tres})
                print(rows[-1], flush=True)
    refs = reference_pickers(ds["truth"], {p.stem for p in ds["test_paths"]}, pr) if args.dataset == "real" else []
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / "bench_pick_topaz"
    stem.with_suffix(".json").write_text(json.dumps({"config": vars(args), "runs": rows, "reference": refs},
                                                    indent=2, default=float) + "\n")
    df = pd.DataFrame(rows)
    md = ["# bench_pick_topaz", "", f"`python benchmarks/bench_pick_topaz.py {' '.join(sys.argv[1:])}`", "",
          f"{ds['name']}; downsample {downsample}, positive radius {radius:g} px, NMS/match radius {pr:g} px; "
          f"both tools {args.epochs} epochs x {args.epoch_size} minibatches.", "",
          markdown_table(df[[c for c in ("tool", "labels", "seed", "auprc", "train_s", "extract_s") if c in df]],
                         index=False)]
    if refs:
        md += ["", "Reference pickers (no scores: precision/recall points)", "", markdown_table(pd.DataFrame(refs), index=False)]
    stem.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
