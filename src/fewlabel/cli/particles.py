"""Particle stacks: extract boxes around picks into a normalised .mrcs stack with a .star table.

\b
Examples:
  fewlabel particles extract --micrographs mics/ --picks picks.tsv --box 128 --downsample 2 -o particles.mrcs
  fewlabel particles extract --micrographs mics/ --picks picks.star --box 64 --edge flag -o stack.mrcs"""

from __future__ import annotations

from pathlib import Path

import click

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
def extract(mic_dir: Path, picks_path: Path, box: int, downsample: int, edge: str, norm: str,
            min_score: float | None, output: Path) -> None:
    """Extract particles around picks into STACK.mrcs + STACK.star.

    Example: fewlabel particles extract --micrographs mics/ --picks picks.tsv --box 128 --downsample 2 -o p.mrcs
    """
    from fewlabel.atomic import check_not_input
    from fewlabel.io.micrographs import list_micrographs, read_micrograph
    from fewlabel.io.picks import match_to_micrographs, normalize_image_name, read_picks
    from fewlabel.io.stacks import write_stack
    from fewlabel.particles import extract_particles

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
    pixel_sizes = {}

    def load(name: str):
        mic = read_micrograph(by_name[name])
        pixel_sizes[name] = mic.pixel_size
        return mic.image

    click.echo(f"extracting {len(picks)} picks from {picks['image_name'].nunique()} micrograph(s), "
               f"box {box} px -> {box // downsample} px", err=True)
    try:
        images, meta = extract_particles(load, picks, box, downsample, edge, norm, progress=True)
    except InputError as exc:
        raise InputError(picks_path, exc.problem) from None
    n_out = int((~meta["inside"]).sum()) if edge == "flag" else len(picks) - len(meta)
    if len(images) == 0:
        raise InputError(picks_path, f"every one of the {len(picks)} boxes leaves its micrograph; "
                                     "use a smaller --box or --edge flag")
    ps = next((p for p in pixel_sizes.values() if p), None)
    write_stack(output, images, meta, None if ps is None else ps * downsample)
    what = "flagged (inside=False)" if edge == "flag" else "skipped"
    click.echo(f"wrote {len(images)} particles ({images.shape[1]} px) to {output} and "
               f"{output.with_suffix('.star')}; {n_out} box(es) leaving the micrograph {what}")
