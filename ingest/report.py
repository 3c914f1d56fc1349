"""What a sync did: the report it returns, records as a run and hands to a progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ingest.records import Failure


@dataclass(frozen=True)
class Duplicate:
    """A document skipped because another one owns the canonical URL it declares."""

    location: str
    canonical: str
    owner: str  # location of the document that owns it


@dataclass
class SyncReport:
    """What a sync did; also the progress snapshot handed to the progress callback."""

    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failures: list[Failure] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    current: str = ""

    @property
    def failed(self) -> int:
        """Documents skipped with a reason."""
        return len(self.failures)

    @property
    def chunks_per_second(self) -> float:
        """Embedding throughput of the run so far."""
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0

    @property
    def ingested(self) -> int:
        """Documents that are in the index after this run (new, changed or unchanged)."""
        return self.new + self.changed + self.unchanged

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (as recorded with the run and sent by the API)."""
        data = asdict(self)
        data["failures"] = [asdict(f) for f in self.failures]
        data["duplicates"] = [asdict(d) for d in self.duplicates]
        data["failed"] = self.failed
        data["chunks_per_second"] = round(self.chunks_per_second, 2)
        data["seconds"] = round(self.seconds, 3)
        return data


ProgressCallback = Callable[[SyncReport], None]
