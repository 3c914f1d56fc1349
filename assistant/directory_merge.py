"""The partner directory merged into one record per organisation.

The directory entries are extracted at ingest (ingest.directory_extract) and stored beside
the sync ledger (ingest.directory). An entry that links to a page takes that page's URL, name
and hreflang alternates (its language versions); entries are then joined when they share a
page URL (or a language version of it) or the same name. ``group`` entries (a table keyed by
cluster or building) give their value to every organisation their text names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ingest.dates import find_dates
from ingest.directory import DirectoryEntry
from vectorstore.text import fold


@dataclass
class Organisation:
    """One resident organisation, merged from every entry that names it."""

    name: str
    url: str  # its own page when known, else the page that lists it
    description: str = ""
    sectors: list[str] = field(default_factory=list)
    buildings: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # what the listing calls it
    since: str = ""
    year: int = 0
    languages: dict[str, str] = field(default_factory=dict)  # language -> page URL
    found_on: list[dict[str, str]] = field(default_factory=list)  # url, where, kind
    mentions: list[str] = field(default_factory=list)  # group texts that name it
    sector_languages: dict[str, str] = field(default_factory=dict)  # sector -> its page's language

    def text(self) -> str:
        """Everything the record says, for topic words."""
        return " ".join(
            [self.name, self.description, *self.sectors, *self.buildings, *self.mentions]
        )


@lru_cache(maxsize=50_000)
def norm(text: str) -> str:
    """Folded (lower case, no accents), punctuation as spaces: names compare as words.

    Cached: every list question folds the same organisation names and page texts again."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).split())


def name_aliases(name: str) -> list[str]:
    """The name, and its head before a dash, colon or bracket ("Istituto X – Centro Y")."""
    head = re.split(r"\s[–—-]\s|[(:]", name, maxsplit=1)[0]
    return [a for a in dict.fromkeys([norm(name), norm(head)]) if a]


class _Merger:
    """Union-find over identities (page URLs, normalised names)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        """The root of ``key``'s set (path halving)."""
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, keys: Sequence[str]) -> str:
        """Join the sets of ``keys``; the first key's root is the new root."""
        roots = [self.find(k) for k in keys]
        for root in roots[1:]:
            self.parent[root] = roots[0]
        return roots[0]


def build(entries: Sequence[tuple[str, DirectoryEntry]]) -> list[Organisation]:
    """One Organisation per resident, from the stored entries of every document."""
    stubs = {e.key: e for _, e in entries if e.kind == "stub"}
    by_url = {e.url: e for e in stubs.values()}
    people = [e for _, e in entries if e.kind in ("row", "page")]
    merger = _Merger()
    identity: list[tuple[DirectoryEntry, DirectoryEntry | None, str]] = []
    for entry in people:
        own = stubs.get(entry.target) if entry.kind == "row" else by_url.get(entry.url)
        if entry.kind == "row" and own is None and entry.target.startswith("http"):
            own = by_url.get(entry.target)
        if own is not None and own.key == entry.key and entry.kind == "row":
            own = None  # a link back to the listing page itself
        keys = [f"name:{norm(entry.name)}"]
        if own is not None:
            keys += [f"url:{own.url}", *(f"url:{u}" for u in own.alternates.values())]
        identity.append((entry, own, merger.union(keys)))
    orgs: dict[str, Organisation] = {}
    for entry, own, _ in identity:
        root = merger.find(f"name:{norm(entry.name)}")
        org = orgs.get(root)
        if org is None:
            org = orgs[root] = Organisation(name=entry.name, url="")
        if own is not None and f" {norm(org.name)} ".startswith(f" {norm(own.name)} "):
            # a listing's name with a badge or a note after it ("X nuova", "X (in English)"):
            # the organisation's own page names it
            org.name = own.name if norm(own.name) else org.name
        if own is not None and not org.url:
            org.url = own.url
            org.languages.update({own.language or "": own.url})
            for lang, url in own.alternates.items():
                if lang != "x-default":
                    org.languages.setdefault(lang[:2], url)
        elif entry.kind == "page" and not org.url:
            org.url = entry.url
        org.description = org.description or entry.description
        for values, value in ((org.sectors, entry.sector), (org.buildings, entry.building)):
            if value and value not in values:
                values.append(value)
        kind_of = entry.sector or (
            entry.group if entry.kind == "row" and "·" not in entry.group else ""
        )
        if kind_of and entry.language:
            # what the entry says the organisation is: its sector, else the one heading its
            # listing puts it under ("Life sciences" above a group of cards)
            org.sector_languages.setdefault(kind_of, entry.language[:2])
        if entry.group and entry.group not in org.groups:
            org.groups.append(entry.group)
        _take_since(org, entry)
        if own is not None and own.since and not org.since:
            # the organisation's own page states its arrival, the listing does not (a listing
            # with no year column); only then, as its facts may speak of something else
            org.since, org.year = own.since, own.year
        org.found_on.append({"url": entry.url, "where": entry.where, "kind": entry.kind})
    for org in orgs.values():
        if not org.url:  # no page of its own: link the page that lists it
            org.url = org.found_on[0]["url"]
        if not org.description:
            own_stub = by_url.get(org.url)
            org.description = own_stub.description if own_stub else ""
    result = list(orgs.values())
    _assign_groups([e for _, e in entries if e.kind == "group"], result)
    _translate_sectors(result)
    return result


def _translate_sectors(orgs: Sequence[Organisation]) -> None:
    """Give each organisation its sector's wording in the other language, learnt from the
    organisations whose pages state it in both: "Robotica e automazione" on the Italian
    listing and "Robotics & automation" on the English one, for two organisations or more,
    make them one value, so an organisation listed in one language only is found by either.

    Only an organisation with exactly one sector (or listing heading, when its entry has no
    sector) in each of two languages teaches a pair, and a wording paired with two different
    ones is ambiguous and left alone."""
    pairs: dict[tuple[str, str], int] = {}
    shown: dict[str, str] = {}
    for org in orgs:
        by_language: dict[str, set[str]] = {}
        for value, language in org.sector_languages.items():
            by_language.setdefault(language, set()).add(norm(value))
            shown.setdefault(norm(value), value)
        if len(by_language) != 2 or any(len(v) != 1 for v in by_language.values()):
            continue
        (first,), (second,) = by_language.values()
        if first != second:
            pair = (min(first, second), max(first, second))
            pairs[pair] = pairs.get(pair, 0) + 1
    uses: dict[str, int] = {}
    for pair in pairs:
        for value in pair:
            uses[value] = uses.get(value, 0) + 1
    # a wording paired with two different ones (a heading "Start-up" over organisations of
    # several sectors) is not a translation
    taught = [pair for pair, n in pairs.items() if n >= 2 and all(uses[v] == 1 for v in pair)]
    other = {a: b for pair in taught for a, b in (pair, pair[::-1])}
    for org in orgs:
        held = {norm(v) for v in org.sectors}
        for value in list(org.sectors):
            twin = other.get(norm(value))
            if twin is not None and twin not in held:
                org.sectors.append(shown[twin])
                held.add(twin)


def _take_since(org: Organisation, entry: DirectoryEntry) -> None:
    """The entry's arrival, when the organisation has none yet or the entry states the same
    year more precisely ("since 2024" on the listing, "June 2024" on the organisation's
    page)."""
    if entry.since and (
        not org.since or entry.year == org.year and _precision(entry.since) > _precision(org.since)
    ):
        org.since, org.year = entry.since, entry.year


def _assign_groups(groups: Sequence[DirectoryEntry], orgs: Sequence[Organisation]) -> None:
    """Give each group's value (a cluster, a building) to the organisations its text names."""
    aliases = [(org, a.split()) for org in orgs for a in name_aliases(org.name)]
    for group in groups:
        for item in re.split(r"[;,]|\band\b|\be\b", group.description):
            words = norm(item).split()
            best: tuple[int, Organisation | None] = (0, None)
            for org, alias in aliases:
                score = _prefix_match(words, alias, aliases, org)
                if score > best[0]:
                    best = (score, org)
            found = best[1]
            if found is None:
                continue
            for values, value in ((found.sectors, group.sector), (found.buildings, group.building)):
                if value and value not in values:
                    values.append(value)
            found.mentions.append(item.strip())


def _prefix_match(
    words: list[str], alias: list[str], aliases: list[tuple[Organisation, list[str]]], org: object
) -> int:
    """How many leading words of ``alias`` occur in sequence in ``words`` (0 = no match).

    A partial prefix counts only when no other organisation's name starts with it
    ("Brembo SGL carbon-ceramic discs" names Brembo SGL..., not Brembo).
    """
    best = 0
    for start in range(len(words)):
        k = 0
        while k < len(alias) and start + k < len(words) and words[start + k] == alias[k]:
            k += 1
        if k == len(alias):
            best = max(best, k)
        elif k and len(" ".join(alias[:k])) >= 4:
            shared = any(
                other is not org and other_alias[:k] == alias[:k] for other, other_alias in aliases
            )
            if not shared:
                best = max(best, k)
    return best


_PRECISION = {"year": 1, "quarter": 2, "month": 3, "day": 4}


def _precision(since: str) -> int:
    """How precisely an arrival is stated: 0 with no date, 1 a year ... 4 a day."""
    return max((_PRECISION.get(m.precision, 0) for m in find_dates(since)), default=0)
