"""Simulator speed and calibration: 40 micrographs of 1024x1024 (target: under 120 s on 2 cores)
and labeled particle sets. Prints a table; writes benchmarks/results/bench_simulate.{json,md}.

    .venv/bin/python benchmarks/bench_simulate.py            # full (about 1-2 minutes)
    .venv/bin/python benchmarks/bench_simulate.py --n 8      # quicker look
    .venv/bin/python benchmarks/bench_simulate.py --figures docs/images   # README pictures
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 120.0


def _cpu_seconds() -> float:
    """CPU time of this process and its finished child processes (user + system)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_micrographs(n: int, workers: int, seed: int = 0) -> dict:
    from fewlabel.simulate.micrographs import simulate_micrographs

    with tempfile.TemporaryDirectory() as tmp:
        cpu0 = _cpu_seconds()
        start = time.perf_counter()
        summary = simulate_micrographs(tmp, n=n, seed=seed, workers=workers, progress=False)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu0
    snr = [m["snr_measured"] for m in summary["micrographs"] if m["snr_measured"] is not None]
    return {
        "task": f"micrographs {n} x {summary['shape'][0]}x{summary['shape'][1]}",
        "workers": workers,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "per_item_s": round(seconds / n, 3),
        "items": n,
        "particles": summary["n_particles"],
        "snr_requested": summary["config"]["snr"],
        "snr_measured_mean": round(float(np.mean(snr)), 4) if snr else None,
        "diameter_px": summary["particle_diameter_px"],
        "with_carbon": sum(m["carbon"] is not None for m in summary["micrographs"]),
        "contaminations": sum(len(m["contaminations"]) for m in summary["micrographs"]),
        "target_s": TARGET_S if n == 40 else None,
    }


def bench_particles(n_per_class: int, classes, snr) -> dict:
    from fewlabel.simulate.particles import simulate_particles

    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    images, labels = simulate_particles(n_per_class, classes=classes, snr=snr, seed=0)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu0
    kind = "views" if classes == "views" else "molecules"
    return {"task": f"particles {kind} 4 x {n_per_class}, box {images.shape[-1]}, SNR {snr}", "workers": 1,
            "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "per_item_s": round(seconds / len(images), 4), "items": len(images)}


def make_figures(out_dir: Path, seed: int = 0) -> list[Path]:
    """README figures: micrograph with its true particles circled, and its power spectrum with
    the analytic CTF zeros drawn on the right half. Uses the first micrograph of the seed's run
    with a carbon edge, a contamination and at least 70 particles (same pixels as `fewlabel simulate micrographs`)."""
    from fewlabel.report.figures import save_figure
    from fewlabel.report.micrograph import plot_micrograph_picks, plot_power_spectrum
    from fewlabel.simulate.ctf import ctf_zeros
    from fewlabel.simulate.density import load_molecule
    from fewlabel.simulate.micrographs import make_config, micrograph_name, micrograph_rng, simulate_micrograph

    config = make_config()
    for index in range(40):
        sim = simulate_micrograph(config, micrograph_rng(seed, index), micrograph_name(index))
        if sim.info["carbon"] is not None and sim.info["contaminations"] and len(sim.truth) >= 70:
            break
    radius = load_molecule(config.molecules[0]).radius / config.pixel_size
    df = sim.ctf.defocus / 1e4
    title = (f"{sim.name} (seed {seed}): {len(sim.truth)} true particles (adk_open, {config.pixel_size} Å/px, "
             f"SNR {config.snr}, defocus {df:.2f} µm)")
    paths = [save_figure(plot_micrograph_picks(sim.image, {"true particles": sim.truth}, radius=radius,
                                               lowpass=1.5, title=title, figsize=8),
                         out_dir / "simulated_micrograph.png")]
    rings = ctf_zeros(sim.ctf, 12, angle=sim.ctf.astigmatism_angle + 45)  # mean-defocus direction
    paths.append(save_figure(plot_power_spectrum(sim.image, config.pixel_size, tile=512, rings=rings,
                                                 max_frequency=0.25,
                                                 title="power spectrum: Thon rings; dashed: analytic CTF zeros"),
                             out_dir / "simulated_power_spectrum.png"))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="micrographs per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--figures", type=Path, default=None, metavar="DIR",
                        help="only write the README figures into DIR (e.g. docs/images) and exit")
    args = parser.parse_args()
    if args.figures is not None:
        for p in make_figures(args.figures):
            print(f"wrote {p}")
        return

    rows = [bench_micrographs(args.n, w) for w in args.workers]
    rows.append(bench_particles(500, ("adk_open", "adk_closed", "1hvr", "5a7u"), 0.1))
    rows.append(bench_particles(500, "views", "clean"))

    header = f"{'task':<46} {'workers':>7} {'wall s':>8} {'CPU s':>8} {'s/item':>8} {'extra':<30}"
    print(header)
    print("-" * len(header))
    for r in rows:
        extra = ""
        if "particles" in r and r["task"].startswith("micrographs"):
            extra = f"{r['particles']} particles, SNR {r['snr_measured_mean']}"
        print(f"{r['task']:<46} {r['workers']:>7} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} "
              f"{r['per_item_s']:>8.3f} {extra:<30}")

    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_simulate.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=2) + "\n")
    lines = ["# Simulator benchmark", "",
             f"Python {env['python']}, {env['cpus']} CPUs visible, OMP_NUM_THREADS={env['omp_num_threads']}, "
             f"{env['time']}, load average at the end {env['load_average_1min_at_end']} (the cores are shared). Target: 40 micrographs of 1024x1024 in under {TARGET_S:.0f} s on 2 cores.", "",
             "| task | workers | wall s | CPU s | wall s/item | particles | SNR requested | SNR measured (mean) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['task']} | {r['workers']} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | "
                     f"{r['per_item_s']:.3f} | "
                     f"{r.get('particles', '')} | {r.get('snr_requested', '')} | {r.get('snr_measured_mean', '')} |")
    lines += ["", "Wall time depends on what else runs on the shared cores; CPU time (user + system, this process "
                  "and its workers) does not. Produced by `benchmarks/bench_simulate.py`. Results do not depend on "
                  "the number of workers (each micrograph has its own random stream)."]
    (RESULTS / "bench_simulate.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'bench_simulate.json'} and {RESULTS / 'bench_simulate.md'}")


if __name__ == "__main__":
    main()
