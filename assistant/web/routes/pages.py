"""The demo page, the staff console and the widget script (GET and HEAD)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(str(resources.files("assistant") / "static"))
HTML = "text/html; charset=utf-8"

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
def demo_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type=HTML)


@router.api_route("/staff", methods=["GET", "HEAD"])
def staff_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "staff.html", media_type=HTML)


@router.api_route("/widget.js", methods=["GET", "HEAD"])
def widget_script() -> FileResponse:
    # Any site may embed the widget: let browsers load it cross-origin.
    return FileResponse(
        STATIC_DIR / "widget.js",
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Cache-Control": "public, max-age=300",
        },
    )
