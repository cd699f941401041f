"""``equipoise evidence`` commands (meta); gathered under one group by ``evidence_commands``."""

from __future__ import annotations

import typer

meta_commands = typer.Typer()
