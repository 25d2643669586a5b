"""Scale-out throughput: pick extraction (micrographs/s) in-process vs a local Dask cluster with
1 and 2 workers on simulated micrographs, and each worker's peak memory (RSS).

The issue asks for 200 micrographs of 4096x4096; on a shared 2-core machine use fewer (``--n``).
Each mode runs in a fresh subprocess so peak RSS is that mode's alone. Cluster start-up is
timed apart from the work. Writes benchmarks/results/bench_scale.{json,md}.

    .venv/bin/python benchmarks/bench_scale.py                      # 200 x 4096^2 (long)
    .venv/bin/python benchmarks/bench_scale.py --n 12 --unique 2 --data /tmp/bench_scale_data  # run here
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

RESULTS = Path(__file__).resolve().parent / "results"


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB.

    Linux VmHWM (high-water mark of this process image); ``ru_maxrss`` would also count the
    parent's memory copied at fork, since Linux carries it across exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(data: Path, n: int, shape: int, downsample: int, seed: int, unique: int) -> tuple[Path, Path]:
    """Simulate ``unique`` micrographs (kept in ``data`` for reruns), hard-link them into ``n`` items,
    and train a picker for a few steps. Extraction cost does not depend on the image content, and
    simulating one 4096x4096 micrograph takes about a minute here, hence the copies."""
    from fewlabel.io.picks import read_picks
    from fewlabel.pick import data as pdata
    from fewlabel.pick.train import TrainConfig, train_picker
    from fewlabel.simulate.micrographs import simulate_micrographs

    unique = min(unique, n)
    sim = data / "micrographs"
    if len(list(sim.glob("*.mrc"))) < unique:
        print(f"simulating {unique} micrographs of {shape}x{shape} into {data} ...", flush=True)
        simulate_micrographs(data, n=unique, seed=seed, labeled_sizes=(10,), shape=(shape, shape), progress=True)
    sources = sorted(sim.glob("*.mrc"))[:unique]
    mics = data / f"items_{n}"
    mics.mkdir(exist_ok=True)
    for i in range(n):
        item = mics / f"item_{i:05d}.mrc"
        if not item.exists():
            os.link(sources[i % unique], item)
    model = data / f"picker_ds{downsample}.pt"
    if not model.exists():
        paths = sources[:2]
        truth = read_picks(data / "truth.tsv")
        truth = truth[truth["image_name"].isin([p.stem for p in paths])]
        images = [im for _, _, im in pdata.iter_prepared(paths, downsample, "robust")]
        cfg = TrainConfig(radius=2.0 * downsample, pi=0.01, downsample=downsample, epochs=1, steps_per_epoch=2,
                          seed=seed)
        train_picker(images, [p.stem for p in paths], pdata.to_downsampled(truth, downsample), cfg, model,
                     progress=False, log=lambda m: None)
    return mics, model


def run_mode(mode: int, mics: Path, model: Path, n: int, out: Path) -> dict:
    """One measurement (called in a fresh subprocess): mode 0 = in-process, k = local cluster of k workers."""
    from fewlabel.scale.cluster import ScaleSpec, open_client
    from fewlabel.scale.merge import concat_tables, iter_parts
    from fewlabel.scale.parts import PartStore, TableCodec
    from fewlabel.scale.runner import run_items
    from fewlabel.scale.tasks import PickExtractTask

    items = [(p.stem, p) for p in sorted(mics.glob("*.mrc"))[:n]]
    spec = ScaleSpec(workers=mode or None)
    store = PartStore(out, TableCodec())
    store.open({"bench": mode})
    t0 = time.perf_counter()
    with open_client(spec, log=lambda m: None) as client:
        t1 = time.perf_counter()
        summary = run_items(items, PickExtractTask(str(model), device="cpu"), store, spec, client, progress=False,
                            log=lambda m: None)
        t2 = time.perf_counter()
        workers = sorted(client.run(peak_rss_mb).values()) if client is not None else []
    picks = concat_tables(iter_parts(store, [n for n, _ in items]))
    store.remove()
    if summary.failures:
        raise RuntimeError(summary.failures)
    return {"mode": "in-process" if mode == 0 else f"dask {mode} worker" + ("s" if mode > 1 else ""),
            "workers": mode, "micrographs": len(items), "startup_s": round(t1 - t0, 2),
            "work_s": round(t2 - t1, 2), "mic_per_s": round(len(items) / (t2 - t1), 3),
            "peak_rss_worker_mb": [round(w) for w in workers] if workers else [round(peak_rss_mb())],
            "peak_rss_client_mb": round(peak_rss_mb()), "picks": len(picks),
            "picks_sha1": hashlib.sha1(picks.to_csv(index=False).encode()).hexdigest()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="micrographs (the issue: 200)")
    ap.add_argument("--shape", type=int, default=4096)
    ap.add_argument("--unique", type=int, default=4, help="distinct simulated micrographs (the rest are links)")
    ap.add_argument("--downsample", type=int, default=8)
    ap.add_argument("--modes", default="0,1,2", help="0 = in-process, k = local Dask cluster of k workers")
    ap.add_argument("--data", type=Path, default=None, help="keep simulated data here (reused when present)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--_run", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_mics", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_model", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._run is not None:
        print(json.dumps(run_mode(args._run, args._mics, args._model, args.n, args._out)))
        return
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_scale_")
        args.data = Path(tmp.name)
    mics, model = prepare(args.data, args.n, args.shape, args.downsample, args.seed, args.unique)
    rows = []
    for mode in [int(m) for m in args.modes.split(",")]:
        cmd = [sys.executable, __file__, "--n", str(args.n), "--_run", str(mode), "--_mics", str(mics),
               "--_model", str(model), "--_out", str(args.data / f"parts_{mode}")]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{r['mode']:>15}: {r['mic_per_s']:.3f} mic/s ({r['work_s']} s work + {r['startup_s']} s start-up), "
              f"peak RSS per worker {r['peak_rss_worker_mb']} MiB", flush=True)
    same = len({r["picks_sha1"] for r in rows}) == 1  # identical merged tables, not just counts
    meta = {"n": args.n, "unique_simulated": min(args.unique, args.n), "shape": args.shape, "downsample": args.downsample, "model": "resnet8 (untrained weights "
            "do not change the cost)", "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
            "threads_per_worker": 1, "same_picks_in_every_mode": same,
            "note": "shared 2-core machine, other jobs running: timings are noisy; GPU throughput not measured"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_scale.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [f"# Scale-out: pick extraction, {args.n} simulated micrographs of {args.shape}x{args.shape} "
             f"(downsample {args.downsample}, resnet8, CPU)", "",
             "| mode | micrographs/s | work s | start-up s | peak RSS per worker (MiB) | client peak RSS (MiB) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['mic_per_s']:.3f} | {r['work_s']} | {r['startup_s']} | "
                     f"{', '.join(map(str, r['peak_rss_worker_mb']))} | {r['peak_rss_client_mb']} |")
    lines += ["", f"{meta['unique_simulated']} distinct simulated micrographs, hard-linked to {args.n} items. "
              f"Same picks in every mode: {same}. {meta['note']}. Machine: {os.cpu_count()} CPUs, "
              "1 thread per worker (OMP_NUM_THREADS=1)."]
    (RESULTS / "bench_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
