"""Benchmark: at which scale does the general picker pick best? (zero labels, AUPRC against the scale)

The general picker is trained in a canonical frame where each corpus particle's bounding-sphere
radius is 4.5-8 px. A user's micrograph is downsampled so the particle radius from ``--diameter``
lands at ``WORKING_PARTICLE_RADIUS`` px. This scans that target radius (any factor, not only
integers) with the shipped weights, test-time augmentation on, as ``pick extract`` scores:

- ``real``: EMPIAR-10017 test micrographs (5; radius 54 px), skipped without ../shared;
- ``unseen``: the simulated 4E43 test micrographs of bench_pick_pretrained.py (radius 25.35 px);
- ``corpus``: 40 held-out corpus micrographs (indices 400-439 of the shipped recipe, never trained on)
  resampled (Fourier) by ``relative`` = target / true radius; matched at the mean radius.

    python benchmarks/bench_picker_scale.py

Writes benchmarks/results/bench_picker_scale.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pick_objectives import RESULTS, markdown_table, real_dataset  # noqa: E402
from bench_pick_pretrained import picks_of_prepared, unseen_dataset  # noqa: E402

TARGETS = {"real": (6.0, 6.4, 6.75, 7.1, 7.4), "unseen": (5.5, 6.0, 6.34, 6.75, 7.25, 7.75)}
RELATIVE = (0.9, 1.0, 1.1, 1.2, 1.3)


def picks_at(model, image: np.ndarray, name: str, factor: float, particle_radius: float) -> pd.DataFrame:
    """Picks of one original image downsampled by ``factor`` (as ``pick extract`` prepares it), NMS at the
    particle radius."""
    from fewlabel.pick.data import prepare_image

    return picks_of_prepared(model, prepare_image(image, factor), name, particle_radius / factor, factor)


def scan_dataset(model, ds: dict, targets) -> list[dict]:
    from fewlabel.io.micrographs import read_micrograph
    from fewlabel.pick import metrics

    pr = ds["particle_radius"]
    raw = [(Path(p).stem, read_micrograph(p).image) for p in ds["test_paths"]]
    rows = []
    for target in targets:
        t = time.perf_counter()
        picks = pd.concat([picks_at(model, im, n, pr / target, pr) for n, im in raw], ignore_index=True)
        curve = metrics.evaluate_picks(picks, ds["truth"], pr)
        rows.append({"dataset": ds["short"], "target_radius": target, "relative": target / 6.0,
                     "factor": round(pr / target, 4), "auprc": curve.auprc, "seconds": time.perf_counter() - t})
        print(f"{ds['short']:12s} target radius {target:5.2f} px (factor {pr / target:6.3f}) "
              f"auprc={curve.auprc:.4f}", flush=True)
    return rows


def scan_corpus(model, n: int) -> list[dict]:
    """Held-out corpus micrographs resampled so each particle's radius is ``relative`` x its true one."""
    from scipy import signal

    from fewlabel import preprocess
    from fewlabel.pick import metrics
    from fewlabel.pick.pretrained import Recipe, simulate_canonical

    recipe = Recipe()
    mics = [simulate_canonical(recipe, i) for i in range(400, 400 + n)]
    match = float(np.mean([m.particle_radius for m in mics]))
    truth = pd.concat([pd.DataFrame({"image_name": f"c{k}", "x_coord": m.centres[:, 0], "y_coord": m.centres[:, 1]})
                       for k, m in enumerate(mics)], ignore_index=True)
    rows = []
    for rel in RELATIVE:
        picks = []
        for k, m in enumerate(mics):
            size = int(round(m.image.shape[0] * rel))
            scale = size / m.image.shape[0]
            im = signal.resample(signal.resample(m.image, size, axis=0), size, axis=1)
            im = preprocess.normalize(im.astype(np.float32), "robust")
            picks.append(picks_of_prepared(model, im, f"c{k}", m.particle_radius * scale, 1 / scale))
        curve = metrics.evaluate_picks(pd.concat(picks, ignore_index=True), truth, match)
        rows.append({"dataset": f"corpus held-out ({n})", "target_radius": float("nan"), "relative": rel,
                     "factor": float("nan"), "auprc": curve.auprc, "seconds": float("nan")})
        print(f"corpus       relative scale {rel:4.2f} auprc={curve.auprc:.4f}", flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="real,unseen,corpus")
    ap.add_argument("--corpus-micrographs", type=int, default=40)
    ap.add_argument("--work", default=str(Path(__file__).resolve().parent / "work"))
    args = ap.parse_args(argv)
    import torch

    from fewlabel.pick.pretrained import WORKING_PARTICLE_RADIUS, load_general

    torch.set_num_threads(1)
    model, _ = load_general()
    rows: list[dict] = []
    for name in args.datasets.split(","):
        if name == "corpus":
            rows += scan_corpus(model, args.corpus_micrographs)
            continue
        ds = real_dataset() if name == "real" else unseen_dataset(Path(args.work), 10, 5, 1024, [10, 100])
        if ds is None:
            print(f"skipping {name}: data not found")
            continue
        ds["short"] = "EMPIAR-10017" if name == "real" else "unseen 4E43"
        rows += scan_dataset(model, ds, TARGETS[name])
    df = pd.DataFrame(rows)
    stem = RESULTS / "bench_picker_scale"
    stem.with_suffix(".json").write_text(json.dumps({"config": vars(args), "rows": rows}, indent=1))
    text = ["# bench_picker_scale", "",
            "Zero-label AUPRC of the shipped general picker against the particle radius (px) its input is "
            "downsampled to (match radius = particle radius, scores averaged over 8 rotations/mirrors). "
            "relative = target / 6 px (the canonical frame's centre) for the benchmark sets, target / true radius "
            f"for the corpus. fewlabel's working radius: {WORKING_PARTICLE_RADIUS} px "
            "(fewlabel.pick.pretrained.WORKING_PARTICLE_RADIUS).", "",
            "    python benchmarks/bench_picker_scale.py", "",
            markdown_table(df[["dataset", "target_radius", "relative", "factor", "auprc"]], index=False)]
    stem.with_suffix(".md").write_text("\n".join(text) + "\n")
    print(f"wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
