"""Run the main job end to end on bundled data and write demo-output/report.html.

Simulated micrographs of a real protein -> 100 labeled particles -> a GE-binomial picker ->
every particle picked and scored -> precision-recall against the truth -> particles extracted
-> 2D classes with class averages -> 3D voxel classification of Geometries and clathrin coats.
Every step is a fewlabel command; the report lists them.

Examples:

\b
    fewlabel demo                     # about 5 minutes on 2 CPU cores
    fewlabel demo --quick -o /tmp/d   # a smaller, faster smoke run
"""

from __future__ import annotations

import click


@click.command(help=__doc__)
@click.option("-o", "--output", default="demo-output", show_default=True, type=click.Path(file_okay=False),
              help="Folder for everything the demo writes.")
@click.option("--quick", is_flag=True, help="Smaller data and shorter training (a smoke run).")
@click.option("--seed", type=int, default=0, show_default=True)
def command(output: str, quick: bool, seed: int) -> None:
    from fewlabel.demo import run_demo

    run_demo(output, quick=quick, seed=seed)
