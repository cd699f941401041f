"""``equipoise evidence`` commands (registry); gathered under one group by ``evidence_commands``."""

from __future__ import annotations

import typer

registry_commands = typer.Typer()
