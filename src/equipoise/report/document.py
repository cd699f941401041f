"""The report document model (sections of text, tables and figures) and its HTML rendering with Jinja2."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from matplotlib.figure import Figure

from equipoise.figures.svg import figure_svg
from equipoise.report.tables import Table


@dataclass
class Block:
    kind: str  # text | subtitle | callout | list | table | figure
    content: Any


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def text(self, text: str) -> Section:
        self.blocks.append(Block("text", text))
        return self

    def subtitle(self, text: str) -> Section:
        self.blocks.append(Block("subtitle", text))
        return self

    def bullets(self, items: list[str]) -> Section:
        self.blocks.append(Block("list", items))
        return self

    def callout(self, headline: str, items: list[str] | tuple[str, ...] = ()) -> Section:
        self.blocks.append(Block("callout", {"headline": headline, "points": list(items)}))
        return self

    def table(self, table: Table) -> Section:
        self.blocks.append(Block("table", table))
        return self

    def figure(self, fig: Figure, caption: str) -> Section:
        self.blocks.append(Block("figure", {"svg": figure_svg(fig), "caption": caption}))
        return self


@dataclass(frozen=True)
class Report:
    """A rendered report: ``html`` is a self-contained page (inline CSS and SVG, no external resources)."""

    kind: str  # "closed" (by arm, for the monitoring committee) or "open" (pooled)
    title: str
    html: str
    section_titles: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "sections": list(self.section_titles),
                "html_bytes": len(self.html.encode("utf-8"))}

    def __str__(self) -> str:
        return f"{self.kind} report: {self.title} ({len(self.section_titles)} sections)"


# Characters an HTML document may not hold (control characters but tab, new line, form feed and carriage return;
# unpaired surrogates; U+FFFE, U+FFFF): a value from an older database with one is shown with U+FFFD instead
# (WHATWG HTML, §13.2.5 "control-character-in-input-stream"; issue 14).
_NOT_HTML = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _printable(value: Any) -> Any:
    if isinstance(value, str) and _NOT_HTML.search(value):
        cleaned = _NOT_HTML.sub("\ufffd", value)
        return Markup(cleaned) if isinstance(value, Markup) else cleaned
    return value


_ENV = Environment(loader=PackageLoader("equipoise.report", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True, finalize=_printable)


def render(kind: str, title: str, banner: str, meta: list[str], sections: list[Section], footer: str) -> Report:
    colour = "#8b1a1a" if kind == "closed" else "#1f5fa8"
    html = _ENV.get_template("report.html").render(title=title, banner=banner, meta=meta, sections=sections,
                                                      footer=footer, banner_colour=colour)
    return Report(kind, title, html, tuple(s.title for s in sections))
