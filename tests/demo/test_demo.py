"""The demo is a list of real fewlabel command lines: they must parse, and the report must show their outputs."""

import click
import matplotlib.pyplot as plt
import pytest

from fewlabel.cli.main import cli
from fewlabel.demo import Step, build_report, plan
from fewlabel.report.figures import save_figure


def _resolve(args):
    """Walk the CLI groups to the leaf command and parse its options (no execution)."""
    ctx = cli.make_context("fewlabel", list(args), resilient_parsing=False)
    command, rest = cli, list(args)
    while isinstance(command, click.Group):
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)
    return command, ctx


@pytest.mark.parametrize("quick", [False, True])
def test_every_demo_step_is_a_valid_fewlabel_command(tmp_path, quick):
    steps = plan(tmp_path, quick=quick, seed=3)
    # Earlier steps create what later ones read; stand-ins let click check paths without running anything.
    for step in steps:
        for arg in step.args:
            if arg.startswith(str(tmp_path)):
                path = tmp_path.joinpath(arg[len(str(tmp_path)) + 1:])
                if path.suffix:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
                else:
                    path.mkdir(parents=True, exist_ok=True)
    assert [s.args[0] for s in steps][:3] == ["simulate", "simulate", "pick"]
    for step in steps:
        command, ctx = _resolve(step.args)
        assert isinstance(command, click.Command) and not isinstance(command, click.Group)
        assert step.command.startswith("fewlabel ")
    train = next(s for s in steps if s.args[:2] == ["pick", "train"])
    assert train.args[train.args.index("--objective") + 1] == "ge-binomial"
    assert "labeled_100.tsv" in train.args[train.args.index("--picks") + 1]


def test_report_shows_each_steps_figures_and_commands(tmp_path):
    out = tmp_path / "demo"
    for rel in ["pick/overlays/mic_0000.png", "pick/pr_curve.png", "classify2d/report/class_averages.png",
                "voxel/accuracy_vs_unlabeled.png"]:
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        save_figure(fig, out / rel)
    (out / "voxel" / "accuracy.md").write_text("| dataset | accuracy |\n|---|---|\n| geometries | 99 |\n")
    steps = plan(out, quick=True, seed=0)
    for st in steps:
        st.output = ["auprc=0.9000 precision=1" if st.args[:2] == ["pick", "evaluate"] else "done"]
        st.seconds = 1.0
    html = build_report(out, steps, total_seconds=11).read_text()
    assert html.count("<img") == 4
    assert "auprc=0.9000" in html
    assert "fewlabel pick train" in html and "fewlabel voxel experiment" in html
    assert "took 11 s" in html


def test_step_summary_is_last_printed_line():
    step = Step("x", ["report", "."], output=["first", "", "wrote report.html", ""])
    assert step.summary == "wrote report.html"
    assert step.command == "fewlabel report ."
