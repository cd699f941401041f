"""A posted form: its fields (CSRF checked first) and its errors, each shown next to its field and in the summary
at the top of the page (templates/macros.html draws both)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from equipoise.web.web_session import CSRF_FIELD, check_csrf


@dataclass
class FormState:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # field name -> message (already translated)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    @property
    def ok(self) -> bool:
        return not self.errors


async def posted(request: Request) -> FormState:
    """The posted fields (text only), after the CSRF check (a refusal is a ForbiddenError)."""
    data = await request.form()
    values = {k: v for k, v in data.multi_items() if isinstance(v, str)}
    check_csrf(request, values.pop(CSRF_FIELD, None))
    return FormState(values=values)


async def posted_lists(request: Request) -> dict[str, list[str]]:
    """Every value of every field (check boxes with one name), CSRF already checked by ``posted``."""
    data = await request.form()
    out: dict[str, list[str]] = {}
    for k, v in data.multi_items():
        if isinstance(v, str) and k != CSRF_FIELD:
            out.setdefault(k, []).append(v)
    return out
