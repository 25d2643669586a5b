"""Experiment: `fewlabel pick train` + `pick extract` with today's defaults, against the same cells measured earlier.

Re-runs only the fewlabel side of `bench_pick_topaz.py --fewlabel defaults` (same label draws, same subprocess
protocol, `bench_pick_topaz.run_fewlabel_cli`), so a change to `pick train`'s defaults can be read against the
fewlabel rows already in `bench_pick_topaz_<dataset>_defaults*.json` without re-running Topaz. Writes
`benchmarks/results/fewlabel_cli_defaults_<dataset>.{json,md}`.

    python benchmarks/exp/fewlabel_cli_defaults.py --dataset real --labels 10 --seeds 0,1 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))
from bench_pick_objectives import RESULTS, labeled_subset, real_dataset  # noqa: E402
from bench_pick_topaz import run_fewlabel_cli  # noqa: E402

EARLIER = {"real": "bench_pick_topaz_real_defaults_ds8.json", "unseen": "bench_pick_topaz_unseen_defaults.json"}


def earlier_rows(dataset: str) -> dict[tuple[int, int], float]:
    """(labels, seed) -> AUPRC of the fewlabel rows in the Topaz comparison's results file."""
    path = RESULTS / EARLIER[dataset]
    if not path.exists():
        return {}
    rows = json.loads(path.read_text())["runs"]
    return {(r["labels"], r["seed"]): r["auprc"] for r in rows if r["tool"].startswith("fewlabel")}


def main(argv=None) -> None:
    from fewlabel.atomic import write_text_atomic

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=sorted(EARLIER), default="real")
    ap.add_argument("--labels", default="10")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default=str(BENCH / "work"))
    args = ap.parse_args(argv)
    work = Path(args.work)
    if args.dataset == "real":
        ds = real_dataset()
        if ds is None:
            raise SystemExit("EMPIAR-10017 not found (../shared/data)")
    else:
        from bench_pick_pretrained import unseen_dataset

        ds = unseen_dataset(work, 10, 5, 1024, [10, 100])
    pr = ds["particle_radius"]
    before = earlier_rows(args.dataset)
    stem = RESULTS / f"fewlabel_cli_defaults_{args.dataset}"
    command = "python benchmarks/exp/fewlabel_cli_defaults.py " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = []
    for n in [int(v) for v in args.labels.split(",")]:
        for seed in [int(v) for v in args.seeds.split(",")]:
            labeled = labeled_subset(ds["truth_train"], n, seed)
            res = run_fewlabel_cli(work / "fewlabel_cli_now" / f"{args.dataset}_{n}_{seed}", ds["train_paths"],
                                   labeled, ds["test_paths"], ds["truth"], radius=pr / 2, particle_radius=pr,
                                   expected=ds["expected"], seed=seed, threads=args.threads)
            rows.append({"labels": len(labeled), "seed": seed, **res, "earlier_auprc": before.get((len(labeled), seed)),
                         "load": round(os.getloadavg()[0], 2)})
            print(f"{args.dataset} {len(labeled)} labels seed {seed}: AUPRC {res['auprc']:.3f} "
                  f"(earlier defaults {before.get((len(labeled), seed), float('nan')):.3f}), "
                  f"train {res['train_cpu_s']:.0f} CPU-s", flush=True)
    write_text_atomic(stem.with_suffix(".json"), json.dumps({"command": command, "runs": rows}, indent=2,
                                                            default=float) + "\n")
    md = [f"# {stem.name}", "", f"`{command}` (1 thread per subprocess). fewlabel as a user runs it "
          "(`pick train` + `pick extract`, every default), the fewlabel side of `bench_pick_topaz.py --fewlabel "
          f"defaults` re-run with today's defaults; 'earlier' is the same cell in {EARLIER[args.dataset]}.", "",
          "| labels | seed | AUPRC now | AUPRC earlier | train CPU-s | extract CPU-s |", "|---|---|---|---|---|---|"]
    md += [f"| {r['labels']} | {r['seed']} | {r['auprc']:.3f} | "
           + ("–" if r["earlier_auprc"] is None else f"{r['earlier_auprc']:.3f}")
           + f" | {r['train_cpu_s']:.0f} | {r['extract_cpu_s']:.0f} |" for r in rows]
    write_text_atomic(stem.with_suffix(".md"), "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
