"""Convert particle picks between Topaz tsv, RELION STAR 3.0/3.1, EMAN .box and CSV; read cryoSPARC .cs.

Formats come from the extensions (.txt/.tsv, .star, .box, .csv, .cs); a folder holds one file per
micrograph (OUT ending in "/" is a folder; give --to for its format). Coordinates keep the original-micrograph
pixel frame; EMAN .box stores the lower-left corner, so writing it needs --box-size. cryoSPARC .cs
particle files (pickers, Inspect Picks, Extract, Select 2D) are read only: cryoSPARC imports STAR.

Examples:

\b
    fewlabel convert picks particles.star particles.txt
    fewlabel convert picks particles.txt particles.star --star-version 3.0
    fewlabel convert picks particles.txt boxes/ --to box --box-size 64
    fewlabel convert picks particles.txt per_mic/ --to star
    fewlabel convert picks mic_0001.box picks.csv --image-name mic_0001
    fewlabel convert picks autopick/ picks.txt --micrographs Micrographs/
    fewlabel convert picks J12_picked_particles.cs picks.star
"""

from __future__ import annotations

from pathlib import Path

import click

FORMATS = ["tsv", "star", "box", "csv"]  # written (and read)
READ_FORMATS = FORMATS + ["cs"]  # cryoSPARC .cs is read only


@click.group(name="convert", help=__doc__)
def group() -> None:
    pass


@group.command("picks")
@click.argument("input_path", metavar="IN", type=click.Path(path_type=Path))
@click.argument("output", metavar="OUT", type=click.Path())  # str: keeps a trailing "/" (folder)
@click.option("--from", "from_fmt", type=click.Choice(READ_FORMATS), default=None,
              help="Input format (default: from the extension).")
@click.option("--to", "to_fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from the extension; required for a folder).")
@click.option("--box-size", type=click.IntRange(min=1), default=None,
              help="Box size in pixels, needed to write EMAN .box (lower-left corner = centre - box/2).")
@click.option("--image-name", default=None,
              help="Micrograph name for input files that carry none (a single .box, a per-micrograph "
                   "STAR or CSV); default: the file stem.")
@click.option("--star-version", type=click.Choice(["3.1", "3.0"]), default="3.1", show_default=True,
              help="RELION STAR layout to write (3.1 has an optics block).")
@click.option("--micrographs", "micrographs", multiple=True, type=click.Path(path_type=Path),
              help="Micrograph folder or files: check every pick names one of them and lies inside it.")
@click.option("--flip-y", is_flag=True, default=False,
              help="cryoSPARC .cs input only: y = rows - y, for micrographs motion-corrected outside cryoSPARC "
                   "whose rows cryoSPARC holds reversed (pyem csparc2star --inverty). Default: no flip.")
def picks(input_path: Path, output: str, from_fmt: str | None, to_fmt: str | None, box_size: int | None,
          image_name: str | None, star_version: str, micrographs: tuple[Path, ...], flip_y: bool) -> None:
    """Convert a picks file (or folder of per-micrograph files) IN to OUT."""
    from fewlabel.atomic import check_not_input
    from fewlabel.errors import InputError
    from fewlabel.io.picks import check_picks_in_bounds, read_picks, write_picks

    check_not_input(output, [input_path])
    try:
        table = read_picks(input_path, fmt=from_fmt, image_name=image_name, flip_y=flip_y)
    except ValueError:
        if not flip_y:
            raise
        raise InputError(input_path, "--flip-y applies only to cryoSPARC .cs picks") from None
    if micrographs:
        from fewlabel.io.micrographs import list_micrographs, read_micrograph_shape

        shapes = {p.stem: read_micrograph_shape(p) for p in list_micrographs(micrographs)}
        check_picks_in_bounds(table, shapes, source=input_path)
    write_picks(table, output, fmt=to_fmt, box_size=box_size, star_version=star_version)
    n_mics = table["image_name"].nunique()
    click.echo(f"converted {len(table)} picks on {n_mics} micrograph(s): {input_path} -> {output}")
