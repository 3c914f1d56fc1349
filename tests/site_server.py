"""A real HTTP server on 127.0.0.1 for crawler tests.

It serves a folder of files (the sample site) with ETag / Last-Modified and 304 answers,
a generated robots.txt and sitemap index, and a set of misbehaving URLs:

    /redirect            301 -> /en/index.html
    /loop-a, /loop-b     a redirect loop
    /gone                410
    /flaky               500 on the first request, then a page
    /always-500          500 every time
    /slow                answers after ``slow_seconds``
    /photo               image/png
    /brochure            application/zip, 50 MB body (the server counts the bytes it sent)
    /huge                text/html, 50 MB streamed without Content-Length
    /huge-declared       text/html with Content-Length: 50 MB
    /latin1              a Latin-1 page declared in the Content-Type header
    /links.html          links with fragments and tracking parameters, and to /guide.pdf
    /guide.pdf           application/pdf
    /private/secret.html disallowed by robots.txt
    /noindex.html        <meta name="robots" content="noindex">

Start it with ``SiteServer(root).start()`` (or as a context manager); ``base`` is its URL.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LAST_MODIFIED = formatdate(1_767_225_600, usegmt=True)  # 2026-01-01
HUGE_BYTES = 50 * 1024 * 1024
_CHUNK = b"<p>" + b"filler text " * 5000 + b"</p>\n"

LINKS_PAGE = b"""<!doctype html><html lang="en"><head><title>Links</title></head><body><main>
<h1>Links with noise</h1><p>Every link below points at the same page.</p>
<a href="/en/faq.html#top">FAQ (fragment)</a>
<a href="/en/faq.html?utm_source=newsletter&utm_medium=email">FAQ (utm)</a>
<a href="/en/faq.html?fbclid=abc123">FAQ (fbclid)</a>
<a href="/en/faq.html?gclid=xyz">FAQ (gclid)</a>
<a href="mailto:info@example.org">mail</a> <a href="tel:+390000">phone</a>
<a href="https://elsewhere.example/page.html">Another site</a>
<a href="/assets/logo.png">Logo</a>
<a href="/guide.pdf">Visitor guide (PDF)</a>
</main></body></html>"""

NOINDEX_PAGE = b"""<!doctype html><html lang="en"><head><meta name="robots" content="noindex">
<title>Search results</title></head><body><main><p>Internal search results page.</p></main></body></html>"""

SECRET_PAGE = b"""<!doctype html><html><head><title>Secret</title></head><body>
<p>This page is disallowed by robots.txt and must never be fetched.</p></body></html>"""

LATIN1_PAGE = (
    "<!doctype html><html lang='it'><head><title>Caffè</title></head><body><main>"
    "<h1>Perché il caffè è buono</h1><p>Qualità, città, perché: parole accentate "
    "in una pagina codificata in Latin-1 senza meta charset.</p></main></body></html>"
).encode("latin-1")


def _pdf_bytes() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-request are part of the tests


class SiteServer:
    """ThreadingHTTPServer on a random loopback port serving ``root`` plus special routes."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        sitemap: bool = True,
        robots_delay: float | None = None,
        slow_seconds: float = 3.0,
    ) -> None:
        self.root = root
        self.sitemap = sitemap
        self.robots_delay = robots_delay
        self.slow_seconds = slow_seconds
        self.hits: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.request_headers: dict[str, list[dict[str, str]]] = {}
        self.removed: set[str] = set()  # paths that now answer 404
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SiteServer:
        server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def html_paths(self) -> list[str]:
        """URL paths of every HTML file under root."""
        if self.root is None:
            return []
        return sorted("/" + p.relative_to(self.root).as_posix() for p in self.root.rglob("*.html"))

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.hits[path] += 1
            self.request_headers.setdefault(path, []).append(headers)


def _handler(site: SiteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # keep test output quiet

        def do_GET(self) -> None:  # noqa: N802
            path = unquote(urlsplit(self.path).path)
            site.record(path, {k.lower(): v for k, v in self.headers.items()})
            route = ROUTES.get(path)
            try:
                if route is not None:
                    route(self, path)
                else:
                    self.serve_file(path)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the crawler hung up, as it should on oversized or unwanted bodies

        # -- helpers ------------------------------------------------------------------

        def send(
            self,
            status: int,
            body: bytes = b"",
            content_type: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            site.bytes_sent[unquote(urlsplit(self.path).path)] += len(body)

        def stream(self, path: str, content_type: str, total: int, declare_length: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            if declare_length:
                self.send_header("Content-Length", str(total))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            sent = 0
            while sent < total:
                piece = _CHUNK[: total - sent]
                self.wfile.write(piece)
                sent += len(piece)
                site.bytes_sent[path] += len(piece)
            self.close_connection = True

        def serve_file(self, path: str) -> None:
            if site.root is None or path in site.removed:
                self.send(404, b"<h1>Not found</h1>")
                return
            if path.endswith("/"):
                path += "index.html"
            file = (site.root / path.lstrip("/")).resolve()
            if site.root.resolve() not in file.parents or not file.is_file():
                self.send(404, b"<h1>Not found</h1>")
                return
            body = file.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-None-Match") is None
                and self.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if content_type.startswith("text/"):
                content_type += "; charset=utf-8"
            self.send(200, body, content_type, {"ETag": etag, "Last-Modified": LAST_MODIFIED})

    def robots(handler: Handler, path: str) -> None:
        lines = ["User-agent: *", "Disallow: /private/"]
        if site.robots_delay is not None:
            lines.append(f"Crawl-delay: {site.robots_delay}")
        if site.sitemap:
            lines.append(f"Sitemap: {site.base}/sitemap-index.xml")
        handler.send(200, ("\n".join(lines) + "\n").encode(), "text/plain")

    def sitemap_index(handler: Handler, path: str) -> None:
        if not site.sitemap:
            handler.send(404, b"")
            return
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{site.base}/sitemap-en.xml</loc></sitemap>"
            f"<sitemap><loc>{site.base}/sitemap-other.xml</loc></sitemap>"
            "</sitemapindex>"
        )
        handler.send(200, body.encode(), "application/xml")

    def sitemap_part(handler: Handler, path: str) -> None:
        if not site.sitemap:
            handler.send(404, b"")
            return
        wanted = [
            p for p in site.html_paths() if p.startswith("/en/") == (path == "/sitemap-en.xml")
        ]
        urls = "".join(f"<url><loc>{site.base}{p}</loc></url>" for p in wanted)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )
        handler.send(200, body.encode(), "application/xml")

    def redirect_to(target: str, status: int = 301):  # type: ignore[no-untyped-def]
        def route(handler: Handler, path: str) -> None:
            handler.send(status, b"", headers={"Location": target})

        return route

    def gone(handler: Handler, path: str) -> None:
        handler.send(410, b"<h1>Gone</h1>")

    def flaky(handler: Handler, path: str) -> None:
        if site.hits[path] == 1:
            handler.send(500, b"<h1>Internal Server Error</h1>")
        else:
            handler.send(
                200,
                b"<html><body><main><h1>Flaky page</h1><p>It worked on the second "
                b"try, after a server error.</p></main></body></html>",
            )

    def always_500(handler: Handler, path: str) -> None:
        handler.send(500, b"<h1>Internal Server Error</h1>")

    def slow(handler: Handler, path: str) -> None:
        time.sleep(site.slow_seconds)
        handler.send(200, b"<html><body><p>Too late.</p></body></html>")

    def image(handler: Handler, path: str) -> None:
        handler.send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048, "image/png")

    def archive(handler: Handler, path: str) -> None:
        handler.stream(path, "application/zip", HUGE_BYTES, declare_length=True)

    def huge(handler: Handler, path: str) -> None:
        handler.stream(path, "text/html; charset=utf-8", HUGE_BYTES, declare_length=False)

    def huge_declared(handler: Handler, path: str) -> None:
        handler.stream(path, "text/html; charset=utf-8", HUGE_BYTES, declare_length=True)

    def static(body: bytes, content_type: str = "text/html; charset=utf-8"):  # type: ignore[no-untyped-def]
        def route(handler: Handler, path: str) -> None:
            handler.send(200, body, content_type)

        return route

    ROUTES = {
        "/robots.txt": robots,
        "/sitemap-index.xml": sitemap_index,
        "/sitemap-en.xml": sitemap_part,
        "/sitemap-other.xml": sitemap_part,
        "/redirect": redirect_to("/en/index.html"),
        "/loop-a": redirect_to("/loop-b", 302),
        "/loop-b": redirect_to("/loop-a", 302),
        "/gone": gone,
        "/flaky": flaky,
        "/always-500": always_500,
        "/slow": slow,
        "/photo": image,
        "/brochure": archive,
        "/huge": huge,
        "/huge-declared": huge_declared,
        "/latin1": static(LATIN1_PAGE, "text/html; charset=iso-8859-1"),
        "/links.html": static(LINKS_PAGE),
        "/guide.pdf": static(_pdf_bytes(), "application/pdf"),
        "/noindex.html": static(NOINDEX_PAGE),
        "/private/secret.html": static(SECRET_PAGE),
    }
    return Handler
