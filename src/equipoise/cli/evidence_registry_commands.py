"""``equipoise evidence`` commands (registry); gathered under one group by ``evidence_commands``.

``import`` reads registry exports into the evidence store; ``show``, ``search`` and ``summary`` read it.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from equipoise.cli.output import JsonOption, error_console, print_json, print_plain
from equipoise.errors import UserError
from equipoise.evidence.registry_linking import find_links, link_pair
from equipoise.evidence.registry_summary import summarise
from equipoise.evidence_store import DEFAULT_STORE, DESIGNS, RegistryStore, import_files

registry_commands = typer.Typer()

StoreOption = typer.Option(DEFAULT_STORE, "--store", help="The evidence store (a DuckDB file).")
ConditionOption = typer.Option(None, "--condition", help="Words in the condition (or title), e.g. covid-19.")
InterventionOption = typer.Option(None, "--intervention", help="Words in the intervention, arm or title, e.g. "
                                  "mesenchymal.")
RandomizedOption = typer.Option(None, "--randomized/--not-randomized", help="Only randomized (or non-randomized) "
                                "trials.")
DesignOption = typer.Option(None, "--design", help=f"Only this design: {', '.join(DESIGNS)}.")
BLINDING_WORDS = {True: "blinded", False: "open", None: "blinding ?"}
LINK_LIMIT = 2_000  # linking compares every pair: done for a search's result, not for a whole registry


class _RichImportProgress:
    """One bar per file: entries of a bulk ZIP out of its total; records read so far for other files."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start_file(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, count)


@registry_commands.command("import")
def import_records(
    files: list[Path] = typer.Argument(..., help="ClinicalTrials.gov v2 JSON (one study or a page), its bulk ZIP, "
                                       "WHO ICTRP CSV or XML exports."),
    store_path: Path = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Import registry records; a newer version replaces an older one; malformed records are reported and
    skipped."""
    with RegistryStore.open(store_path) as store, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=error_console, transient=True) as progress:
        report = import_files(files, store, _RichImportProgress(progress))
    if as_json:
        print_json(report.to_dict())
    else:
        print_plain(str(report))


@registry_commands.command("show")
def show(
    record_id: str = typer.Argument(..., help="The trial's registry id, e.g. NCT04288102 or ChiCTR2000029990."),
    store_path: Path = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Print one trial's normalised record, its design classification and its other registrations."""
    with RegistryStore.open(store_path, create=False) as store:
        found = store.get(record_id)
        if found is None:
            raise UserError(f"{record_id}: not in {store_path} (search it with: equipoise evidence search)")
        record, version, source = found
        links = [link for other in store.candidates_for_links(record)
                 if (link := link_pair(record, other)) is not None and other.registry != record.registry]
    if as_json:
        print_json(record.to_dict() | {"stored_version": version, "source_file": source,
                                       "links": [link.to_dict() for link in links]})
        return
    print_plain(str(record))
    print_plain(f"  stored from {source} (version {version or 'not stated'})")
    for link in links:
        print_plain(f"  same trial: {link}")


@registry_commands.command("search")
def search(
    condition: str | None = ConditionOption,
    intervention: str | None = InterventionOption,
    randomized: bool | None = RandomizedOption,
    design: str | None = DesignOption,
    limit: int | None = typer.Option(None, "--limit", min=1, help="Show at most this many trials."),
    store_path: Path = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """Find registered trials by condition, intervention, randomization and design."""
    _check_design(design)
    with RegistryStore.open(store_path, create=False) as store:
        total = store.count_matching(condition=condition, intervention=intervention, randomized=randomized,
                                     design=design)
        records = store.search(condition=condition, intervention=intervention, randomized=randomized, design=design,
                               limit=limit)
    links = find_links(records) if len(records) <= LINK_LIMIT else ()
    if as_json:
        print_json({"count": total, "shown": len(records), "trials": [r.to_dict() for r in records],
                    "links": [link.to_dict() for link in links]})
        return
    print_plain(f"{total} trial(s)" + (f", {len(records)} shown" if len(records) < total else ""))
    for r in records:
        c = r.classification
        size = f"n={r.enrollment}" if r.enrollment is not None else "n=?"
        print_plain(f"{r.id:<24} {c.design_class:<26} {BLINDING_WORDS[c.blinded]:<12} "
                    f"{size:<7} {(r.status or r.status_text or '-')[:20]:<20} {(r.title or '')[:70]}")
    for link in links:
        print_plain(f"same trial: {link}")


@registry_commands.command("summary")
def summary(
    condition: str | None = ConditionOption,
    intervention: str | None = InterventionOption,
    randomized: bool | None = RandomizedOption,
    design: str | None = DesignOption,
    label: str | None = typer.Option(None, "--label", help="What the trials are, for the headline (e.g. MSC)."),
    plot: Path | None = typer.Option(None, "--plot", help="Save bar charts (design, status, size, country) as PNG."),
    store_path: Path = StoreOption,
    as_json: bool = JsonOption,
) -> None:
    """The trials by design, status, size and country: "of 20 registered MSC trials, 12 randomized, ..."."""
    _check_design(design)
    with RegistryStore.open(store_path, create=False) as store:
        facts = list(store.summary_rows(condition=condition, intervention=intervention, randomized=randomized,
                                        design=design))
        links = find_links(store.search(condition=condition, intervention=intervention, randomized=randomized,
                                        design=design)) if len(facts) <= LINK_LIMIT else ()
    result = summarise(facts, f"{label} " if label else "", links)
    if plot is not None:
        figure = result.plot()
        try:
            figure.savefig(plot, dpi=120)
        except OSError as exc:
            raise UserError(f"--plot {plot}: cannot write ({exc.strerror})") from None
    if as_json:
        print_json(result.to_dict() | ({"plot": str(plot)} if plot else {}))
    else:
        print_plain(str(result))
        if plot is not None:
            print_plain(f"wrote {plot}")


def _check_design(design: str | None) -> None:
    if design is not None and design not in DESIGNS:
        raise UserError(f"--design: {design!r} is not one of {', '.join(DESIGNS)}")
