"""The trial server's web application: a thin JSON API over ``equipoise.store``."""

from equipoise.server.app import create_app

__all__ = ["create_app"]
