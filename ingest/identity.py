"""Who a document is: the origin it was read from, whether a canonical URL names it, and which
document holds each source id during a sync run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def normalise_source(source: str) -> str:
    """Absolute path for local sources, the URL itself for websites."""
    if source.startswith(("http://", "https://")):
        return source
    return str(Path(source).expanduser().resolve())


def _path_key(path: str) -> str:
    """'/en/contacts.html', '/en/contacts/', '/en/contacts/index.html' -> '/en/contacts'."""
    path = "/" + path.strip("/").lower()
    head, _, last = path.rpartition("/")
    stem = last.rsplit(".", 1)[0] if "." in last else last
    path = f"{head}/{stem}" if stem not in ("index", "default") else head
    return path.rstrip("/")


def names_itself(origin: str, location: str, canonical: str) -> bool:
    """True when ``canonical`` is the document's own address (a page pointing at itself).

    Such a page is the rightful owner of the URL; any other page declaring it is a copy.
    A file matches when its path under the source ends with the URL's path.
    """
    if not canonical.startswith(("http://", "https://")):
        return True  # a fallback identity (path or URL) is the document's own
    want = _path_key(urlsplit(canonical).path)
    if location.startswith(("http://", "https://")):
        return _path_key(urlsplit(location).path) == want
    try:
        have = _path_key(Path(location).relative_to(origin).as_posix())
    except ValueError:
        have = _path_key(location)
    return have == want if not want else (have == want or have.endswith(want))


@dataclass
class Claim:
    """Who holds a source id in a sync run: the document, and whether the id names it."""

    origin: str
    location: str
    rightful: bool
    outcome: str = ""  # "new"/"changed"/"unchanged" once written by this run


class Claims:
    """Who holds each source id in a sync run: the documents of this run first, then the
    ledger's rows (a canonical URL already held by a document before this run is not given to
    another)."""

    def __init__(self, ledger: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
        self._held: dict[str, Claim] = {}
        self._owners: dict[str, list[tuple[str, str]]] = {}
        for key, row in ledger.items():
            self._owners.setdefault(row["source_id"], []).append(key)

    def __contains__(self, source_id: str) -> bool:
        return source_id in self._held

    def get(self, source_id: str) -> Claim | None:
        """The document of this run that holds ``source_id``, if any."""
        return self._held.get(source_id)

    def give(self, source_id: str, claim: Claim) -> None:
        """``source_id`` now belongs to ``claim``'s document."""
        self._held[source_id] = claim

    def hold(self, origin: str, location: str, source_id: str, outcome: str = "") -> None:
        """The document at ``location`` keeps ``source_id``, unless another holds it already."""
        if source_id not in self._held:
            self._held[source_id] = Claim(
                origin, location, names_itself(origin, location, source_id), outcome
            )

    def owner(self, source_id: str, key: tuple[str, str]) -> Claim | None:
        """Another document that holds ``source_id`` (this run first, then the ledger)."""
        claim = self._held.get(source_id)
        if claim is not None:
            return None if (claim.origin, claim.location) == key else claim
        for origin, location in self._owners.get(source_id, []):
            if (origin, location) != key:
                return Claim(origin, location, names_itself(origin, location, source_id))
        return None

    def forget(self, origin: str, location: str, source_id: str) -> None:
        """The document at ``location`` no longer holds ``source_id``."""
        holders = self._owners.get(source_id, [])
        if (origin, location) in holders:
            holders.remove((origin, location))
        claim = self._held.get(source_id)
        if claim is not None and (claim.origin, claim.location) == (origin, location):
            del self._held[source_id]
