"""The codebook page and ``codebook(year, variable)`` in a page run: every harmonised variable
with its levels and, year by year, each question and answer that feeds it, read from the
processed ``answer_map`` table (the same rows as from the raw files)."""

from __future__ import annotations

import html as htmllib
import os

import pandas as pd
import pytest
from _site import ensure_processed

from ospo_survey.core.paths import SOURCE_ENV
from ospo_survey.ingest import dataset
from ospo_survey.ingest.harmonize import definitions
from ospo_survey.site import pages

pytestmark = pytest.mark.data

CASES = [(2022, "ospo_status"), (2022, "activity"), (2022, "activity_contribute"),
         (2019, "journey"), (2019, "journey_consume"), (2024, "has_ospo"), (2023, "channel"),
         (2018, "ospo_status")]


@pytest.fixture(scope="module")
def codebook_html(tmp_path_factory) -> str:
    ensure_processed()
    root = tmp_path_factory.mktemp("codebook")
    path = pages.build_codebook(root, progress=None)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("year", "variable"), CASES)
def test_processed_codebook_equals_the_raw_one(monkeypatch, year, variable):
    ensure_processed()
    raw = dataset.codebook(year, variable)
    monkeypatch.setenv(SOURCE_ENV, "processed")
    got = dataset.codebook(year, variable)
    assert list(got.columns) == list(raw.columns)
    norm = [f.astype(object).where(f.notna(), None).values.tolist() for f in (raw, got)]
    assert norm[0] == norm[1]


def test_every_variable_and_every_answer_is_on_the_page(codebook_html):
    text = htmllib.unescape(codebook_html)
    for name, spec in definitions().items():
        assert f'id="var-{name}"' in codebook_html, name
        assert str(spec["label"]) in text, name
    summary = dataset.codebook()
    asked = summary[summary["asked"]]
    assert len(asked) > 100
    for row in asked.itertuples(index=False):
        answers = dataset.codebook(int(row.year), str(row.variable))
        for a in answers.itertuples(index=False):
            assert f"<strong>{int(row.year)}</strong> · {a.qid}:" in text, (row.year, a.qid)
            assert str(a.answer) in text, (row.year, row.variable, a.answer)


def test_no_collector_id_and_nothing_identifying(codebook_html):
    import re

    assert not re.search(r"\b\d{8,}\b", codebook_html)  # SurveyMonkey collector ids are long
    body = codebook_html.split("</style>", 1)[1]
    assert "@" not in re.sub(r"<[^>]+>", "", body)  # no e-mail address


def test_the_index_links_the_codebook(tmp_path):
    ensure_processed()
    pages.build_codebook(tmp_path, progress=None)
    pages.build_index(tmp_path, progress=None)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="codebook/index.html"' in index


def test_page_run_reads_no_raw_file(monkeypatch, tmp_path):
    """The codebook page is built from processed tables only (raw reads refuse)."""
    ensure_processed()
    monkeypatch.setenv(SOURCE_ENV, "processed")
    monkeypatch.setattr(dataset, "year_data", lambda y: pytest.fail("read raw"))
    pages.build_codebook(tmp_path, progress=None)
    assert (tmp_path / "codebook" / "index.html").stat().st_size > 50_000
    assert os.environ[SOURCE_ENV] == "processed"
    _ = pd  # pandas is the page's only data dependency
