"""Scale-out throughput: pick extraction (micrographs/s) in-process vs a local Dask cluster with
1 and 2 workers on simulated micrographs, and each worker's peak memory (RSS) part-way and at the end.

Modes: ``p1``/``p2`` in-process with 1/2 threads (torch and scipy.fft), ``d1``/``d2`` a local Dask
cluster of 1/2 worker processes of one thread each. Each mode runs in a fresh subprocess so peak
RSS is that mode's alone; cluster start-up is timed apart from the work. The first ``--rss-at``
items run first, then the rest (skipping those done), so the workers' peak RSS after 50 and after
200 micrographs shows whether memory grows with the number of micrographs. The merged picks of
every mode are hashed part by part in input order (identical tables in every 1-thread mode). The load
average is recorded: the machine may be shared. Writes benchmarks/results/bench_scale.{json,md}.

    nice -n 10 .venv/bin/python benchmarks/bench_scale.py --n 200 --unique 4 --data /tmp/bench_scale_data
    python benchmarks/bench_scale.py --device cuda --modes p1,d1,d2 --data DIR   # on a GPU node
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


MODES = {"p1": (0, 1), "p2": (0, 2), "d1": (1, 1), "d2": (2, 1)}  # mode -> (Dask workers, threads)


def _label(mode: str) -> str:
    workers, threads = MODES[mode]
    if workers == 0:
        return f"in-process, {threads} thread" + ("s" if threads > 1 else "")
    return f"dask {workers} worker" + ("s" if workers > 1 else "") + " x 1 thread"


def _cpu_seconds(client) -> float:
    """CPU seconds (all threads) used so far by this process and, with Dask, every worker process."""
    own = time.process_time()
    return own + (sum(client.run(time.process_time).values()) if client is not None else 0.0)


def _warm_up() -> None:
    import torch  # noqa: F401

    import fewlabel.pick.extract  # noqa: F401
    import fewlabel.pick.train  # noqa: F401


def run_mode(mode: str, mics: Path, model: Path, n: int, rss_at: int, out: Path, device: str = "cpu") -> dict:
    """One measurement (called in a fresh subprocess)."""
    import torch

    from fewlabel.scale.cluster import ScaleSpec, open_client
    from fewlabel.scale.parts import PartStore, TableCodec
    from fewlabel.scale.runner import run_items
    from fewlabel.scale.tasks import PickExtractTask

    workers, threads = MODES[mode]
    torch.set_num_threads(threads)
    items = [(p.stem, p) for p in sorted(mics.glob("*.mrc"))[:n]]
    spec = ScaleSpec(workers=workers or None)
    store = PartStore(out, TableCodec())
    store.remove()
    store.open({"bench": mode})
    task = PickExtractTask(str(model), device=device)
    load = [os.getloadavg()[0]]
    t0 = time.perf_counter()
    with open_client(spec, log=lambda m: None) as client:
        if client is not None:  # imports on the workers count as start-up (in-process they are done already)
            client.run(_warm_up)
        t1 = time.perf_counter()
        cpu0 = _cpu_seconds(client)
        rss = {}
        for upto in sorted({min(rss_at, len(items)), len(items)}):
            summary = run_items(items[:upto], task, store, spec, client, progress=False, log=lambda m: None)
            if summary.failures:
                raise RuntimeError(summary.failures)
            rss[upto] = sorted(client.run(peak_rss_mb).values()) if client is not None else [peak_rss_mb()]
        t2 = time.perf_counter()
        cpu = _cpu_seconds(client) - cpu0
    load.append(os.getloadavg()[0])
    digest, coords, picks, score_sum = hashlib.sha1(), hashlib.sha1(), 0, 0.0
    for name, _ in items:  # the merged table, streamed: hashes of each part in input order
        digest.update(store.path(name).read_bytes())
        part = store.read(name)
        coords.update(part[["x_coord", "y_coord"]].to_numpy().tobytes())
        picks += len(part)
        score_sum += float(part["score"].sum())
    store.remove()
    first, last = min(rss), max(rss)
    return {"mode": _label(mode), "key": mode, "workers": workers, "threads": threads, "micrographs": len(items),
            "startup_s": round(t1 - t0, 2), "work_s": round(t2 - t1, 2), "mic_per_s": round(len(items) / (t2 - t1), 3),
            "s_per_mic": round((t2 - t1) / len(items), 3), "cpu_s": round(cpu, 1),
            "cpu_s_per_mic": round(cpu / len(items), 3),
            f"peak_rss_worker_mb_at_{first}": [round(w) for w in rss[first]],
            "peak_rss_worker_mb": [round(w) for w in rss[last]], "peak_rss_client_mb": round(peak_rss_mb()),
            "picks": picks, "picks_sha1": digest.hexdigest(), "coords_sha1": coords.hexdigest(),
            "score_sum": score_sum, "load_before": round(load[0], 2),
            "load_after": round(load[1], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="micrographs (the issue: 200)")
    ap.add_argument("--shape", type=int, default=4096)
    ap.add_argument("--unique", type=int, default=4, help="distinct simulated micrographs (the rest are links)")
    ap.add_argument("--downsample", type=int, default=8)
    ap.add_argument("--modes", default="p1,p2,d1,d2", help=f"any of {', '.join(MODES)}")
    ap.add_argument("--rss-at", type=int, default=50, help="also record peak RSS after this many micrographs")
    ap.add_argument("--data", type=Path, default=None, help="keep simulated data here (reused when present)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (resolved in each worker)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where bench_scale.{json,md} go")
    ap.add_argument("--_run", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_mics", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_model", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._run is not None:
        print(json.dumps(run_mode(args._run, args._mics, args._model, args.n, args.rss_at, args._out, args.device)))
        return
    modes = args.modes.split(",")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        ap.error(f"unknown modes {unknown}; choose from {', '.join(MODES)}")
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_scale_")
        args.data = Path(tmp.name)
    mics, model = prepare(args.data, args.n, args.shape, args.downsample, args.seed, args.unique)
    rows = []
    for mode in modes:
        threads = MODES[mode][1]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        cmd = [sys.executable, __file__, "--n", str(args.n), "--rss-at", str(args.rss_at), "--device", args.device,
               "--_run", mode,
               "--_mics", str(mics), "--_model", str(model), "--_out", str(args.data / f"parts_{mode}")]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode:
            sys.exit(res.stderr)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{r['mode']:>28}: {r['mic_per_s']:.3f} mic/s ({r['work_s']} s work + {r['startup_s']} s start-up), "
              f"peak RSS per worker {r['peak_rss_worker_mb']} MiB, load {r['load_before']} -> {r['load_after']}",
              flush=True)
    one_thread = [r for r in rows if r["threads"] == 1]
    same = len({r["picks_sha1"] for r in one_thread}) == 1  # identical merged tables, not just counts
    same_xy = len({r["coords_sha1"] for r in rows}) == 1
    score_spread = max(r["score_sum"] for r in rows) - min(r["score_sum"] for r in rows)
    at = min(args.rss_at, args.n)
    meta = {"device": args.device, "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
            "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "n": args.n,
            "unique_simulated": min(args.unique, args.n), "shape": args.shape, "downsample": args.downsample,
            "model": "resnet8, 16 units (trained 2 steps: the weights do not change the cost)",
            "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
            "loadavg_end": [round(x, 2) for x in os.getloadavg()], "same_picks_in_every_1_thread_mode": same,
            "same_coordinates_in_every_mode": same_xy, "score_sum_spread_over_modes": score_spread,
            "nice": os.nice(0), "note": "shared machine (see the load averages): timings are noisy; "
            "GPU throughput not measured (no GPU lent)"}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "bench_scale.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [f"# Scale-out: pick extraction, {args.n} simulated micrographs of {args.shape}x{args.shape} "
             f"(downsample {args.downsample}, resnet8, device {args.device})", "",
             f"`{meta['command']}` (under `nice -n {meta['nice']}`), {meta['date_utc']} UTC", "",
             f"| mode | micrographs/s | s per micrograph | CPU s per micrograph | work s | start-up s | "
             f"peak RSS per worker after {at} "
             f"(MiB) | after {args.n} (MiB) | client peak RSS (MiB) | load avg before -> after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['mic_per_s']:.3f} | {r['s_per_mic']:.3f} | {r['cpu_s_per_mic']:.3f} | "
                     f"{r['work_s']} | "
                     f"{r['startup_s']} | {', '.join(map(str, r[f'peak_rss_worker_mb_at_{at}']))} | "
                     f"{', '.join(map(str, r['peak_rss_worker_mb']))} | {r['peak_rss_client_mb']} | "
                     f"{r['load_before']} -> {r['load_after']} |")
    lines += ["", f"Data: {meta['unique_simulated']} distinct simulated micrographs hard-linked to {args.n} file "
              f"names (simulating one {args.shape}x{args.shape} micrograph takes about a minute of CPU; the "
              "extraction cost does not depend on the content), so every read after the first comes from the "
              "page cache: this measures compute, not disk or network reads "
              f"({args.shape * args.shape * 4 / 2**20:.0f} MiB per micrograph).",
              f"Picks: {rows[0]['picks']} in all (every local maximum, no threshold, as `pick extract` does by "
              f"default). Identical merged picks files in every 1-thread mode: {same}; same pick coordinates in "
              f"every mode: {same_xy}; the sums of all scores differ by at most {score_spread:.2g} between modes "
              "(2 threads add in another order: float rounding).",
              "CPU s per micrograph: CPU time of the process doing the work (with Dask: of every worker process and "
              "the client, Dask's own threads included) over the micrographs; unlike wall time it hardly depends on "
              "what else runs, so on an idle machine with one worker per free core expect about "
              "(workers / CPU s per micrograph) micrographs/s.",
              f"Machine: {os.cpu_count()} CPUs, shared with other jobs (load averages above; 1-minute load at the "
              f"end {meta['loadavg_end'][0]}). GPU throughput not measured: no GPU machine was lent."]
    (args.results / "bench_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
