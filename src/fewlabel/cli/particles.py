"""Particle stacks: extract boxes around picks into a normalised .mrcs stack with a .star table.

\b
Examples:
  fewlabel particles extract --micrographs mics/ --picks picks.tsv --box 128 --downsample 2 -o particles.mrcs
  fewlabel particles extract --micrographs mics/ --picks picks.star --box 64 --edge flag -o stack.mrcs"""

from __future__ import annotations

from pathlib import Path

import click

from fewlabel.cli.scale_options import scale_options

from fewlabel.errors import InputError


@click.group(name="particles", help=__doc__)
def group() -> None:
    pass


@group.command("extract")
@click.option("--micrographs", "mic_dir", required=True, type=click.Path(exists=True, path_type=Path),
              help="Folder of micrographs (or one micrograph file).")
@click.option("--picks", "picks_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Picks table (.tsv Topaz, .star RELION, .box EMAN, .csv), original micrograph pixels.")
@click.option("--box", type=int, required=True, help="Box size in ORIGINAL micrograph pixels.")
@click.option("--downsample", type=int, default=1, show_default=True,
              help="Integer Fourier-cropping factor applied to each box (output box = box // factor).")
@click.option("--edge", type=click.Choice(["skip", "flag"]), default="skip", show_default=True,
              help="Boxes leaving the micrograph: skip them, or keep them padded and flagged (inside=False).")
@click.option("--normalize", "norm", type=click.Choice(["background", "whole", "none"]), default="background",
              show_default=True, help="Per-particle normalisation (background = outside the inscribed circle).")
@click.option("--min-score", type=float, default=None, help="Keep only picks with score >= this.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output stack STACK.mrcs (metadata goes to STACK.star).")
@scale_options
def extract(mic_dir: Path, picks_path: Path, box: int, downsample: int, edge: str, norm: str,
            min_score: float | None, output: Path, scale) -> None:
    """Extract particles around picks into STACK.mrcs + STACK.star.

    Example: fewlabel particles extract --micrographs mics/ --picks picks.tsv --box 128 --downsample 2 -o p.mrcs
    """
    from fewlabel.atomic import check_not_input
    from fewlabel.io.micrographs import list_micrographs
    from fewlabel.io.picks import match_to_micrographs, normalize_image_name, read_picks
    from fewlabel.scale.commands import particles_extract

    if output.suffix != ".mrcs":
        raise InputError(output, "the output stack must end in .mrcs")
    check_not_input(output, [mic_dir, picks_path])
    paths = list_micrographs(mic_dir)
    by_name = {normalize_image_name(p.name): p for p in paths}
    picks = match_to_micrographs(read_picks(picks_path), by_name.keys(), source=picks_path)
    if min_score is not None:
        if "score" not in picks.columns:
            raise InputError(picks_path, "--min-score given but the picks have no score column")
        picks = picks[picks["score"] >= min_score]
    if len(picks) == 0:
        raise InputError(picks_path, "no picks to extract")
    click.echo(f"extracting {len(picks)} picks from {picks['image_name'].nunique()} micrograph(s), "
               f"box {box} px -> {box // downsample} px", err=True)
    result = particles_extract(by_name, picks, output, scale, box=box, downsample=downsample, edge=edge,
                               normalize=norm, log=lambda m: click.echo(m, err=True))
    if result is None:  # a --shard run: parts written, merge later
        return
    images, meta = result
    n_out = int((~meta["inside"]).sum()) if edge == "flag" else len(picks) - len(meta)
    what = "flagged (inside=False)" if edge == "flag" else "skipped"
    click.echo(f"wrote {len(images)} particles ({images.shape[1]} px) to {output} and "
               f"{output.with_suffix('.star')}; {n_out} box(es) leaving the micrograph {what}")
