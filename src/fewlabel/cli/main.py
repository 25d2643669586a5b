"""Entry point of the ``fewlabel`` command.

Every command lives in its own module under ``fewlabel.cli`` and is registered in the explicit
lists below. User errors (:class:`fewlabel.errors.InputError`) are printed as one line and exit
with status 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import sys

import click

from fewlabel import __version__
from fewlabel.cli.lazy import LazyGroup
from fewlabel.errors import InputError

SIMULATE_COMMANDS = {
    "micrographs": "fewlabel.cli.simulate_micrographs:command",
    "particles": "fewlabel.cli.simulate_particles:command",
    "volumes": "fewlabel.cli.simulate_volumes:group",
}

TOP_LEVEL_COMMANDS = {
    "convert": "fewlabel.cli.convert:group",
    "preprocess": "fewlabel.cli.preprocess:command",
    "pick": "fewlabel.cli.pick:group",
    "particles": "fewlabel.cli.particles:group",
    "classify2d": "fewlabel.cli.classify2d:group",
    "voxel": "fewlabel.cli.voxel:group",
    "label": "fewlabel.cli.label:command",
    "demo": "fewlabel.cli.demo:command",
    "report": "fewlabel.cli.report:command",
}


class FewlabelGroup(LazyGroup):
    """Top-level group: turns InputError into one clean line and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, lazy_commands=SIMULATE_COMMANDS, name="simulate")
def simulate() -> None:
    """Simulate data with exact ground truth: micrographs, particle images, 3D volumes."""


@click.group(cls=FewlabelGroup, lazy_commands=TOP_LEVEL_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="fewlabel")
def cli() -> None:
    """fewlabel: particle picking, 2D classification and 3D voxel classification
    from very few hand labels."""


cli.add_command(simulate)


if __name__ == "__main__":  # pragma: no cover
    cli()
