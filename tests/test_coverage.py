"""Every closed question of every year is on its page, and every methods appendix discloses.

Coverage is checked against each year's question table (``ospo_survey.questions``): the built
pages of the test site (tests/_site.py) and, for the other years, the appendix rendered in this
process. Estimates are checked against counts taken directly from ``ospo_survey.load``.
"""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from _site import SITE_YEARS, build_site, pages

import ospo_survey
from ospo_survey.analysis import disclosure as D
from ospo_survey.analysis.questions import all_questions
from ospo_survey.analysis.year import YearAnalysis
from ospo_survey.core.errors import CodebookError
from ospo_survey.ingest.dataset import _row_ids
from ospo_survey.ingest.harmonize import definitions
from ospo_survey.ingest.read import read_raw
from ospo_survey.ingest.settings import available_years
from ospo_survey.rendering.all_questions import all_questions_section
from ospo_survey.rendering.disclosure import ELEMENTS, disclosure_section

SMALL_CELL = 10  # the hardening issue's small-cell threshold (respondents)
_TAG = re.compile(r"<[^>]+>")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory)


@pytest.fixture(scope="module")
def year_pages():
    """Each year's page analysis: the appendices render from it."""
    return {y: YearAnalysis(y) for y in available_years()}


def _text(fragment: str) -> str:
    """What a reader sees: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def _page_html(site, year_pages, year: int) -> str:
    if year in SITE_YEARS:
        return pages(site)[str(year)].read_text(encoding="utf-8")
    rep = year_pages[year]
    return disclosure_section(rep).html + all_questions_section(rep).html


def _closed(year: int):
    q = ospo_survey.questions([year])
    q = q[q["kind"].isin(["single", "multiple", "matrix"])]
    return q.drop_duplicates("qid")[["qid", "question", "kind"]]


@pytest.mark.data
def test_the_issue_counts_306_closed_questions():
    assert sum(len(_closed(y)) for y in available_years()) == 306


@pytest.mark.data
@pytest.mark.parametrize("year", available_years())
def test_every_closed_question_appears_with_its_id_and_wording(site, year_pages, year):
    text = _text(_page_html(site, year_pages, year))
    missing = []
    for qid, question, _ in _closed(year).itertuples(index=False):
        wording = " ".join(str(question).split())
        if not re.search(rf"(?<!\w){re.escape(qid)}\W{{1,5}}{re.escape(wording)}", text):
            missing.append(qid)
    assert not missing, f"{year}: not on the page: {missing}"


@pytest.mark.data
def test_unweighted_shares_equal_counts_from_the_loaded_answers():
    rep = YearAnalysis(2022, "none")
    got = {q.qid: q for q in all_questions(rep)}
    df = ospo_survey.load(2022)
    # single choice: Q6 (OSPO or not)
    answers = df["Q6"].dropna()
    est = got["Q6"].frame.set_index("level")
    assert int(est["n"].iloc[0]) == len(answers)
    for label, count in answers.value_counts().items():
        assert est.at[label, "estimate"] == pytest.approx(count / len(answers), abs=1e-9)
    # matrix: each row of Q4 (activities) has its own base
    q4 = ospo_survey.questions([2022])
    q4 = q4[(q4["qid"] == "Q4") & (q4["kind"] == "matrix")]
    frame = got["Q4"].frame
    checked = 0
    for row, cols in q4.groupby("row", sort=False)["column"]:
        cols = [c for c in cols if c in df.columns]
        vals = df[cols].bfill(axis=1).iloc[:, 0].dropna()
        part = frame[frame["row"] == row].set_index("level")
        assert int(part["n"].iloc[0]) == len(vals)
        for label, count in vals.value_counts().items():
            assert part.at[label, "estimate"] == pytest.approx(count / len(vals), abs=1e-9)
        checked += 1
    assert checked >= 5


@pytest.mark.data
@pytest.mark.parametrize("year", available_years())
def test_small_cells_are_suppressed_and_say_so(year_pages, year):
    rep = year_pages[year]
    qs = all_questions(rep)
    frames = [q.frame for q in qs]
    shown = [f[~f["suppressed"]] for f in frames]
    assert all((s["n"] >= SMALL_CELL).all() for s in shown)
    assert all(s["estimate"].notna().all() for s in shown)
    hidden = sum(int(f["suppressed"].sum()) for f in frames)
    for f in frames:
        assert (f["suppressed"] == ~(f["n_eff"] >= rep.min_n_eff)).all()
        assert f.loc[f["suppressed"], ["estimate", "ci_low", "ci_high"]].isna().all().all()
    page = all_questions_section(rep).html
    assert page.count("suppressed</td>") == hidden
    assert "suppression rule" in page and f"below {rep.min_n_eff:g}" in page


@pytest.mark.data
def test_tables_label_in_the_datas_words_with_scoped_headers(year_pages):
    for year in (2020, 2024):  # 2020: write-in boxes repeat an option's label
        page = all_questions_section(year_pages[year]).html
        cols = set(ospo_survey.questions([year])["column"])
        cells = re.findall(r"<th[^>]*>([^<]*)</th>", page)
        assert cells and not [c for c in cells if any(f"({col})" in c for col in cols)]
        assert not re.search(r"<th(?=[\s>])(?![^>]*scope=)", page)
        assert page.count("<details") == len(_closed(year))
        assert page.count('<div class="table-scroll">') <= page.count("<details")


@pytest.mark.data
def test_appendix_is_deterministic(year_pages):
    rep = year_pages[2023]
    assert all_questions_section(rep).html == all_questions_section(YearAnalysis(2023)).html


# --------------------------------------------------------------------------- disclosure

_ELEMENT = re.compile(r'<div data-aapor="(?P<key>[a-z]+)"><dt>(?P<dt>.*?)</dt>'
                      r"<dd>(?P<dd>.*?)</dd></div>", re.S)


@pytest.mark.data
@pytest.mark.parametrize("year", available_years())
def test_methods_disclose_every_aapor_element(site, year_pages, year):
    page = _page_html(site, year_pages, year)
    found = {m["key"]: (m["dt"], _text(m["dd"])) for m in _ELEMENT.finditer(page)}
    assert list(found) == [k for k, _ in ELEMENTS]
    for key, name in ELEMENTS:
        assert found[key][0] == name and len(found[key][1]) >= 30, (year, key)
    n = len(ospo_survey.load(year))
    assert f"{n:,} in the publisher sample" in found["precision"][1]
    assert "non-probability (opt-in) sample" in found["precision"][1]
    assert "sampling variability only" in found["precision"][1]
    assert 'href="#all-questions"' in page and 'id="all-questions"' in page
    steps = ospo_survey.funnel([year])
    for step in steps[steps["screen"] == "publisher"]["step"]:
        assert " ".join(str(step).split()) in found["recruitment"][1], (year, step)
    assert D.fieldwork(year)["sponsor"] in found["sponsor"][1]


@pytest.mark.data
def test_2023_recruitment_names_the_paid_panel(year_pages):
    rep = year_pages[2023]
    text = _text(disclosure_section(rep).html)
    panel = definitions()["channel"]["panel"]
    h = ospo_survey.load_harmonized([2023], sample="publisher")
    count = int((h["channel"] == panel).sum())
    assert count > 0
    assert f"{count:,} of the {len(h):,} came through the paid panel" in text
    assert f"“{panel}”" in text
    others = [y for y in available_years() if y != 2023]
    assert not any("paid panel of organisations" in _text(disclosure_section(year_pages[y]).html)
                   for y in others)


@pytest.mark.data
def test_dates_come_from_the_responses(year_pages):
    for year in (2022, 2019):
        text = _text(disclosure_section(year_pages[year]).html)
        rep = year_pages[year]
        # the raw export (the page may read the processed tables, which keep no dates)
        raw = read_raw(year)
        r = raw.responses
        if "start_date" not in r.columns:
            assert "Not recorded" in text
            continue
        sample = r[_row_ids(raw).isin(set(rep.frame["row_id"].astype(str))).to_numpy()]
        assert len(sample) == len(rep.frame)
        start = pd.to_datetime(sample["start_date"], errors="coerce").min()
        end = pd.to_datetime(sample["end_date"], errors="coerce").max()
        assert f"{start:%-d %B %Y} to {end:%-d %B %Y}" in text


def test_a_codebook_without_fieldwork_facts_is_one_short_error(monkeypatch):
    monkeypatch.setattr(D, "year_settings", lambda year: {"fieldwork": {"sponsor": "x"}})
    with pytest.raises(CodebookError) as err:
        D.fieldwork(2022)
    msg = str(err.value)
    assert len(msg) < 300 and "\n" not in msg
    assert "conducted_by" in msg and "recruitment" in msg and "2022.yaml" in msg
