"""`fewlabel report RUN_DIR`: every figure, small table and command of a run folder on one page."""

import base64
import json

import matplotlib.pyplot as plt

from fewlabel.report.figures import save_figure


def _make_run(tmp_path):
    run = tmp_path / "run"
    (run / "evaluate").mkdir(parents=True)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, run / "evaluate" / "pr_curve.png")
    (run / "evaluate" / "summary.csv").write_text("threshold,precision,recall\n0.5,0.9,0.8\n")
    (run / "evaluate" / "results.md").write_text("# Results\n\n| labels | auprc |\n|---|---|\n| 10 | 0.8475 |\n")
    (run / "big.csv").write_text("a\n" + "\n".join(str(i) for i in range(100)) + "\n")
    (run / "model.pt.json").write_text(json.dumps({"argv": ["/x/bin/fewlabel", "pick", "train", "-o", "m.pt"]}))
    return run


def test_report_embeds_figures_tables_and_commands(tmp_path, cli_runner):
    run = _make_run(tmp_path)
    code, out, err = cli_runner("report", run)
    assert code == 0, err
    page = (run / "report.html").read_text()
    png = (run / "evaluate" / "pr_curve.png").read_bytes()
    assert base64.b64encode(png).decode() in page  # embedded, so the file can be mailed alone
    assert "<h2>evaluate</h2>" in page
    assert "<td>0.9</td>" in page  # the small summary table is shown, 4 significant digits
    assert "<td>0.8475</td>" in page and "| 10 |" not in page  # Markdown tables are rendered, not raw text
    assert "fewlabel pick train -o m.pt" in page  # the command that reproduces the run
    assert "<td>99</td>" not in page  # big data tables are not dumped into the page


def test_report_on_missing_or_empty_dir_is_one_line_error(tmp_path, cli_runner):
    code, _, err = cli_runner("report", tmp_path / "nope")
    assert code == 2 and err.count("\n") == 1 and "run directory not found" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli_runner("report", tmp_path / "empty")
    assert code == 2 and "no figures" in err
