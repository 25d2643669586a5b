"""The fewlabel demo: the main job end to end, run through the public CLI commands.

Every step is a ``fewlabel ...`` command line executed in-process, so the demo has no code path
of its own, and the report lists exactly the commands that reproduce it on a user's data.
Data are simulated from the atomic model vendored in the package: nothing outside the package
is needed.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Step:
    """One demo step: a title, the fewlabel arguments, and what it printed."""

    title: str
    args: list[str]
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)

    @property
    def command(self) -> str:
        return shlex.join(["fewlabel", *self.args])

    @property
    def summary(self) -> str:
        lines = [ln for ln in self.output if ln.strip()]
        return lines[-1] if lines else ""


class _Tee(io.TextIOBase):
    """Write to the real stream and keep a copy (for the per-step one-line summary)."""

    def __init__(self, stream):
        self.stream, self.copy = stream, io.StringIO()

    def write(self, s: str) -> int:
        self.stream.write(s)
        self.copy.write(s)
        return len(s)

    def flush(self) -> None:
        self.stream.flush()


def run_step(step: Step, index: int, total: int) -> Step:
    """Run ``fewlabel <step.args>`` in-process; raise SystemExit with its code if it fails."""
    from fewlabel.cli.main import cli

    print(f"\n[{index}/{total}] {step.title}\n$ {step.command}", flush=True)
    tee = _Tee(sys.stdout)
    start = time.perf_counter()
    with contextlib.redirect_stdout(tee):
        try:
            cli.main(args=step.args, prog_name="fewlabel", standalone_mode=False)
        except SystemExit as exc:  # InputError and friends exit through sys.exit
            if exc.code not in (0, None):
                raise
    step.seconds = time.perf_counter() - start
    step.output = tee.copy.getvalue().splitlines()
    print(f"[{index}/{total}] done in {step.seconds:.1f} s: {step.summary}", flush=True)
    return step


def plan(out: Path, quick: bool, seed: int) -> list[Step]:
    """The demo's command lines. ``quick`` shrinks data and training for a smoke run."""
    data, pick, cls, vox = out / "data", out / "pick", out / "classify2d", out / "voxel"
    n_train, n_test, shape = (4, 2, "512") if quick else (8, 4, "1024")
    epochs, steps = ("2", "20") if quick else ("6", "60")
    mics_train, mics_test = data / "train" / "micrographs", data / "test" / "micrographs"
    # Particle diameter of the vendored adk_open model at 1.25 Å/px is ~59 px: label radius 15 px
    # (Topaz-style positive disk), particle radius 30 px for NMS and matching.
    s = str
    return [
        Step("simulate training micrographs (adenylate kinase, SNR 0.05)",
             ["simulate", "micrographs", "-o", s(data / "train"), "--n", s(n_train), "--shape", shape, shape,
              "--seed", s(seed), "--labeled", "10,100"]),
        Step("simulate test micrographs (never seen in training)",
             ["simulate", "micrographs", "-o", s(data / "test"), "--n", s(n_test), "--shape", shape, shape,
              "--seed", s(seed + 1), "--labeled", "10"]),
        Step("train a GE-binomial picker from 100 labeled particles (starting from the shipped general picker)",
             ["pick", "train", "--micrographs", s(mics_train), "--picks", s(data / "train" / "labeled_100.tsv"),
              "--radius", "15", "--particle-radius", "30", "--expected", "80", "--objective", "ge-binomial",
              "--epochs", epochs, "--steps-per-epoch", steps, "--seed", s(seed), "-o", s(pick / "model.pt")]),
        Step("pick every particle of the test micrographs, with scores",
             ["pick", "extract", "--model", s(pick / "model.pt"), "--micrographs", s(mics_test),
              "-o", s(pick / "picks.star"), "--score-maps", s(pick / "score_maps")]),
        Step("precision-recall against the true particles",
             ["pick", "evaluate", "--picks", s(pick / "picks.star"), "--truth", s(data / "test" / "truth.tsv"),
              "--radius", "15", "--plot", s(pick / "pr_curve.png"), "--overlay", s(pick / "overlays"),
              "--micrographs", s(mics_test), "--overlay-max", "2"]),
        Step("extract the picked particles (score >= 0, i.e. probability >= 0.5)",
             ["particles", "extract", "--micrographs", s(mics_test), "--picks", s(pick / "picks.star"),
              "--box", "64", "--downsample", "2", "--min-score", "0", "-o", s(cls / "particles.mrcs")]),
        Step("learn a rotation-invariant embedding, self-supervised (no labels)",
             ["classify2d", "train", "--particles", s(cls / "particles.mrcs"), "--epochs", "3" if quick else "8",
              "--dim", "64", "--size", "16", "--width", "16", "--seed", s(seed), "-o", s(cls / "model.pt")]),
        Step("embed the particles",
             ["classify2d", "embed", "--model", s(cls / "model.pt"), "--particles", s(cls / "particles.mrcs"),
              "-o", s(cls / "embeddings.npy")]),
        Step("k-means with the elbow's suggested k",
             ["classify2d", "cluster", "--embeddings", s(cls / "embeddings.npy"), "--k", "auto", "--k-max", "8",
              "--seed", s(seed), "-o", s(cls / "clusters.csv")]),
        Step("2D classes: class averages, t-SNE map, elbow plot",
             ["classify2d", "report", "--particles", s(cls / "particles.mrcs"), "--embeddings",
              s(cls / "embeddings.npy"), "--clusters", s(cls / "clusters.csv"), "--seed", s(seed),
              "-o", s(cls / "report")]),
        Step("3D voxel classification: Geometries and simulated clathrin coats (PCA features + SVM)",
             ["voxel", "experiment", "--dataset", "geometries", "--dataset", "clathrin", "--method", "pca",
              "--labeled", "70" if quick else "100", "--unlabeled", "60" if quick else "200",
              "--test", "60" if quick else "150", "--curve-points", "1" if quick else "3",
              "--size", "20" if quick else "24", "-o", s(vox)]),
    ]


def _figures(folder: Path, names: list[str]) -> list[tuple[Path, str]]:
    return [(folder / n, n.rsplit(".", 1)[0].replace("_", " ")) for n in names if (folder / n).is_file()]


def build_report(out: Path, steps: list[Step], total_seconds: float) -> Path:
    """demo-output/report.html: every figure of the run, the timings and the commands."""
    from fewlabel.report.html import Section, write_report

    pick, cls, vox = out / "pick", out / "classify2d", out / "voxel"
    evaluate = next((st for st in steps if st.args[:2] == ["pick", "evaluate"]), None)
    overlays = sorted((pick / "overlays").glob("*.png"))[:2]
    timing = pd.DataFrame({"step": [st.title for st in steps], "seconds": [round(st.seconds, 1) for st in steps],
                           "result": [st.summary for st in steps]})
    sections = [
        Section("What ran", f"The whole demo took {total_seconds:.0f} s. Each step is one fewlabel command; run "
                "the same commands on your own micrographs and labels.", tables=[(timing, "")]),
        Section("Particle picking: true and predicted picks",
                "Test micrographs the picker never saw; blue: true particles, red: picks at the best-F1 threshold.",
                figures=[(p, p.stem) for p in overlays],
                commands=[st.command for st in steps if st.args[0] in ("simulate", "pick") and st.args[1] != "evaluate"]),
        Section("Precision-recall", evaluate.summary if evaluate else "",
                figures=_figures(pick, ["pr_curve.png", "model.training.png"]) +
                [(p, p.stem + " score map") for p in sorted((pick / "score_maps").glob("*.png"))[:1]],
                commands=[evaluate.command] if evaluate else []),
        Section("2D classification of the picked particles",
                "Self-supervised triplet embeddings (positives are augmented views of the same particle), k-means "
                "with the elbow's suggested k, class averages aligned in-plane before averaging.",
                figures=_figures(cls / "report", ["class_averages.png", "tsne_clusters.png", "elbow.png",
                                                  "similarity.png"]),
                commands=[st.command for st in steps if st.args[0] in ("particles", "classify2d")]),
    ]
    results = vox / "results.csv"
    tables = []
    if results.is_file():
        df = pd.read_csv(results)
        df["accuracy (%)"] = (100 * df["accuracy"]).round(1)
        tables = [(df[["dataset", "method", "n_labeled", "n_unlabeled", "accuracy (%)"]],
                   "Test accuracy against the number of unlabeled grids used to fit the features")]
    sections.append(Section("3D voxel classification",
                            "Featurizer fit on labeled + unlabeled grids, SVM trained on the labeled ones only.",
                            tables=tables,
                            figures=_figures(vox, ["accuracy_vs_unlabeled.png", "geometries_examples.png",
                                                   "clathrin_examples.png"]),
                            commands=[st.command for st in steps if st.args[0] == "voxel"]))
    return write_report(out / "report.html", "fewlabel demo", sections,
                        meta=f"fewlabel demo, {time.strftime('%Y-%m-%d %H:%M')}, {total_seconds:.0f} s")


def run_demo(out: str | Path = "demo-output", quick: bool = False, seed: int = 0) -> Path:
    """Run every step into ``out`` and write ``out/report.html``; return the report path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = plan(out, quick, seed)
    start = time.perf_counter()
    for i, step in enumerate(steps, 1):
        run_step(step, i, len(steps))
    total = time.perf_counter() - start
    (out / "demo_steps.json").write_text(json.dumps(
        [{"title": st.title, "command": st.command, "seconds": st.seconds, "summary": st.summary} for st in steps],
        indent=2) + "\n")
    report = build_report(out, steps, total)
    print(f"\ndemo finished in {total:.0f} s; open {report}")
    return report
