"""Helpers for the API tests: a real uvicorn on 127.0.0.1 serving the real app.

``LiveServer(app)`` runs uvicorn in a thread on a free loopback port (the app's lifespan runs
as in production) and stops it on exit. ``api_settings(runtime, tmp, **overrides)`` gives the
service settings of a runtime with its own database, so tests never share stored questions.
``create_curated(client, body)`` writes a curated answer through the admin API.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from assistant.config import Settings
from assistant.web import SERVER_OPTIONS

ADMIN_KEY = "test-admin-key-0123456789"


def create_curated(
    client: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A curated answer created through the admin API (the admin key and the staff name in the
    client's or in ``headers``); anything but 201 fails the test."""
    response = client.post("/api/admin/curated", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def api_settings(runtime: Any, tmp: Path, **overrides: Any) -> Settings:
    """The runtime's settings with a fresh service database and generous limits."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{(tmp / 'app.sqlite').resolve()}",
        "rate_limit": "10000/minute",
    }
    values.update(overrides)
    return Settings(**{**runtime.settings.model_dump(), **values, "_env_file": None})


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", access_log=False, **SERVER_OPTIONS
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start within 120 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


def read_sse(response: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream response, in order."""
    events: list[tuple[str, str]] = []
    name, data = "message", list[str]()
    for line in response.iter_lines():
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        events.append((name, "\n".join(data)))
    return events
