"""``equipoise evidence`` commands (tsa); gathered under one group by ``evidence_commands``."""

from __future__ import annotations

import typer

tsa_commands = typer.Typer()
