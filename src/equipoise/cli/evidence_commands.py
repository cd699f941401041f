"""``equipoise evidence``: trial registries, meta-analysis, trial sequential analysis and certainty.

The commands live in modules by subject (registries, pooling, sequential analysis and certainty);
this module gathers them under one ``evidence`` group.
"""

from __future__ import annotations

import typer

from equipoise.cli.evidence_add_trial_commands import add_trial_commands
from equipoise.cli.evidence_certainty_commands import certainty_commands
from equipoise.cli.evidence_meta_commands import meta_commands
from equipoise.cli.evidence_registry_commands import registry_commands
from equipoise.cli.evidence_tsa_commands import tsa_commands

evidence_app = typer.Typer(
    help="Synthesise the evidence: registries, meta-analysis, trial sequential analysis, certainty.",
    no_args_is_help=True,
)
for _part in (registry_commands, meta_commands, tsa_commands, certainty_commands,
              add_trial_commands):
    evidence_app.registered_commands.extend(_part.registered_commands)
