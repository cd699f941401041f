"""The site's pages for coordinators and investigators: the dashboard, enrol and randomize."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
