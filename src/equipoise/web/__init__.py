"""The web pages: server-rendered HTML for every role, over the same services as the JSON API (README.md here)."""

from equipoise.web.mount import mount_web

__all__ = ["mount_web"]
