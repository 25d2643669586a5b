"""Benchmark: extraction speed (micrographs/s) on 4096x4096 inputs and peak memory vs number of micrographs.

Each extraction runs `fewlabel pick extract` (default batch: 1 micrograph per forward pass on CPU)
in a fresh process and reads its peak RSS, for increasing numbers of micrographs, all above the
batch size: streaming means the peak must stay flat. The model is an untrained resnet8 with the
default 16 units (speed does not depend on the weights) at downsampling 9, the CLI default for
EMPIAR-10017 (positive radius 27 px). Training speed: seconds per minibatch of the default
training step (8 tiles of 32x32 scores, augmentation, GE-binomial) for each model size.

    python benchmarks/bench_pick_speed.py                 # 1, 3 and 6 micrographs
    python benchmarks/bench_pick_speed.py --counts 1,3    # quicker
Writes benchmarks/results/bench_pick_speed.{json,md}.

``--stages`` instead times each stage of extracting one micrograph (read, Fourier-crop, normalize,
score, NMS, picks table + TSV) with 1 and 2 threads, CPU time and wall time, best of ``--reps``;
``--compare-src OLD/src`` runs the same timing on another checkout's sources (e.g. before a speed-up:
``git archive COMMIT src | tar -x -C OLD``). Writes benchmarks/results/bench_pick_stages.{json,md}:

    nice -n 10 python benchmarks/bench_pick_speed.py --stages --downsample 8 --compare-src /tmp/old/src
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

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="1,3,6")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--downsample", type=int, default=9)
    ap.add_argument("--model", default="resnet8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "work" / "speed"))
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--tta", choices=["both", "on", "off"], default="both",
                    help="extract with pick extract's default --tta (score maps averaged over 8 rotations/mirrors), "
                         "with --no-tta, or both")
    ap.add_argument("--stages", action="store_true", help="time the stages of one extraction instead")
    ap.add_argument("--reps", type=int, default=5, help="--stages: repetitions (best is kept)")
    ap.add_argument("--compare-src", default=None, help="--stages: also time this source tree (its src/ folder)")
    ap.add_argument("--compare-label", default="compare", help="--stages: name of that tree in the table")
    ap.add_argument("--_stage_run", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--train-models", default="resnet8:16,resnet8:32,conv31:16",
                    help="model:units pairs whose training step is timed ('' to skip)")
    args = ap.parse_args(argv)
    if args._stage_run is not None:
        print(json.dumps(stage_times(Path(args.work), args.size, args.downsample, args._stage_run, args.reps)))
        return
    if args.stages:
        run_stages(args)
        return
    import torch

    torch.set_num_threads(args.threads)

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
    for n, tta in [(n, t) for n in counts for t in {"both": (True, False), "on": (True,), "off": (False,)}[args.tta]]:
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
                              "--micrographs", str(sub), "-o", str(work / f"picks_{n}.star"), "--device", "cpu",
                              "--tta" if tta else "--no-tta"],
                             env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        vals = dict(line.split() for line in out.stdout.splitlines() if line.startswith(("WALL", "RSS")))
        inner = float(vals["WALL"])
        rows.append({"micrographs": n, "size": args.size, "downsample": args.downsample, "model": args.model,
                     "threads": args.threads, "tta": tta, "extract_s": inner, "process_s": wall,
                     "mic_per_s": n / inner, "peak_rss_mb": int(vals["RSS"]) / 1024})
        print(rows[-1], flush=True)
    train_rows = [time_training(name, int(units), args.threads) for name, units in
                  (m.split(":") for m in args.train_models.split(",") if m)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"bench_pick_speed{args.tag}.json").write_text(json.dumps({"config": vars(args), "runs": rows,
                                                               "training": train_rows}, indent=2) + "\n")
    md = [f"# bench_pick_speed{args.tag}", "", f"Load average when written: {os.getloadavg()[0]:.1f} (shared machine)", "", f"`python benchmarks/bench_pick_speed.py {' '.join(sys.argv[1:])}`", "",
          "tta: scores averaged over the 8 rotations/mirrors (`pick extract`'s default), else `--no-tta`; extract s "
          "is the whole command (start-up, reading, Fourier cropping, scoring, NMS, writing).", "",
          "| micrographs | size | downsample | model | threads | tta | extract s | micrographs/s | peak RSS MB |",
          "|---|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['micrographs']} | {r['size']} | {r['downsample']} | {r['model']} | {r['threads']} | "
           f"{'on' if r['tta'] else 'off'} | {r['extract_s']:.1f} | {r['mic_per_s']:.2f} | {r['peak_rss_mb']:.0f} |"
           for r in rows]
    md += ["", "Training step (default minibatch: 4 particle-centred + 4 random tiles of 32x32 scores, "
           "augmentation, GE-binomial), median of the timed steps:", "",
           "| model | units | receptive field | threads | s/step |", "|---|---|---|---|---|"]
    md += [f"| {r['model']} | {r['units']} | {r['receptive_field']} | {r['threads']} | {r['s_per_step']:.3f} |"
           for r in train_rows]
    (RESULTS / f"bench_pick_speed{args.tag}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


STAGES = ("read", "downsample", "normalize", "score", "nms", "picks_tsv")


def stage_times(work: Path, size: int, factor: int, threads: int, reps: int) -> dict:
    """Best CPU and wall seconds of each stage of one extraction (whatever fewlabel is on sys.path)."""
    import tempfile

    import torch
    from scipy import fft

    import fewlabel
    from fewlabel import preprocess
    from fewlabel.io.micrographs import read_micrograph, write_micrograph
    from fewlabel.io.picks import write_picks
    from fewlabel.pick import extract
    from fewlabel.pick.models import build_model, score_map
    from fewlabel.pick.nms import non_maximum_suppression

    torch.set_num_threads(threads)
    path = work / f"stage_{size}.mrc"
    if not path.exists():
        work.mkdir(parents=True, exist_ok=True)
        write_micrograph(path, np.random.default_rng(0).normal(size=(size, size)).astype(np.float32))
    torch.manual_seed(0)
    model = build_model("resnet8").eval()
    folded = getattr(extract, "inference_model", None)  # absent in checkouts before it existed
    scorer = folded(model) if folded else model
    radius = 6.0  # NMS radius 2R for the default R = 3 x factor, in downsampled pixels
    out = Path(tempfile.mkdtemp()) / "picks.tsv"
    state: dict = {}

    def run(stage: str) -> None:
        if stage == "read":
            state["image"] = read_micrograph(path).image
        elif stage == "downsample":
            with fft.set_workers(threads):
                state["small"] = preprocess.downsample(state["image"], factor)
        elif stage == "normalize":
            state["norm"] = preprocess.normalize(state["small"])
        elif stage == "score":
            with torch.inference_mode():
                state["scores"] = score_map(scorer, torch.from_numpy(state["norm"][None]))[0].numpy()
        elif stage == "nms":
            state["nms"] = non_maximum_suppression(state["scores"], radius)
        else:
            write_picks(extract.picks_from_scores(state["scores"], "m", radius, factor), out)

    times = {k: {"cpu": [], "wall": []} for k in STAGES}
    for _ in range(reps + 1):  # the first round warms up
        for stage in STAGES:
            c, w = time.process_time(), time.perf_counter()
            run(stage)
            times[stage]["cpu"].append(time.process_time() - c)
            times[stage]["wall"].append(time.perf_counter() - w)
    best = {k: {"cpu_ms": 1000 * min(v["cpu"][1:]), "wall_ms": 1000 * min(v["wall"][1:])} for k, v in times.items()}
    return {"source": str(Path(fewlabel.__file__).parents[1]), "threads": threads, "size": size, "downsample": factor,
            "folded_scorer": bool(folded), "picks": int(len(state["nms"][1])), "stages": best,
            "total_cpu_ms": sum(b["cpu_ms"] for b in best.values()),
            "total_wall_ms": sum(b["wall_ms"] for b in best.values()), "load": round(os.getloadavg()[0], 2)}


def run_stages(args) -> None:
    """Time the stages for 1 and 2 threads, for this checkout and ``--compare-src``; write the tables."""
    sources = [("this checkout", None)] + ([(args.compare_label, args.compare_src)] if args.compare_src else [])
    rows = []
    for label, src in sources:
        for threads in (1, 2):
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            if src:
                env["PYTHONPATH"] = os.pathsep.join([str(Path(src).resolve()), env.get("PYTHONPATH", "")])
            cmd = [sys.executable, str(Path(__file__).resolve()), "--_stage_run", str(threads),
                   "--size", str(args.size), "--downsample", str(args.downsample), "--reps", str(args.reps),
                   "--work", args.work]
            res = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if res.returncode:
                sys.exit(res.stderr)
            rows.append({"code": label, **json.loads(res.stdout.strip().splitlines()[-1])})
            print(rows[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_pick_stages.json").write_text(json.dumps({"config": vars(args), "runs": rows}, indent=2) + "\n")
    md = ["# bench_pick_stages: where the time of one extraction goes", "",
          f"`python benchmarks/bench_pick_speed.py {' '.join(sys.argv[1:])}`, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {os.cpu_count()} CPUs shared with other jobs "
          "(1-minute load average per row). One {0}x{0} float32 MRC micrograph (page cache), downsampled by {1}, "
          "resnet8 with 16 units, every local maximum kept. Milliseconds, best of {2}: CPU time (all threads) and "
          "wall time.".format(args.size, args.downsample, args.reps), "",
          "| code | threads | " + " | ".join(f"{s} cpu / wall" for s in STAGES) + " | total cpu / wall | load |",
          "|---|---|" + "---|" * (len(STAGES) + 2)]
    for r in rows:
        cells = [f"{r['stages'][s]['cpu_ms']:.0f} / {r['stages'][s]['wall_ms']:.0f}" for s in STAGES]
        md.append(f"| {r['code']} | {r['threads']} | " + " | ".join(cells) +
                  f" | {r['total_cpu_ms']:.0f} / {r['total_wall_ms']:.0f} | {r['load']} |")
    md += ["", "Rows: " + "; ".join(f"{r['code']} = {r['source']}" for r in rows[::2]) + "."]
    (RESULTS / "bench_pick_stages.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def time_training(name: str, units: int, threads: int, steps: int = 6) -> dict:
    """Median seconds per training step of the default tile minibatch for one model size."""
    import torch

    from fewlabel.pick.models import build_model
    from fewlabel.pick.objectives import pu_loss
    from fewlabel.pick.sampling import TileSampler, positive_mask
    from fewlabel.pick.train import TrainConfig

    cfg = TrainConfig(radius=15, pi=0.05)
    rng = np.random.default_rng(0)
    image = rng.normal(size=(205, 205)).astype(np.float32)
    mask = positive_mask(image.shape, rng.uniform(10, 195, (80, 2)), 3)
    torch.manual_seed(0)
    model = build_model(name, units=units)
    sampler = TileSampler([image], [mask], model.receptive_field, cfg.tile, rng, augment=True)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    times = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        x, pos, unl = sampler.sample(cfg.positive_tiles, cfg.random_tiles)
        z = model(torch.from_numpy(x))
        loss = pu_loss("ge-binomial", z[torch.from_numpy(pos)], z[torch.from_numpy(unl)], cfg.pi)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    row = {"model": name, "units": units, "receptive_field": model.receptive_field, "threads": threads,
           "s_per_step": float(np.median(times[1:]))}
    print(row, flush=True)
    return row


if __name__ == "__main__":
    main()
