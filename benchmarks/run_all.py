"""Run every benchmark in this folder and write BENCHMARKS.md.

Each benchmark is a module ``benchmarks/<name>.py`` with a ``run() -> str`` function that measures Equipoise
and its R anchor in the same run and returns a Markdown section (ratios, not bare timings).

``python benchmarks/run_all.py NAME...`` runs only the named benchmarks (e.g. ``registry_import``) and replaces
their sections in the existing BENCHMARKS.md (a section is its ``## `` heading up to the next one), keeping the
others as they were measured.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import platform
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _heading(section: str) -> str:
    return section.lstrip().splitlines()[0].strip()


def _replace_sections(text: str, sections: list[str]) -> str:
    """BENCHMARKS.md with each new section in place of the old one of the same heading (appended if new)."""
    parts = re.split(r"(?m)^(?=## )", text)
    head, old = parts[0], parts[1:]
    fresh = {_heading(section): section.rstrip("\n") + "\n\n" for section in sections}
    kept = [fresh.pop(_heading(part), part.rstrip("\n") + "\n\n") for part in old]
    return head + "".join(kept + list(fresh.values())).rstrip("\n") + "\n"


def main() -> None:
    sections: list[str] = []
    only = set(sys.argv[1:])
    modules = sorted(p for p in HERE.glob("*.py") if p.name not in {"run_all.py", "__init__.py"}
                     and not p.name.startswith("_") and (not only or p.stem in only))
    if only - {p.stem for p in modules}:
        sys.exit(f"no such benchmark: {', '.join(sorted(only - {p.stem for p in modules}))}")
    for path in modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"running {path.name} ...", file=sys.stderr)
        sections.append(module.run())
    target = HERE.parent / "BENCHMARKS.md"
    if only and target.exists():
        target.write_text(_replace_sections(target.read_text(encoding="utf-8"), sections), encoding="utf-8")
        print(f"updated {len(sections)} section(s) of BENCHMARKS.md", file=sys.stderr)
        return
    header = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {platform.machine()}.",
        "Each section compares Equipoise with its R anchor measured in the same run; ratios above 1 mean "
        "Equipoise is faster.",
        "",
    ]
    if not sections:
        sections.append("No benchmarks yet.")
    (HERE.parent / "BENCHMARKS.md").write_text("\n".join(header + sections) + "\n", encoding="utf-8")
    print("wrote BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
