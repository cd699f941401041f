"""Drawing a page: the Jinja2 environment, the context every template gets, and the HTML error page.

Every page handler ends in ``render``; a service's refusal (``ServiceError``) is drawn by ``error_page`` or, in a
form, next to its field by the form's own template (see ``forms.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from equipoise.errors import ServiceError
from equipoise.identity.principal import Principal
from equipoise.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Language, language_from
from equipoise.web.navigation import links, role_labels
from equipoise.web.web_session import CSRF_FIELD, csrf_token, keep_anonymous_csrf

TEMPLATES = Path(__file__).resolve().parent / "templates"
environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                          trim_blocks=True, lstrip_blocks=True, auto_reload=False)


def language(request: Request) -> Language:
    return Language(language_from(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")))


def render(request: Request, template: str, *, principal: Principal | None = None, trial_id: str | None = None,
           trial_title: str | None = None, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` with the layout's context: the language, the user, their roles and links, the
    CSRF token, the trial's name."""
    lang = language(request)
    html = environment.get_template(template).render(
        request=request, lang=lang, _=lang.gettext, languages=LANGUAGES, principal=principal,
        nav=links(principal, trial_id) if principal else [], roles=role_labels(principal, trial_id) if principal
        else [], trial_id=trial_id, trial_title=trial_title, csrf_field=CSRF_FIELD, csrf=csrf_token(request),
        here=request.url.path, **context)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    keep_anonymous_csrf(request, response)
    return response


def error_page(request: Request, error: ServiceError, principal: Principal | None = None,
               trial_id: str | None = None) -> HTMLResponse:
    """A service's refusal of a whole page (not of a form's field), with its status."""
    return render(request, "error.html", principal=principal, trial_id=trial_id, status=error.status,
                  message=error.message)


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the JSON API): its errors are drawn as pages."""
    return not request.url.path.startswith(("/api/", "/openapi", "/docs", "/redoc", "/health")) \
        and "text/html" in request.headers.get("accept", "")
