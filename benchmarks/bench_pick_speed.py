"""Benchmark: extraction speed (micrographs/s) on 4096x4096 inputs and peak memory vs number of micrographs.

Each extraction runs `fewlabel pick extract` in a fresh process and reads its peak RSS
(``resource.getrusage(RUSAGE_CHILDREN)``), for increasing numbers of micrographs: streaming
means the peak must stay flat. The model is an untrained resnet8 (speed does not depend on the
weights) at downsampling 8, the setting used for EMPIAR-10017.

    python benchmarks/bench_pick_speed.py                 # 2, 6 and 12 micrographs
    python benchmarks/bench_pick_speed.py --counts 2,4    # quicker
Writes benchmarks/results/bench_pick_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="2,6,12")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--downsample", type=int, default=8)
    ap.add_argument("--model", default="resnet8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "speed"))
    args = ap.parse_args(argv)
    import torch

    from fewlabel.checkpoint import save_checkpoint
    from fewlabel.io.micrographs import write_micrograph
    from fewlabel.pick.models import build_model, model_config

    counts = [int(c) for c in args.counts.split(",")]
    work = Path(args.work)
    mics = work / f"mics_{args.size}"
    mics.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(max(counts)):
        p = mics / f"m{k:03d}.mrc"
        if not p.exists():
            write_micrograph(p, rng.normal(size=(args.size, args.size)).astype(np.float32))
    torch.manual_seed(0)
    model = build_model(args.model)
    cfg = {"radius": 27.0, "downsample": args.downsample, "normalize": "robust", "nms_radius_used": 54.0,
           "model_config": model_config(model)}
    model_path = work / f"{args.model}.pt"
    save_checkpoint(model_path, "pick", cfg, model.state_dict())
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    rows = []
    for n in counts:
        sub = work / f"subset_{n}"
        sub.mkdir(exist_ok=True)
        for k in range(n):
            link = sub / f"m{k:03d}.mrc"
            if not link.exists():
                link.symlink_to(mics / f"m{k:03d}.mrc")
        code = ("import resource,sys,time;from fewlabel.cli.main import cli;t=time.perf_counter();"
                "\ntry:\n cli(sys.argv[1:])\nexcept SystemExit as e:\n assert not e.code, e.code\n"
                "print('WALL', time.perf_counter()-t);print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, "pick", "extract", "--model", str(model_path),
                              "--micrographs", str(sub), "-o", str(work / f"picks_{n}.star"), "--device", "cpu"],
                             env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        vals = dict(line.split() for line in out.stdout.splitlines() if line.startswith(("WALL", "RSS")))
        inner = float(vals["WALL"])
        rows.append({"micrographs": n, "size": args.size, "downsample": args.downsample, "model": args.model,
                     "threads": args.threads, "extract_s": inner, "process_s": wall,
                     "mic_per_s": n / inner, "peak_rss_mb": int(vals["RSS"]) / 1024})
        print(rows[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_pick_speed.json").write_text(json.dumps({"config": vars(args), "runs": rows}, indent=2) + "\n")
    md = ["# bench_pick_speed", "", f"`python benchmarks/bench_pick_speed.py {' '.join(sys.argv[1:])}`", "",
          "| micrographs | size | downsample | model | threads | extract s | micrographs/s | peak RSS MB |",
          "|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['micrographs']} | {r['size']} | {r['downsample']} | {r['model']} | {r['threads']} | "
           f"{r['extract_s']:.1f} | {r['mic_per_s']:.2f} | {r['peak_rss_mb']:.0f} |" for r in rows]
    (RESULTS / "bench_pick_speed.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
