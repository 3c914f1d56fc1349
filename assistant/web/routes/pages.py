"""The demo page, the staff console, the partner directory page and the widget script (GET, HEAD).

Each is a file in ``assistant/static`` that names the site with placeholders such as
``{{site_short_name}}`` (the keys of ``SiteProfile.values``). ``router(site)`` fills them once
per app, escaped for where they stand: as HTML text in the pages, inside a JavaScript string in
the widget. A name from the settings is always text, never markup or code. The console's
words (staff-i18n.js) say ``{site}`` and read the name from the page's ``kmr-site`` meta tag.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from assistant.site import SiteProfile

STATIC_DIR = Path(str(resources.files("assistant") / "static"))
HTML = "text/html; charset=utf-8"
JAVASCRIPT = "text/javascript; charset=utf-8"

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Characters a JSON string leaves as they are but a script should not carry in a literal.
_JS_UNSAFE = str.maketrans({"'": "\\u0027", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def html_text(value: str) -> str:
    """``value`` escaped for HTML text or a quoted attribute."""
    return html.escape(value, quote=True)


def js_string(value: str) -> str:
    """``value`` escaped for the inside of a JavaScript string literal (either quote)."""
    return json.dumps(value, ensure_ascii=True)[1:-1].translate(_JS_UNSAFE)


def fill(template: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """``template`` with every ``{{key}}`` replaced by ``escape(values[key])``; an unknown key
    raises KeyError, so a misspelt placeholder fails when the app is built."""
    return _PLACEHOLDER.sub(lambda match: escape(values[match[1]]), template)


def render(name: str, site: SiteProfile) -> str:
    """The static file ``name`` with ``site``'s names filled in (HTML or JavaScript escaping)."""
    escape = js_string if name.endswith(".js") else html_text
    return fill((STATIC_DIR / name).read_text(encoding="utf-8"), site.values(), escape)


def router(site: SiteProfile) -> APIRouter:
    """The routes of the pages and the widget, rendered once for ``site``."""
    pages = APIRouter(include_in_schema=False)
    demo, console, directory = (
        render(n, site) for n in ("index.html", "staff.html", "directory.html")
    )
    widget = render("widget.js", site)

    @pages.api_route("/", methods=["GET", "HEAD"])
    def demo_page() -> Response:
        return Response(demo, media_type=HTML)

    @pages.api_route("/staff", methods=["GET", "HEAD"])
    def staff_page() -> Response:
        return Response(console, media_type=HTML)

    @pages.api_route("/staff/directory", methods=["GET", "HEAD"])
    def directory_page() -> Response:
        return Response(directory, media_type=HTML)

    @pages.api_route("/widget.js", methods=["GET", "HEAD"])
    def widget_script() -> Response:
        # Any site may embed the widget: let browsers load it cross-origin.
        return Response(
            widget,
            media_type=JAVASCRIPT,
            headers={
                "Cross-Origin-Resource-Policy": "cross-origin",
                "Cache-Control": "public, max-age=300",
            },
        )

    return pages
