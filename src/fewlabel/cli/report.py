"""Build a one-file HTML report (figures embedded) for any fewlabel run directory.

Examples:

    fewlabel report runs/betagal            # writes runs/betagal/report.html
    fewlabel report runs/betagal -o ~/betagal-report.html
"""

from __future__ import annotations

import click


@click.command(help=__doc__)
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write [default: RUN_DIR/report.html].")
def command(run_dir: str, output: str | None) -> None:
    from fewlabel.report.run import build_run_report

    path = build_run_report(run_dir, output)
    click.echo(f"wrote {path}")
