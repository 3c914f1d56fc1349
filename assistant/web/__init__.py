"""The HTTP edge: everything the app factory in ``api.py`` assembles.

- ``models``: request and response bodies, built from the core types.
- ``deps``: what routes receive (``Services`` and typed ``Annotated`` dependencies).
- ``limits``: the per-client rate limit.
- ``handlers``: the error tree of ``assistant.errors`` translated to JSON responses.
- ``middleware``: request ids, timing, security headers, body size, CORS answered in JSON.
- ``lifespan``: start-up and shutdown (model, store, retention purge, background tasks).
- ``ready``: the readiness checks behind ``/ready``.
- ``routes/``: one small module per group of routes.

Core modules never import this package; it imports them.
"""

from typing import Any

# How the service is run by uvicorn (`kmr serve`, `kmr up` and the tests' live servers).
# uvicorn's own X-Forwarded-For handling trusts loopback by default, which would let any local
# client choose its rate-limit identity: the app decides instead (settings.trusted_proxies).
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}
APP_FACTORY = "api:create_app"
