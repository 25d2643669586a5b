"""Simulate labeled 2D particle images: different molecules, or view classes of one molecule.

Each particle is an exact projection of an atomic model with a random in-plane rotation and
shift, its own CTF, and noise at the given SNR ('clean' for none). Writes OUTPUT/particles.mrcs,
OUTPUT/particles.star (per-particle truth: class, orientation, shift, defocus),
OUTPUT/labels.csv (index,label,class_name) and OUTPUT/simulation.json.

Examples:

\b
    fewlabel simulate particles -o parts --n-per-class 500 --snr 0.1
    fewlabel simulate particles -o views --classes views --molecule adk_open --n-views 4 --snr clean
    fewlabel simulate particles -o hard --molecules adk_open --molecules adk_closed --snr 0.03 --box 96
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="particles", help=__doc__)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (created).")
@click.option("--classes", type=click.Choice(["molecules", "views"]), default="molecules", show_default=True,
              help="Classes are different molecules, or clusters of viewing directions of one molecule.")
@click.option("--molecules", "molecules", multiple=True,
              help="Molecules for --classes molecules (repeat; vendored names or PDB paths) "
                   "[default: adk_open adk_closed 1hvr 5a7u].")
@click.option("--molecule", default="adk_open", show_default=True, help="Molecule for --classes views.")
@click.option("--n-views", type=int, default=4, show_default=True, help="Number of view classes.")
@click.option("--view-spread", type=float, default=10.0, show_default=True,
              help="Half-angle (degrees) of the cone of directions within a view class.")
@click.option("--n-per-class", type=int, default=200, show_default=True, help="Particles per class.")
@click.option("--snr", default="0.1", show_default=True, help="Per-particle SNR, or 'clean' for no noise.")
@click.option("--box", type=int, default=64, show_default=True, help="Box size in pixels.")
@click.option("--pixel-size", type=float, default=None,
              help="Pixel size in Å [default: the largest particle spans 70% of the box].")
@click.option("--defocus-min", type=float, default=1.0, show_default=True, help="Smallest defocus in µm.")
@click.option("--defocus-max", type=float, default=2.5, show_default=True, help="Largest defocus in µm.")
@click.option("--no-ctf", is_flag=True, help="Do not apply a CTF.")
@click.option("--max-shift", type=float, default=4.0, show_default=True, help="Largest random shift in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same files).")
def command(output: Path, classes: str, molecules: tuple[str, ...], molecule: str, n_views: int,
            view_spread: float, n_per_class: int, snr: str, box: int, pixel_size: float | None,
            defocus_min: float, defocus_max: float, no_ctf: bool, max_shift: float, seed: int) -> None:
    import time

    from fewlabel.simulate.particles import DEFAULT_MOLECULES, simulate_particles, write_particles

    params = {"classes": classes, "molecules": list(molecules or DEFAULT_MOLECULES), "molecule": molecule,
              "n_views": n_views, "view_spread": view_spread, "n_per_class": n_per_class, "snr": snr,
              "box": box, "pixel_size": pixel_size, "defocus_range_um": [defocus_min, defocus_max],
              "ctf": not no_ctf, "max_shift": max_shift, "seed": seed}
    start = time.perf_counter()
    images, labels = simulate_particles(
        n_per_class, classes="views" if classes == "views" else (molecules or DEFAULT_MOLECULES),
        molecule=molecule, n_views=n_views, view_spread=view_spread, snr=snr, box=box, pixel_size=pixel_size,
        defocus_range=(defocus_min, defocus_max), ctf=not no_ctf, max_shift=max_shift, progress=True, seed=seed)
    summary = write_particles(output, images, labels, params)
    click.echo(f"wrote {summary['n_particles']} particles of {box}x{box} px at {summary['pixel_size']} Å/px, "
               f"{len(summary['class_names'])} classes ({', '.join(summary['class_names'])}) to {output} "
               f"in {time.perf_counter() - start:.1f} s")
