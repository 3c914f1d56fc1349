"""Hybrid retrieval: the right page for Italian and English questions, in the asker's language,
with filters, without repeats, and a keyword index that follows the store."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.conversation import (
    detect_language,
    prepare_question,
    retrieval_query,
    search_question,
)
from assistant.schema import Turn
from vectorstore.fusion import (
    Candidate,
    drop_duplicates,
    prefer_language,
    reciprocal_rank_fusion,
    with_parts,
)
from vectorstore.keyword_index import KeywordIndex
from vectorstore.passages import Filters, Passage
from vectorstore.search import HybridSearcher
from vectorstore.store import IndexStore
from vectorstore.text import jaccard, query_tokens, shingles, words

SITE = "https://www.kilometrorosso.com"


def _sources(passages: list[Passage], n: int = 5) -> list[str]:
    return [p.source_id for p in passages[:n]]


# --- real index of the sample site ---------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("how tall is that red wall you see from the motorway", "/en/campus/architecture"),
        ("what kind of research does Sofar do in their lab?", "/en/partners/sofar"),
        ("who was the architect of i lab", "/en/partners/italcementi-ilab"),
        ("how many member companies does intellimech have now", "/en/partners/intellimech"),
        ("quanti posti ha l'auditorium di confindustria", "/it/partner/confindustria-bergamo"),
        ("come si chiamano i prototipi del joiint lab", "/it/partner/joiint-lab"),
        (
            "quanto investono brembo e sgl per ampliare la produzione",
            "/it/partner/brembo-sgl-carbon-ceramic-brakes",
        ),
        ("i camion per il BiG da dove devono entrare?", "/it/visita/come-raggiungerci"),
    ],
)
def test_facts_in_italian_and_english_retrieve_their_page_in_the_top_five(
    sample_index,
    question: str,
    page: str,  # noqa: ANN001
) -> None:
    passages = sample_index.searcher.search(question, k=8, language=detect_language(question))
    assert SITE + page in _sources(passages), _sources(passages)


@pytest.mark.parametrize(
    ("question", "language", "own", "translation"),
    [
        (
            "quanto è costato il BiG Technology Center?",
            "it",
            "/it/campus/big-technology-center",
            "/en/campus/big-technology-center",
        ),
        (
            "how much did the BiG Technology Center cost?",
            "en",
            "/en/campus/big-technology-center",
            "/it/campus/big-technology-center",
        ),
        (
            "quanti dottorati finanzia l'accordo con ENEA?",
            "it",
            "/it/news/2022-06-enea-entra-al-kilometro-rosso",
            "/en/partners/enea",
        ),
        (
            "how many PhD positions does the ENEA agreement fund?",
            "en",
            "/en/partners/enea",
            "/it/news/2022-06-enea-entra-al-kilometro-rosso",
        ),
    ],
)
def test_of_a_page_and_its_translation_the_askers_language_comes_first(
    sample_index,
    question: str,
    language: str,
    own: str,
    translation: str,  # noqa: ANN001
) -> None:
    passages = sample_index.searcher.search(question, k=8, language=language)
    sources = [p.source_id for p in passages]
    assert passages[0].language == language
    assert SITE + own in sources
    if SITE + translation in sources:
        assert sources.index(SITE + own) < sources.index(SITE + translation)


def test_filters_restrict_language_page_type_and_url_prefix(sample_index) -> None:  # noqa: ANN001
    searcher = sample_index.searcher
    question = "who designed the red wall?"
    italian = searcher.search(question, filters=Filters(language="it"), language="en")
    assert italian and all(p.language == "it" for p in italian)
    partners = searcher.search(question, filters=Filters(page_type="partner"))
    assert partners and all(p.page_type == "partner" for p in partners)
    prefix = f"{SITE}/en/news/"
    news = searcher.search(question, filters=Filters(url_prefix=prefix))
    assert news and all(p.source_id.startswith(prefix) or p.url.startswith(prefix) for p in news)
    assert SITE + "/en/news/2021-red-wall-portals" in _sources(news)
    both = searcher.search(question, filters=Filters(language="en", page_type="faq"))
    assert both and all(p.language == "en" and p.page_type == "faq" for p in both)
    assert searcher.search(question, filters=Filters(url_prefix="https://elsewhere.example/")) == []


def test_no_passage_is_shown_twice(sample_index) -> None:  # noqa: ANN001
    for question in [
        "Kilometro Rosso contatti telefono indirizzo",
        "red wall length height Nouvel",
    ]:
        passages = sample_index.searcher.search(question, k=20)
        assert len({p.id for p in passages}) == len(passages)
        bodies = [shingles(p.text) for p in passages]
        for i, a in enumerate(bodies):
            for b in bodies[i + 1 :]:
                assert jaccard(a, b) < 0.85


def test_k_defaults_to_the_setting_and_passages_carry_fused_scores(sample_index) -> None:  # noqa: ANN001
    passages = sample_index.searcher.search("where is the campus?")
    assert len(passages) == sample_index.settings.retrieval_k
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert sample_index.searcher.search("   ") == []


def test_a_follow_up_is_found_through_the_earlier_turns(sample_index) -> None:  # noqa: ANN001
    history = [
        Turn(role="user", content="cosa fa Brembo SGL Carbon Ceramic Brakes?"),
        Turn(role="assistant", content="Produce dischi freno in carbonio ceramico."),
    ]
    question = "dove sono i loro stabilimenti?"
    page = f"{SITE}/it/partner/brembo-sgl-carbon-ceramic-brakes"
    query = retrieval_query(question, history)
    assert query != question
    found = sample_index.searcher.search(query, k=5, language="it")
    assert page in _sources(found)
    assert any("Meitingen" in p.text for p in found)


def test_a_follow_up_about_what_the_last_answer_named_finds_its_page(sample_index) -> None:  # noqa: ANN001
    history = [
        Turn(role="user", content="who had the idea of the park?"),
        Turn(role="assistant", content="Alberto Bombassei, the founder of Brembo."),
    ]
    prepared = prepare_question("ok and when was his company founded?", history)
    page = f"{SITE}/en/partners/brembo"
    found = search_question(sample_index.searcher, prepared, k=5)
    assert page in _sources(found)
    assert any("1961" in p.text for p in found)
    # the user's turns alone do not reach it
    alone = sample_index.searcher.search(prepared.query, k=5, language="en")
    assert page not in _sources(alone)


def test_each_part_of_a_two_part_question_has_its_best_passage_among_those_retrieved(
    sample_index,  # noqa: ANN001
) -> None:
    prepared = prepare_question(
        "how big is the BiG Technology Center and who designed the red wall?"
    )
    assert len(prepared.parts) == 2
    found = search_question(sample_index.searcher, prepared, k=5)
    whole = sample_index.searcher.search(prepared.query, k=5, language=prepared.language)
    assert [p.id for p in found[:5]] == [p.id for p in whole]  # the whole list leads, whole
    assert len(found) <= 5 + 2
    for part in prepared.parts:
        best = sample_index.searcher.search(part, k=5, language=prepared.language)[0]
        assert best.id in {p.id for p in found}
    scores = [p.score for p in found]
    assert scores == sorted(scores, reverse=True)


def test_search_detailed_exposes_the_signals_behind_the_ranking(sample_index) -> None:  # noqa: ANN001
    result = sample_index.searcher.search_detailed("who is the director of the district?", k=5)
    assert len(result.passages) == 5 and len(result.candidates) == 5
    assert result.top_dense is not None and 0 < result.top_dense <= 1
    assert result.top_keyword is not None and result.top_keyword > 0
    nonsense = sample_index.searcher.search_detailed("zxqv wibble frobnicate", k=5)
    assert nonsense.keyword_hits == 0 and nonsense.top_keyword is None


# --- the keyword index follows the store ---------------------------------------------------
def _add(store: IndexStore, chunk_id: str, text: str, **meta: str) -> None:
    metadata = {
        "source": f"{SITE}/scratch/{chunk_id}",
        "url": f"{SITE}/scratch/{chunk_id}",
        "title": "Scratch",
        "language": "en",
        "page_type": "news",
        "heading": "",
    }
    metadata.update(meta)
    store.collection.add(
        ids=[chunk_id],
        documents=[text],
        metadatas=[metadata],
        embeddings=[store.embeddings.embed_documents([text])[0]],
    )


def test_the_keyword_index_is_rebuilt_when_the_store_generation_changes(
    make_settings,
    embeddings,  # noqa: ANN001
) -> None:
    settings = make_settings(collection_prefix="scratch")
    store = IndexStore(settings.store_options(), embeddings)
    searcher = HybridSearcher(store, settings.search_options(), check_interval=0.0)
    _add(store, "a", "Scratch\n\nThe canteen serves risotto on Tuesdays.")
    store.bump_generation()
    assert searcher.search("risotto")[0].id == "a"
    assert searcher.search_detailed("zorblattium alloy").keyword_hits == 0

    _add(store, "b", "Scratch\n\nA new zorblattium alloy laboratory opens next spring.")
    # Until a sync records the change, the keyword index stays as it was...
    assert searcher.search_detailed("zorblattium alloy").keyword_hits == 0
    store.bump_generation()
    # ...and afterwards the new chunk is found by keyword.
    result = searcher.search_detailed("zorblattium alloy")
    assert result.keyword_hits == 1 and result.passages[0].id == "b"

    store.delete(["b"])
    store.bump_generation()
    assert "b" not in {p.id for p in searcher.search("zorblattium alloy")}


def test_the_generation_is_checked_at_most_once_per_interval(make_settings, embeddings) -> None:  # noqa: ANN001
    settings = make_settings(collection_prefix="interval")
    store = IndexStore(settings.store_options(), embeddings)
    searcher = HybridSearcher(store, settings.search_options(), check_interval=3600.0)
    calls = 0
    original = store.generation

    def counting() -> str:
        nonlocal calls
        calls += 1
        return original()

    store.generation = counting  # type: ignore[method-assign]
    for _ in range(5):
        searcher.keyword_index()
    assert calls == 1
    searcher.refresh()
    assert calls == 2


def test_searches_from_many_threads_during_rebuilds_do_not_fail(make_settings, embeddings) -> None:  # noqa: ANN001
    settings = make_settings(collection_prefix="threads")
    store = IndexStore(settings.store_options(), embeddings)
    searcher = HybridSearcher(store, settings.search_options(), check_interval=0.0)
    _add(store, "seed", "Scratch\n\nThe shuttle bus leaves from the main gate.")
    store.bump_generation()
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                assert searcher.search("shuttle bus", k=3)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(5):
        _add(store, f"extra{i}", f"Scratch\n\nExtra note number {i} about parking.")
        store.bump_generation()
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert any(p.id.startswith("extra") for p in searcher.search("extra note parking", k=5))


# --- the pure parts --------------------------------------------------------------------------
def _p(pid: str, text: str = "", *, source: str | None = None, language: str = "en") -> Passage:
    source = source or f"{SITE}/{pid}"
    return Passage(
        id=pid,
        text=text or f"T\n\ntext of {pid}",
        title="T",
        url=source,
        source_id=source,
        language=language,
    )


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    a, b, c = _p("a"), _p("b"), _p("c")
    fused = reciprocal_rank_fusion([(a, 0.9), (b, 0.8)], [(b, 5.0), (c, 4.0)], rrf_k=60)
    assert [x.passage.id for x in fused] == ["b", "a", "c"]
    assert fused[0].dense_rank == 2 and fused[0].keyword_rank == 1
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    weighted = reciprocal_rank_fusion([(a, 0.9)], [(c, 4.0)], keyword_weight=0.5)
    assert [x.passage.id for x in weighted] == ["a", "c"]


def test_a_translation_in_the_askers_language_pushes_the_other_page_down() -> None:
    en = _p("en", source=f"{SITE}/en/x", language="en")
    it = _p("it", source=f"{SITE}/it/x", language="it")
    alternates = {f"{SITE}/en/x": {"it": f"{SITE}/it/x"}, f"{SITE}/it/x": {"en": f"{SITE}/en/x"}}
    cands = [Candidate(en, score=1.0), Candidate(it, score=0.8)]
    ranked = prefer_language(cands, "it", alternates)
    assert [c.passage.id for c in ranked] == ["it", "en"]
    # without a translation among the matches, another language keeps its place
    alone = prefer_language([Candidate(_p("e2"), score=1.0), Candidate(it, score=0.8)], "it", {})
    assert alone[0].passage.id == "e2"
    # no asker language: nothing changes
    assert [
        c.passage.id for c in prefer_language([Candidate(en, score=1.0)], None, alternates)
    ] == ["en"]


def test_duplicates_by_id_and_by_near_identical_text_are_dropped() -> None:
    body = "The red wall is about one kilometre long and ten metres high, designed by Jean Nouvel."
    cands = [
        Candidate(_p("a", f"Architecture\n\n{body}"), score=3),
        Candidate(_p("a", f"Architecture\n\n{body}"), score=2.5),
        Candidate(
            _p("b", f"FAQ\n\n{body}", source=f"{SITE}/faq"), score=2
        ),  # same body, other page
        Candidate(_p("c", "Other\n\nThe BiG Technology Center has three buildings."), score=1),
    ]
    assert [c.passage.id for c in drop_duplicates(cands, 10)] == ["a", "c"]
    assert [c.passage.id for c in drop_duplicates(cands, 1)] == ["a"]


def test_one_page_cannot_fill_every_place() -> None:
    same = [
        Candidate(_p(f"s{i}", f"S\n\nsection {i} " + "word " * i, source=f"{SITE}/s"), score=10 - i)
        for i in range(5)
    ]
    other = Candidate(_p("o", "O\n\nanother page"), score=1)
    kept = drop_duplicates([*same, other], 4, max_per_source=3)
    assert [c.passage.id for c in kept] == ["s0", "s1", "s2", "o"]


def test_keyword_tokens_fold_accents_stem_both_languages_and_join_names() -> None:
    assert "citta" in words("Città?") and "m2" in words("13.000 m²")
    assert {"ilab", "coworking"} <= set(words("l'i.lab e il co-working"))
    assert "il" not in words("il muro") and "the" not in words("the wall")
    tokens = query_tokens("edifici costruiti")
    assert "costru" in tokens  # Italian stem: "costruiti" matches "costruito"
    index = KeywordIndex.build(
        [
            (
                "1",
                "Lab\n\nL'edificio è stato costruito nel 2010.",
                {"language": "it", "source": "s1"},
            ),
            ("2", "Wall\n\nThe wall was built in 2002.", {"language": "en", "source": "s2"}),
        ]
    )
    assert [p.id for p, _ in index.search("edifici costruiti", 5)] == ["1"]
    assert [p.id for p, _ in index.search("walls", 5)] == ["2"]
    assert [p.id for p, _ in index.search("2010", 5, Filters(language="en"))] == []


def test_each_parts_best_passage_comes_after_the_whole_questions_first() -> None:
    whole = [_p(x) for x in "abcde"]
    for i, p in enumerate(whole):
        p.score = 1.0 - i / 10
    parts = [[_p("b"), _p("x")], [_p("y"), _p("a")], [_p("e")], []]
    parts[1][0].score = 5.0  # a part's own score never rises above the list's
    merged = with_parts(whole, parts, 3)
    # "b" is among the first three already; "y" and "e" come after them; nothing is lost
    assert [p.id for p in merged] == ["a", "b", "c", "y", "e", "d"]
    assert merged[3].score == merged[2].score
    assert [p.id for p in with_parts(whole, [], 3)] == ["a", "b", "c", "d", "e"]
