"""Per-client rate limit (the ``limits`` library, fixed windows, in process memory)."""

from __future__ import annotations

import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from assistant.errors import RateLimited


class RateLimiter:
    """One budget per client and scope, e.g. chat and its stream share the "chat" scope."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self._strategy = FixedWindowRateLimiter(MemoryStorage())

    def hit(self, scope: str, client: str) -> None:
        """Count one request; raises RateLimited when the client is over its budget."""
        if self._strategy.hit(self.item, scope, client):
            return
        reset = self._strategy.get_window_stats(self.item, scope, client).reset_time
        raise RateLimited(str(self.item), retry_after=max(1, int(reset - time.time()) + 1))
