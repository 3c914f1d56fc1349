"""The answer engine's parameters and the site's names as configuration.

Every weight and threshold lives in ``assistant.params.PARAMS`` with its reason, and the engine
reads the object it is given; the site's names that the answer engine's terms drop come from the
site profile, so a second site is recognised without a code change.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.sites import VALLE_SERENA as SERENA

from assistant import terms as term_module
from assistant.config import Settings
from assistant.extractive import select
from assistant.params import PARAMS, Params, reasons
from assistant.site import DEFAULT_SITE
from assistant.terms import TermStats, terms, terms_tag, use_site
from vectorstore.passages import Passage
from vectorstore.search import SearchOptions

VALLE_SERENA = dataclasses.replace(SERENA, aliases=("PTVS",))  # with an alias, as a site may have
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def valle_serena() -> Iterator[None]:
    """The terms drop Valle Serena's names for the test, the default site's again after it."""
    use_site(VALLE_SERENA)
    try:
        yield
    finally:
        use_site(DEFAULT_SITE)


# --- every parameter has its reason --------------------------------------------------------
def test_every_parameter_has_a_one_line_reason() -> None:
    found = reasons(PARAMS)
    assert len(found) >= 40
    for name, (_, why) in found.items():
        assert why.strip(), f"{name} has no reason"
        assert "\n" not in why, f"{name}: one line"


def test_the_reasons_are_data_the_settings_table_could_list() -> None:
    value, why = reasons(PARAMS)["scoring.type_bonus"]
    assert value == 0.25
    assert "date" in why


def test_the_parameters_cannot_be_changed_in_place() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PARAMS.scoring.type_bonus = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "module",
    ["scoring", "extractive", "timeline", "directory_match", "compose", "conversation"],
)
def test_the_engine_keeps_no_weights_of_its_own(module: str) -> None:
    """No module-level number constants left in the modules whose numbers moved to PARAMS."""
    tree = ast.parse((ROOT / "assistant" / f"{module}.py").read_text(encoding="utf-8"))
    numbers = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _is_number(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    assert numbers == []


def _is_number(node: ast.expr) -> bool:
    """A number, or arithmetic on numbers only (``2 * 365``)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    if isinstance(node, ast.BinOp):
        return _is_number(node.left) and _is_number(node.right)
    if isinstance(node, ast.UnaryOp):
        return _is_number(node.operand)
    return False


# --- the engine reads the object it is given -------------------------------------------------
FAQ = Passage(
    id="p1",
    text=(
        "Opening hours\n\nThe reception opens at 8:30 every weekday. The reception closes at "
        "18:00 every weekday. The reception is closed on public holidays."
    ),
    title="Opening hours",
    url="https://example.org/en/hours",
    source_id="https://example.org/en/hours",
    language="en",
)


def quoted(params: Params) -> int:
    stats = TermStats([FAQ.text])
    selection = select("when does the reception open?", [FAQ], "en", stats, params=params)
    assert selection is not None
    return sum(len(units) for _, _, units in selection.groups)


def test_select_reads_the_parameters_it_is_given() -> None:
    one = dataclasses.replace(
        PARAMS, selection=dataclasses.replace(PARAMS.selection, max_sentences=1)
    )
    assert quoted(PARAMS) > 1
    assert quoted(one) == 1


# --- the site's names come from its profile ----------------------------------------------
def test_the_default_site_names_are_dropped_as_before() -> None:
    assert terms("Where is Kilometro Rosso?") == terms("where is?")
    assert terms("KM  rosso robotics") == terms("robotics")
    assert terms("Kilometro alone") == terms("alone")
    assert "ross" in " ".join(terms("a rosso wall"))  # "rosso" alone still means red


def test_a_configured_site_is_recognised_by_the_terms(valle_serena: None) -> None:
    assert terms("Which labs are at Parco Tecnologico Valle Serena?") == terms("which labs?")
    assert terms("robotics at valle serena") == terms("robotics")
    assert terms("PTVS robotics") == terms("robotics")
    # The old site's name is an ordinary phrase now.
    assert terms("Kilometro Rosso") != []


def test_the_term_counts_tag_names_the_site(valle_serena: None) -> None:
    other = terms_tag()
    use_site(DEFAULT_SITE)
    assert terms_tag() != other
    assert terms_tag().startswith(f"{term_module.TERMS_VERSION}:")


def test_no_site_name_is_written_in_the_terms_module() -> None:
    source = (ROOT / "assistant" / "terms.py").read_text(encoding="utf-8")
    assert not re.search(r"kilometro|rosso", source, re.IGNORECASE)


def test_the_default_site_keeps_its_alias_and_another_site_does_not_inherit_it() -> None:
    assert Settings(_env_file=None).site_profile().aliases == ("KM Rosso",)
    other = Settings(_env_file=None, site_name="Parco Tecnologico Valle Serena")
    assert other.site_profile().aliases == ()
    named = Settings(_env_file=None, site_name="Valle Serena", site_aliases="PTVS, VS")
    assert named.site_profile().aliases == ("PTVS", "VS")


def test_the_search_weights_are_vectorstore_options_with_reasons() -> None:
    found = reasons(SearchOptions(retrieval_k=5))
    weights = {name: why for name, (_, why) in found.items() if name != "retrieval_k"}
    assert {"rrf_k", "dense_weight", "keyword_weight"} <= set(weights)
    assert all(why.strip() for why in weights.values())
