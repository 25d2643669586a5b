"""A click group whose subcommands are imported only when used, from an explicit registry.

Keeps ``fewlabel --help`` fast (torch is never imported just to list commands) while the
registry stays one readable dict, as in cryoDRGN's explicit command list.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """``lazy_commands`` maps a command name to ``"module.path:attribute"``."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def resolve_lazy(self, name: str) -> click.Command:
        """Import and return the registered command ``name``."""
        module_name, attr = self.lazy_commands[name].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[name]} is not a click command")
        return command

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy_commands:
            return self.resolve_lazy(name)
        return super().get_command(ctx, name)
