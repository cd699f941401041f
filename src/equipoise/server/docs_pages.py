"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with every asset served by Equipoise itself, never a CDN.

A hospital network often has no internet: FastAPI's default pages load their JavaScript, CSS, favicon and Google
Fonts from CDNs and stay blank there. The assets come from the ``fastapi-offline`` package (installed from PyPI
with Equipoise; it ships Swagger UI 5 (Apache-2.0) and ReDoc 2 (MIT) as static files), mounted under
``/docs-assets``.

References: FastAPI documentation, "Custom Docs UI Static Assets (Self-Hosting)",
https://fastapi.tiangolo.com/how-to/custom-docs-ui-assets/
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` from local assets (create the app with
    ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=f"{title} - Swagger UI",
                                   oauth2_redirect_url=OAUTH2_REDIRECT_URL,
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                                   # No badge from validator.swagger.io: it would send the spec's URL outside.
                                   swagger_ui_parameters={"validatorUrl": None})

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        # No Google Fonts: ReDoc falls back to the browser's own fonts.
        return get_redoc_html(openapi_url=openapi_url, title=f"{title} - ReDoc",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False)
