"""Prometheus metrics of the service: requests, latency, answers, refusals, feedback.

Each app gets its own registry so that several apps (tests, reloads) never clash over
global collectors. With several uvicorn workers each process counts for itself; scrape
them individually or run one worker per container.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from assistant.schema import Answer

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The service's collectors, in a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kmr_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kmr_http_request_duration_seconds",
            "Time to the response's first byte, by route.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "kmr_answers",
            "Answers given, by language and backend.",
            ["language", "backend"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "kmr_refusals",
            "Questions the assistant abstained on, by language.",
            ["language"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "kmr_answer_notices",
            "Answers given with a notice (e.g. the LLM failed and the extractive answer was used).",
            registry=self.registry,
        )
        self.feedback = Counter(
            "kmr_feedback",
            "Feedback received, by rating.",
            ["rating"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "kmr_rate_limited",
            "Requests refused by the rate limit.",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        self.answers.labels(answer.language or "?", answer.backend or "?").inc()
        if answer.abstained:
            self.refusals.labels(answer.language or "?").inc()
        if answer.notice:
            self.fallbacks.inc()

    def render(self) -> bytes:
        """The exposition text for /metrics."""
        return generate_latest(self.registry)
