"""Benchmark: fewlabel vs Topaz (topaz-em) on the same micrographs, labels, downsampling and radius.

Topaz is installed into its own venv under benchmarks/work/topaz-venv (gitignored): torch==2.13.0
first (the CPU wheel), then torchvision 0.28.x (it pins that torch) and topaz-em. With the CPU torch
build ``import torchvision`` fails ("operator torchvision::nms does not exist": its compiled ops
are for the CUDA build), so Topaz is started through a tiny launcher that declares the two op
schemas torchvision's fake-tensor registrations need; Topaz itself only uses torchvision's
pure-Python image transforms. Topaz runs as users run it (`topaz preprocess`, `topaz train`,
`topaz extract`) with ``--pi`` passed explicitly (its ``-n`` over-estimates pi ~7x), both with its
bundled pretrained initialisation (default) and ``--no-pretrained``.

Same CPU-time budget: fewlabel trains first (wall time T, reading and preparing its micrographs
included); Topaz then trains with its default minibatches (256 crops, lr 2e-4) for at most T
seconds of wall time (``timeout``), saving a model every ``--topaz-epoch-size`` updates, and
the last saved model is used. Its preprocessing time is reported in train_s on top. Both tools
extract from the test micrographs on disk; picks are scored with fewlabel's evaluator.
crYOLO/Gautomatch/CASSPER picks on the real set are fixed, unscored reference rows
(precision/recall points; their y axis is flipped: y = 4096 - y_star, see SOURCE.md).

    python benchmarks/bench_pick_topaz.py --dataset real --labels 10,100,1000
    python benchmarks/bench_pick_topaz.py --dataset sim --labels 100 --epochs 4 --steps 40  # reduced
    python benchmarks/bench_pick_topaz.py --dataset unseen --labels 10,100 --topaz-inits pretrained --topaz-budget-s 300

``--dataset unseen`` is bench_pick_pretrained.py's protein kept out of the general picker's corpus (same
labeled subsets per seed), so its Topaz rows also appear in bench_pick_pretrained.md beside the general picker's.
Writes benchmarks/results/bench_pick_topaz_<dataset>.{json,md}.
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
from bench_pick_objectives import (REAL, REPO, RESULTS, default_downsample, labeled_subset,  # noqa: E402
                                   markdown_table, real_dataset, run_fewlabel, simulated_dataset)

VENV = REPO / "benchmarks" / "work" / "topaz-venv"
LAUNCHER = """
import sys, torch
try:
    torch.ops.torchvision.nms
except (AttributeError, RuntimeError):  # CPU torch: declare the schemas torchvision's meta registrations expect
    _lib = torch.library.Library("torchvision", "DEF")
    _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
from topaz.main import main
sys.argv[0] = "topaz"
sys.exit(main())
"""


def ensure_topaz() -> list[str]:
    """Create the Topaz venv once; return the command prefix that runs `topaz`."""
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "topaz").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run(pip + ["torch==2.13.0"], check=True)
        subprocess.run(pip + ["torchvision==0.28.*"], check=True)
        subprocess.run(pip + ["topaz-em"], check=True)
    return [str(python), "-c", LAUNCHER]


def run(cmd: list[str], env: dict, timeout: float | None = None, cpu_limit: float | None = None) -> tuple[float, float]:
    """Run a command quietly; return (wall, CPU) seconds it took.

    ``timeout`` (wall) or ``cpu_limit`` (CPU seconds, RLIMIT_CPU: the process gets SIGXCPU) end it;
    neither is an error. CPU is the children's user + system time, all threads.
    """
    import resource
    import signal

    def usage() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def limit() -> None:
        if cpu_limit is not None:
            n = max(1, int(round(cpu_limit)))
            resource.setrlimit(resource.RLIMIT_CPU, (n, n + 10))

    t, c = time.perf_counter(), usage()
    try:
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=timeout, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        pass
    except subprocess.CalledProcessError as exc:
        if not (cpu_limit is not None and exc.returncode in (-signal.SIGXCPU, -signal.SIGKILL)):
            raise RuntimeError(f"{' '.join(cmd[3:6])} failed:\n{exc.stderr.decode()[-2000:]}") from None
    return time.perf_counter() - t, usage() - c


def as_mrc(paths, folder: Path) -> list[Path]:
    """Topaz 0.3.20's preprocess cannot read JPEG (PIL image has no .astype): float32 MRC copies, made once."""
    from fewlabel.io.micrographs import read_micrograph, write_micrograph

    out = []
    for p in paths:
        if p.suffix.lower() in (".mrc", ".mrcs"):
            out.append(p)
            continue
        q = folder / f"{p.stem}.mrc"
        if not q.exists():
            folder.mkdir(parents=True, exist_ok=True)
            write_micrograph(q, read_micrograph(p).image.astype(np.float32))
        out.append(q)
    return out


def preprocess_once(topaz: list[str], paths: list[Path], folder: Path, split: str, downsample: int, threads: int,
                    env: dict) -> tuple[Path, float]:
    """`topaz preprocess` of one split, done once per dataset; returns (folder, its wall time).

    Every row is charged the full preprocessing time, as if it ran it itself.
    """
    out = folder / f"pre_{split}_{downsample}"
    stamp = folder / f"pre_{split}_{downsample}.seconds.json"
    if not stamp.exists():
        if out.exists():
            import shutil

            shutil.rmtree(out)
        t, _ = run(topaz + ["preprocess", "-s", str(downsample), "-j", str(threads), "-o", str(out),
                         *map(str, paths)], env)
        stamp.write_text(json.dumps(t))
    return out, float(json.loads(stamp.read_text()))


def run_topaz(topaz: list[str], work: Path, train_paths, labeled, test_paths, truth, *, radius, particle_radius,
              downsample, pi, budget_s, epoch_size, pretrained: bool, threads: int, budget: str = "cpu") -> dict:
    """topaz preprocess/train (for at most ``budget_s``)/extract; picks (original px) scored by fewlabel.

    ``budget``: "cpu" limits training to ``budget_s`` CPU seconds (RLIMIT_CPU; fair on a shared,
    loaded machine), "wall" to ``budget_s`` seconds of wall time (the first protocol).
    """
    import shutil

    from fewlabel.io.picks import read_picks
    from fewlabel.pick import data, metrics

    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    pre_tr, t_pre = preprocess_once(topaz, as_mrc(train_paths, work.parent / "mrc"), work.parent, "train",
                                    downsample, threads, env)
    # Topaz reads coordinates by extension (.txt = its tab-separated coord format), integer pixels
    lab = data.to_downsampled(labeled, downsample)
    targets = work / "targets.txt"
    lab.assign(x_coord=lab.x_coord.round().astype(int), y_coord=lab.y_coord.round().astype(int))[
        ["image_name", "x_coord", "y_coord"]].to_csv(targets, sep="\t", index=False)
    prefix = work / "model"
    cmd = topaz + ["train", "--train-images", str(pre_tr), "--train-targets", str(targets),
                   "--radius", f"{int(round(radius / downsample))}", "--pi", f"{pi:.6g}", "--method", "GE-binomial",
                   "--model", "resnet8", "--num-epochs", "1000", "--epoch-size", str(epoch_size),
                   "--device", "-1", "--num-workers", "0", "--num-threads", str(threads),
                   "--save-prefix", str(prefix), "-o", str(work / "train_log.txt")]
    if not pretrained:
        cmd.append("--no-pretrained")
    if budget == "cpu":
        t_train, c_train = run(cmd, env, cpu_limit=budget_s)
    else:
        t_train, c_train = run(cmd, env, timeout=budget_s)
    saved = sorted(work.glob("model_epoch*.sav"), key=lambda p: int(p.stem.split("epoch")[-1]))
    if not saved:
        return {"auprc": float("nan"), "auprc_strict": float("nan"), "train_s": t_pre + t_train, "extract_s": 0.0,
                "train_cpu_s": c_train, "extract_cpu_s": float("nan"), "preprocess_s": t_pre, "topaz_updates": 0,
                "n_picks": 0, "budget": budget}
    updates = int(saved[-1].stem.split("epoch")[-1]) * epoch_size
    pre_te, t_pre_te = preprocess_once(topaz, as_mrc(test_paths, work.parent / "mrc"), work.parent, "test",
                                       downsample, threads, env)
    t1 = time.perf_counter()
    out = work / "picks.txt"
    _, c_ext = run(topaz + ["extract", "-m", str(saved[-1]), "-r", f"{int(round(particle_radius / downsample))}",
                 "-x", str(downsample), "--device", "-1", "-j", str(threads), "-o", str(out),
                 *map(str, sorted(pre_te.glob("*.mrc")))], env)
    t_ext = time.perf_counter() - t1 + t_pre_te
    picks = read_picks(out)
    curve = metrics.evaluate_picks(picks, truth, particle_radius)
    strict = metrics.evaluate_picks(picks, truth, particle_radius / 2)
    return {"auprc": curve.auprc, "auprc_strict": strict.auprc, "train_s": t_pre + t_train, "extract_s": t_ext,
            "train_cpu_s": c_train, "extract_cpu_s": c_ext, "preprocess_s": t_pre, "preprocess_test_s": t_pre_te,
            "topaz_updates": updates, "n_picks": curve.n_picks, "budget": budget}


def run_fewlabel_cli(work: Path, train_paths, labeled, test_paths, truth, *, radius, particle_radius, expected,
                     seed, threads, pretrained: bool = True) -> dict:
    """`fewlabel pick train` + `fewlabel pick extract` with their defaults, as a user runs them.

    Subprocesses on the micrograph files, timed like Topaz (wall and the children's CPU seconds, reading included):
    the general picker's start and working scale, 10 x 100 minibatches, pick train's hold-out rule, tta scoring.
    ``pretrained=False`` adds ``--no-pretrained`` (random weights, pick train's scratch downsampling).
    """
    import shutil

    from fewlabel.io.picks import read_picks, write_picks
    from fewlabel.pick import metrics

    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    if work.exists():
        shutil.rmtree(work)
    for split, paths in (("train", train_paths), ("test", test_paths)):
        (work / split).mkdir(parents=True)
        for p in paths:
            (work / split / p.name).symlink_to(Path(p).resolve())
    write_picks(labeled, work / "labels.tsv")
    fewlabel = [str(Path(sys.executable).with_name("fewlabel"))]
    model, out = work / "model.pt", work / "picks.tsv"
    t_train, c_train = run(fewlabel + ["pick", "train", "--micrographs", str(work / "train"), "--picks",
                                       str(work / "labels.tsv"), "--radius", f"{radius:g}", "--expected",
                                       f"{expected:g}", "--seed", str(seed), "--device", "cpu", "-o", str(model)]
                       + ([] if pretrained else ["--no-pretrained"]), env)
    t_ext, c_ext = run(fewlabel + ["pick", "extract", "--model", str(model), "--micrographs", str(work / "test"),
                                   "--device", "cpu", "-o", str(out)], env)
    config = json.loads(Path(f"{model}.json").read_text()).get("config", {})
    picks = read_picks(out)
    curve = metrics.evaluate_picks(picks, truth, particle_radius)
    strict = metrics.evaluate_picks(picks, truth, particle_radius / 2)
    return {"auprc": curve.auprc, "auprc_strict": strict.auprc, "train_s": t_train, "extract_s": t_ext,
            "train_cpu_s": c_train, "extract_cpu_s": c_ext, "n_picks": curve.n_picks,
            "fewlabel_downsample": config.get("downsample"), "fewlabel_init": config.get("init")}


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
        picks = pd.concat(tables)
        curve = metrics.evaluate_picks(picks, truth, radius)
        strict = metrics.evaluate_picks(picks, truth, radius / 2)
        p, r = float(curve.precision[0]), float(curve.recall[0])
        rows.append({"tool": tool, "micrographs": len(tables), "precision": p, "recall": r,
                     "f1": 2 * p * r / (p + r) if p + r else 0.0, "precision_strict": float(strict.precision[0]),
                     "recall_strict": float(strict.recall[0]), "n_picks": curve.n_picks})
    return rows


def target_table(df: pd.DataFrame) -> pd.DataFrame:
    """For each Topaz row: fewlabel's AUPRC and (train + extract) time over Topaz's, same labels and seed."""
    out = []
    few = df[df["tool"].str.startswith("fewlabel")]
    for _, t in df[df["tool"].str.startswith("topaz")].iterrows():
        f = few[(few["labels"] == t["labels"]) & (few["seed"] == t["seed"])]
        if f.empty:
            continue
        f = f.iloc[0]
        ratio = (f["train_s"] + f["extract_s"]) / (t["train_s"] + t["extract_s"])
        cpu_ratio = ((f.get("train_cpu_s", np.nan) + f.get("extract_cpu_s", np.nan))
                     / (t.get("train_cpu_s", np.nan) + t.get("extract_cpu_s", np.nan)))
        out.append({"labels": t["labels"], "seed": t["seed"], "vs": t["tool"], "auprc_fewlabel": f["auprc"],
                    "auprc_topaz": t["auprc"], "auprc_target_met": bool(f["auprc"] >= t["auprc"]),
                    "time_fewlabel_s": f["train_s"] + f["extract_s"], "time_topaz_s": t["train_s"] + t["extract_s"],
                    "time_ratio": ratio, "time_target_met": bool(ratio <= 0.5 and f["auprc"] >= t["auprc"]),
                    "cpu_ratio_no_preprocess": cpu_ratio})
    return pd.DataFrame(out, columns=["labels", "seed", "vs", "auprc_fewlabel", "auprc_topaz", "auprc_target_met",
                                      "time_fewlabel_s", "time_topaz_s", "time_ratio", "time_target_met",
                                      "cpu_ratio_no_preprocess"])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="real", choices=["real", "sim", "unseen"],
                    help="real: EMPIAR-10017; sim: simulator defaults (adk_open, in the general picker's corpus); "
                         "unseen: HIV-1 protease 4E43, kept out of the corpus (bench_pick_pretrained's set)")
    ap.add_argument("--labels", default="10,100,1000")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=10, help="fewlabel epochs")
    ap.add_argument("--steps", type=int, default=100, help="fewlabel minibatches per epoch")
    ap.add_argument("--topaz-epoch-size", type=int, default=10, help="Topaz updates between saved models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", choices=["cpu", "wall"], default="cpu",
                    help="Topaz trains for fewlabel's training CPU time (default) or wall time")
    ap.add_argument("--skip-topaz", action="store_true", help="only fewlabel and the reference pickers")
    ap.add_argument("--fewlabel", choices=["bench", "defaults", "defaults-scratch"], default="bench",
                    help="bench: GE-binomial resnet8 from random weights, --epochs x --steps, 20 %% hold-out, at "
                         "Topaz's downsampling (the first protocol); defaults: `fewlabel pick train` + `pick extract` "
                         "as a user runs them (general picker, its working scale, 10 x 100, tta), Topaz trained for "
                         "the same CPU seconds as that training (results in bench_pick_topaz_<dataset>_defaults*); "
                         "defaults-scratch: the same with `pick train --no-pretrained` (for --dataset sim, whose "
                         "protein is in the general picker's corpus)")
    ap.add_argument("--topaz-budget-s", type=float, default=None,
                    help="Topaz training budget (s, CPU or wall per --budget) instead of fewlabel's training time; "
                         "rows get tool 'topaz ... (budget S s)'")
    ap.add_argument("--topaz-budget-factor", type=float, default=1.0,
                    help="train Topaz for this multiple of fewlabel's training time (2: if fewlabel still matches "
                         "Topaz, Topaz needs more than twice fewlabel's training time to reach its AUPRC)")
    ap.add_argument("--topaz-inits", default="pretrained,scratch", help="which Topaz initialisations to run")
    ap.add_argument("--downsample", type=int, default=None,
                    help="factor for both tools instead of round(radius / 3); results go to ..._ds<F>.{json,md}")
    ap.add_argument("--sim-train", type=int, default=16)
    ap.add_argument("--sim-test", type=int, default=6)
    ap.add_argument("--work", default=str(REPO / "benchmarks" / "work"))
    args = ap.parse_args(argv)
    import torch

    from fewlabel.atomic import write_text_atomic

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    if args.dataset == "real":
        ds = real_dataset()
    elif args.dataset == "unseen":
        from bench_pick_pretrained import unseen_dataset

        ds = unseen_dataset(work, 10, 5, 1024, [10, 100])
    else:
        ds = simulated_dataset(work, args.sim_train, args.sim_test, 1024, 0, [10, 100, 1000])
    if ds is None:
        sys.exit(f"real data not found at {REAL}")
    pr = ds["particle_radius"]
    radius = pr / 2
    downsample = args.downsample or default_downsample(radius)
    topaz = None if args.skip_topaz else ensure_topaz()
    refs = reference_pickers(ds["truth"], {p.stem for p in ds["test_paths"]}, pr) if args.dataset == "real" else []
    cli = args.fewlabel.startswith("defaults")
    stem = RESULTS / (f"bench_pick_topaz_{args.dataset}" + (f"_{args.fewlabel.replace('-', '_')}" if cli else "")
                      + (f"_ds{downsample}" if args.downsample else ""))
    rows: list[dict] = []  # every row of earlier invocations is kept; a row run now replaces its namesake
    previous = []  # fewlabel rows of an earlier run with the same schedule are reused (resume)
    if stem.with_suffix(".json").exists():
        old = json.loads(stem.with_suffix(".json").read_text())
        for r in old["runs"]:  # rows written before these keys existed carry their file's config
            for k in ("epochs", "steps", "threads"):
                r.setdefault(k, old["config"].get(k))
            r.setdefault("command", old["config"].get("command", "python benchmarks/bench_pick_topaz.py --dataset "
                                                      f"{args.dataset} --labels {old['config'].get('labels')} "
                                                      f"--epochs {old['config'].get('epochs')} --steps "
                                                      f"{old['config'].get('steps')} --threads "
                                                      f"{old['config'].get('threads')}"))
        rows = list(old["runs"])
        previous = [r for r in rows if r["tool"].startswith("fewlabel")
                    and all(r.get(k) == getattr(args, k) for k in (("threads",) if cli else ("epochs", "steps",
                                                                                             "threads")))
                    and (args.budget == "wall" or "train_cpu_s" in r)]
    command = f"python benchmarks/bench_pick_topaz.py {' '.join(sys.argv[1:] if argv is None else argv)}"

    def put(row: dict, fresh: bool = True) -> None:
        """Add ``row`` (with this run's schedule and machine load if ``fresh``), replacing an older row of its key."""
        if fresh:
            row = {**row, "epochs": args.epochs, "steps": args.steps, "threads": args.threads, "command": command,
                   "topaz_epoch_size": args.topaz_epoch_size,
                   "loadavg_1m_5m_15m": [round(v, 2) for v in os.getloadavg()]}
        key = (row["tool"], row["labels"], row["seed"])
        rows[:] = [r for r in rows if (r["tool"], r["labels"], r["seed"]) != key] + [row]

    def write() -> None:
        df = pd.DataFrame(rows).sort_values(["labels", "seed"], kind="stable")
        write_text_atomic(stem.with_suffix(".json"), json.dumps(
            {"config": {**vars(args), "command": command}, "loadavg_1m_5m_15m_at_write": list(os.getloadavg()),
             "runs": rows, "reference": refs}, indent=2, default=float) + "\n")
        shown = df.assign(load=[r[0] if isinstance(r, list) else np.nan
                                for r in df.get("loadavg_1m_5m_15m", [np.nan] * len(df))])
        md = [f"# {stem.name}", "", "Commands (each row carries its own, with its thread count and the machine's "
              "load average when it finished, in the JSON):", ""]
        md += [f"- `{c}`" for c in dict.fromkeys(df["command"])]
        md += ["", f"{ds['name']}: train {', '.join(p.stem for p in ds['train_paths'])}; test "
               f"{', '.join(p.stem for p in ds['test_paths'])}.", "",
               (f"fewlabel as a user runs it: `fewlabel pick train --radius {radius:g} --expected "
                f"{ds['expected']:.1f} --seed S" + ("` " if args.fewlabel == "defaults" else " --no-pretrained` ")
                + "and `fewlabel pick extract` on the micrograph files, every other option at its default ("
                + ("the shipped general picker as the start, micrographs downsampled to its working scale"
                   if args.fewlabel == "defaults" else "random starting weights, micrographs downsampled so the "
                   "positive radius is ~3 px") + " (fewlabel_downsample), 10 x 100 minibatches, a validation hold-out "
                "only from 200 "
                "labels, extraction averaged over 8 rotations/mirrors); subprocess wall and CPU seconds, reading "
                f"included. Topaz: pretrained (its bundled weights; rows 'topaz scratch': --no-pretrained), "
                f"downsample {downsample}, --pi from the same "
                "expected count, GE-binomial, resnet8, its defaults otherwise (256-crop minibatches, lr 2e-4, 32 "
                "units), trained for the CPU seconds fewlabel's training took (RLIMIT_CPU), or those its tool name "
                "says (`--topaz-budget-s`); topaz_updates = updates it reached; its own default schedule (10 x 1000 "
                "updates) was NOT run. Both at the same thread count. " if cli else
                f"Both tools: downsample {downsample}, positive radius {radius:g} px (original), NMS radius {pr:g} "
                f"px, pi from {ds['expected']:.1f} expected particles per micrograph (passed to Topaz as --pi), "
                "GE-binomial, resnet8, the same thread count within a label count. fewlabel: epochs x steps "
                "minibatches as in the columns (defaults otherwise). Topaz: its defaults (256-crop minibatches, lr "
                "2e-4, 32 units) for the same wall time as fewlabel's training, or the CPU seconds its tool name says "
                "(`--topaz-budget-s`; topaz_updates = updates it reached; its own "
                "default schedule, 10 x 1000 updates, was NOT run). ") + "auprc: match radius = particle radius; "
               "auprc_strict: half of it. train_s includes reading/preprocessing the training micrographs; "
               "extract_s includes reading/preprocessing the test ones. The machine is shared: load = 1-minute "
               "load average when the row finished (2 cores).", "",
               markdown_table(shown[[c for c in ("tool", "labels", "seed", "auprc", "auprc_strict", "train_s",
                                                 "extract_s", "train_cpu_s", "extract_cpu_s", "fewlabel_downsample",
                                                 "topaz_updates",
                                                 "budget", "threads", "load") if c in shown]],
                              index=False)]
        md += ["", "Targets per label count (fewlabel vs each Topaz run of the same labels and seed): AUPRC >= Topaz's, "
               "and fewlabel train + extract wall time <= 0.5 x Topaz's at equal or better AUPRC.", "",
               markdown_table(target_table(df), index=False)]
        notes = stem.with_suffix(".notes.md")  # hand-written closing note on the targets, kept across runs
        if notes.exists():
            md += ["", "## Closing note", "", notes.read_text().strip()]
        if refs:
            md += ["", "Reference pickers on the test micrographs (no scores: one precision/recall point each; "
                   f"match radius {pr:g} px)", "", markdown_table(pd.DataFrame(refs), index=False)]
        write_text_atomic(stem.with_suffix(".md"), "\n".join(md) + "\n")
        print("\n".join(md[-12:]), flush=True)

    for n in [int(v) for v in args.labels.split(",")]:
        for seed in [int(v) for v in args.seeds.split(",")]:
            labeled = labeled_subset(ds["truth_train"], n, seed)
            done = [r for r in previous if r["labels"] == len(labeled) and r["seed"] == seed]
            if done:
                res = {k: v for k, v in done[0].items() if k not in ("tool", "labels", "seed")}
                print(f"reusing the fewlabel run for {len(labeled)} labels, seed {seed}", flush=True)
            elif cli:
                from fewlabel.io.micrographs import read_micrograph_shape
                from fewlabel.pick.sampling import estimate_pi

                res = run_fewlabel_cli(work / "fewlabel_cli" / f"{args.dataset}_{args.fewlabel}" / f"{n}_{seed}",
                                       ds["train_paths"],
                                       labeled, ds["test_paths"], ds["truth"], radius=radius, particle_radius=pr,
                                       expected=ds["expected"], seed=seed, threads=args.threads,
                                       pretrained=args.fewlabel == "defaults")
                rows_, cols_ = read_micrograph_shape(ds["train_paths"][0])[:2]  # pi at Topaz's downsampling
                res["pi"] = estimate_pi(ds["expected"], radius / downsample,
                                        (int(rows_ // downsample), int(cols_ // downsample)))
            else:
                res = run_fewlabel(ds["train_paths"], labeled, ds["test_paths"], ds["truth"], radius=radius,
                                   particle_radius=pr, downsample=downsample, expected=ds["expected"],
                                   objective="ge-binomial", autoencoder=0.0, model="resnet8", epochs=args.epochs,
                                   steps=args.steps, seed=seed, from_files=True)
            put({"tool": "fewlabel defaults" if cli else "fewlabel ge-binomial", "labels": len(labeled),
                 "seed": seed, **res}, fresh=not done)
            write()
            if topaz is None:
                continue
            for pretrained in [init == "pretrained" for init in args.topaz_inits.split(",")]:
                tool = f"topaz {'pretrained' if pretrained else 'scratch'}" + (
                    f" (budget {args.topaz_budget_s:g} s)" if args.topaz_budget_s
                    else f" ({args.topaz_budget_factor:g}x fewlabel's time)" if args.topaz_budget_factor != 1 else "")
                if any((r["tool"], r["labels"], r["seed"], r.get("threads"), r.get("budget", "wall"))
                       == (tool, len(labeled), seed, args.threads, args.budget) for r in rows):
                    print(f"keeping the {tool} row for {len(labeled)} labels, seed {seed}", flush=True)
                    continue
                w = work / "topaz" / args.dataset / (f"{n}_{seed}_{'pre' if pretrained else 'scratch'}"
                                                     + (f"_ds{downsample}" if args.downsample else "")
                                                     + (f"_b{args.topaz_budget_s:g}" if args.topaz_budget_s else "")
                                                     + (f"_x{args.topaz_budget_factor:g}"
                                                        if args.topaz_budget_factor != 1 else ""))
                tres = run_topaz(topaz, w, ds["train_paths"], labeled, ds["test_paths"], ds["truth"], radius=radius,
                                 particle_radius=pr, downsample=downsample, pi=res["pi"],
                                 budget_s=args.topaz_budget_s or args.topaz_budget_factor * res[
                                     "train_cpu_s" if args.budget == "cpu" else "train_s"],
                                 epoch_size=args.topaz_epoch_size, pretrained=pretrained, threads=args.threads,
                                 budget=args.budget)
                put({"tool": tool, "labels": len(labeled), "seed": seed, **tres})
                write()
    write()


if __name__ == "__main__":
    main()
