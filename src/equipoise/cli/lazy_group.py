"""A command group that imports a command's module only when that command runs.

``equipoise --version`` and ``equipoise --help`` must not pay for the trial server, SQLAlchemy, pandas and the
statistical layers that the subcommands import (issue 18: the CLI starts in under 0.5 s). The group knows each
subcommand by its name, the module and attribute that define it (a ``typer.Typer`` sub-app or a command
function) and its one-line help, so ``--help`` lists every command without importing any of them; a test checks
that each listed help is the command's own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo


@dataclass(frozen=True)
class LazyCommand:
    """Where a subcommand is defined: ``module.attribute`` (a Typer sub-app or a command function), and its help."""

    module: str
    attribute: str
    help: str

    def load(self, name: str) -> Any:  # Any: Typer's command classes live in its private copy of click
        target: Any = getattr(importlib.import_module(self.module), self.attribute)
        if isinstance(target, typer.Typer):
            # rich_markup_mode None: the root's, which Typer hands down to the sub-apps it builds itself
            return get_group_from_info(TyperInfo(target, name=name), pretty_exceptions_short=True,
                                       suggest_commands=True, rich_markup_mode=None)
        return get_command_from_info(CommandInfo(name=name, callback=target), pretty_exceptions_short=True,
                                     rich_markup_mode=None)


class LazyGroup(TyperGroup):
    """A Typer group whose subcommands (``lazy``, set by a subclass) are imported on first use.

    Any: Typer's context, command and formatter classes live in its private copy of click."""

    lazy: ClassVar[dict[str, LazyCommand]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in self.lazy if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            command = self.lazy[cmd_name].load(cmd_name)
            self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list of ``--help`` from the stored help texts (importing no command)."""
        names = [n for n in self.list_commands(ctx) if n in self.lazy or not self.commands[n].hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        # a bare command carrying the stored help shortens it as the command itself would
        rows = [(n, (TyperCommand(n, help=self.lazy[n].help) if n in self.lazy else self.commands[n])
                 .get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
