"""The top-level CLI: help, version, the command registry and one-line user errors."""

import importlib

import click
import pytest

from fewlabel.cli.main import SIMULATE_COMMANDS, TOP_LEVEL_COMMANDS, cli
from fewlabel.errors import InputError


def test_version(cli_runner):
    code, out, _ = cli_runner("--version")
    assert code == 0
    assert "fewlabel" in out and "version" in out


@pytest.mark.parametrize("registry", [TOP_LEVEL_COMMANDS, SIMULATE_COMMANDS])
def test_every_registered_command_imports(registry):
    for name, target in registry.items():
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command), name
        assert command.help, f"{name} has no help text"


def test_input_error_is_one_line_and_exit_2():
    @cli.command("raise-input-error", hidden=True)
    def _boom():
        raise InputError("some/file.mrc", "not an MRC file")

    from click.testing import CliRunner

    try:
        result = CliRunner().invoke(cli, ["raise-input-error"])
    finally:
        cli.commands.pop("raise-input-error")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: some/file.mrc: not an MRC file"
