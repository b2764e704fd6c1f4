"""bench/quality.py and its labelled set (bench/labelled/): the set is consistent, the scoring
is right, and the documents' measurement runs (on three documents; the whole bench, crawls
included, is `bench/quality.py` itself)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
import yaml

BENCH = Path(__file__).resolve().parent.parent / "bench" / "quality.py"


@pytest.fixture(scope="module")
def quality() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_labelled_set_is_consistent(quality: ModuleType) -> None:
    """Every document and page has a language, a cited source and labels naming known
    watches; about thirty documents per language, about thirty pages on several sites."""
    assert quality.check_labelled() == []
    documents = quality.load_documents()
    per_language = Counter(d.language for d in documents)
    assert set(per_language) == set(quality.LANGUAGES)
    assert min(per_language.values()) >= 30, per_language
    sources = quality.load_sources()
    watches = {w["name"] for w in quality.load_watch_entries()}
    for doc in documents:
        assert doc.language in quality.LANGUAGES and doc.text.strip(), doc.id
        assert all(sources[doc.source].get(f) for f in quality.SOURCE_FIELDS), doc.id
        assert set(doc.labels) <= watches, doc.id
    # negatives too: documents that must not match anything
    assert sum(1 for d in documents if not d.labels) >= 5 * len(quality.LANGUAGES)
    sites = quality.load_sites()
    assert len(sites) >= 3 and sum(len(s.pages) for s in sites) >= 30
    for site in sites:
        for page in site.pages:
            rendered = site.render_article(page)
            assert f">{page.title}<" in rendered.replace("&#x27;", "'"), page.id
            assert set(page.labels) <= watches, page.id
            assert "<!--" not in site.render_body(page), page.id


def test_watch_list_loads_with_base_forms(quality: ModuleType) -> None:
    from monitor.watches import load_watchlist

    watches = load_watchlist(str(quality.LABELLED / "watches.yaml"), None, "watches.yaml")
    assert len(watches) == len(quality.load_watch_entries())


def test_check_labelled_names_an_unknown_label_and_a_missing_source(
        quality: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "labelled"
    shutil.copytree(quality.LABELLED, root)
    path = root / "documents" / "en.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["documents"][0]["labels"] = ["Huawai"]
    data["documents"][1]["source"] = "nowhere"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    problems = quality.check_labelled(root)
    first, second = data["documents"][0]["id"], data["documents"][1]["id"]
    assert f"document {first}: label 'Huawai' is not a watch" in problems
    assert f"document {second}: source 'nowhere' is not in sources.yaml" in problems


def test_outcomes_and_scores(quality: ModuleType) -> None:
    """Labelled and found: tp; found only: fp; labelled only: fn; no denominator: None."""
    outcomes = quality.outcomes_for("en", "d1", ["A", "B"], {"A": ("a", "…a…"),
                                                               "C": ("c", "…c…")},
                                    {"B": "…b…"})
    assert [(o.watch, o.kind) for o in outcomes] == [("A", "tp"), ("B", "fn"), ("C", "fp")]
    outcomes += quality.outcomes_for("ka", "d2", [], {}, {})
    rows = quality.score(outcomes, {"en": ["d1"], "ka": ["d2"]}, "all")
    en, ka, total = rows
    assert (en.pairs, en.tp, en.fp, en.fn, en.precision, en.recall) == (2, 1, 1, 1, 0.5, 0.5)
    assert (ka.items, ka.pairs, ka.precision, ka.recall) == (1, 0, None, None)
    assert (total.items, total.pairs, total.tp) == (2, 2, 1)
    assert "0.500" in quality.table([r.to_dict() for r in rows], "language")


def test_trace_finds_an_inflected_form(quality: ModuleType) -> None:
    entry = {"name": "Belt and Road", "match_name": False,
             "keywords": ["ერთი სარტყელი, ერთი გზა"]}
    assert "სარტყლის" in quality.trace("ერთი სარტყლის, ერთი გზის ინიციატივა", entry)
    assert quality.trace("nothing here", entry) == ""


def test_measure_documents_on_three(quality: ModuleType) -> None:
    """The documents' half of the bench on three documents: every labelled pair is a tp or
    an fn, every reported pair outside the labels an fp, and the report adds up."""
    chosen = {"ru-01", "zh-02", "en-06"}
    documents = [d for d in quality.load_documents() if d.id in chosen]
    assert {d.id for d in documents} == chosen
    outcomes = quality.measure_documents(documents)
    by_doc = {d.id: d for d in documents}
    for outcome in outcomes:
        labels = by_doc[outcome.item].labels
        assert (outcome.watch in labels) == (outcome.kind in ("tp", "fn")), outcome
        if outcome.kind != "fn":
            assert outcome.found and " ".join(outcome.found.split()) in outcome.context
    for doc in documents:
        assert {o.watch for o in outcomes
                if o.item == doc.id and o.kind != "fp"} == set(doc.labels), doc.id
    report = quality.document_report(documents, outcomes)
    total = report["rows"][-1]
    assert total["group"] == "all" and total["items"] == 3
    assert total["pairs"] == sum(len(d.labels) for d in documents)
    assert total["tp"] + total["fn"] == total["pairs"]
    assert len(report["outcomes"]) == total["fp"] + total["fn"]
