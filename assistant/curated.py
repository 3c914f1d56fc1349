"""Curated answers: staff-written answers that a visitor's question gets before the index's.

The feature lives in three modules; the names the routes and the staff services use are
gathered here, so they need not know how it is divided:

- ``assistant.curated_store``: the tables, what staff write (``CuratedInput``), the store
  with its audit trail, optimistic concurrency and exports, and the errors;
- ``assistant.curated_features``: how a question is described (e5 vectors of the question
  and of its words) and the features of a pair of questions;
- ``assistant.curated_match``: the calibrated match model (``curated_model.json``, fitted by
  ``scripts/bench_curated.py``) and the matcher that finds a visitor's curated answer.
"""

from assistant.curated_match import CuratedMatcher, MatchModel, query_embedder, without_curated
from assistant.curated_store import CuratedInput, CuratedStore, VersionConflict

__all__ = [
    "CuratedInput",
    "CuratedMatcher",
    "CuratedStore",
    "MatchModel",
    "VersionConflict",
    "query_embedder",
    "without_curated",
]
