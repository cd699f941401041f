"""Run every benchmark in this folder and write BENCHMARKS.md.

Each benchmark is a module ``benchmarks/<name>.py`` with a ``run() -> str`` function that measures Equipoise
and its R anchor in the same run and returns a Markdown section (ratios, not bare timings).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    sections: list[str] = []
    modules = sorted(p for p in HERE.glob("*.py") if p.name not in {"run_all.py", "__init__.py"}
                     and not p.name.startswith("_"))
    for path in modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"running {path.name} ...", file=sys.stderr)
        sections.append(module.run())
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
