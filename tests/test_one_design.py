"""One design, one policy: domains, groups, combined levels, crosstabs, structural zeros and
unknown answers — and one estimate read through every door, which must agree.

Expected values come from plain pandas on the harmonised table and the reference weights (or
from the site's own output, for the doors that are the site), never from the verb under test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_design import _weighted_frame

import ospo_survey
from ospo_survey.analysis import policy
from ospo_survey.core.errors import ModelError, UnknownVariableError
from ospo_survey.ingest.harmonize import panel_level

pytestmark = pytest.mark.data

DK = "don't know"


@pytest.fixture(scope="module")
def s2024() -> ospo_survey.Survey:
    return ospo_survey.survey(2024)


def _weighted(year: int) -> pd.DataFrame:
    """The year's harmonised sample with the scheme's own weights in ``w``."""
    return _weighted_frame(year)


def _share(frame: pd.DataFrame, hit: pd.Series, base: pd.Series) -> float:
    w = frame["w"].to_numpy()
    return float(w[(hit & base).to_numpy()].sum() / w[base.to_numpy()].sum())


# --------------------------------------------------------------------------- domains


def test_subset_keeps_the_weights_and_is_not_a_re_weighted_exclusion(s2024) -> None:
    h = _weighted(2024)
    has = s2024.subset(has_ospo="has")
    assert has.n == int((h["has_ospo"] == "has").sum())
    np.testing.assert_array_equal(has.frame["weight"].to_numpy(),
                                  h.loc[h["has_ospo"] == "has", "w"].to_numpy())
    got = has.proportion("size3").set_index("level")["estimate"]
    dom = (h["has_ospo"] == "has") & h["size3"].notna()
    for level in ("small", "mid", "large"):
        assert got[level] == pytest.approx(_share(h, h["size3"] == level, dom), rel=1e-12)
    # exclude= re-weights what remains to the targets: a different (and wrong) domain share
    excluded = ospo_survey.survey(2024, exclude={"has_ospo": ["planning", "none"]})
    moved = excluded.proportion("size3").set_index("level")["estimate"]
    assert abs(moved["large"] - got["large"]) > 0.02
    assert any("subset has_ospo = has" in n for n in has.notes)


def test_subset_narrows_and_names_bad_levels(s2024) -> None:
    both = s2024.subset(org_size=["1,001-10,000", "over 10,000"]).subset(has_ospo="has")
    h = ospo_survey.load_harmonized([2024])
    want = h["org_size"].isin(["1,001-10,000", "over 10,000"]) & (h["has_ospo"] == "has")
    assert both.n == int(want.sum()) and both.conditions == {
        "org_size": ("1,001-10,000", "over 10,000"), "has_ospo": ("has",)}
    with pytest.raises(UnknownVariableError, match="did you mean 'has'"):
        s2024.subset(has_ospo="hass")
    with pytest.raises(UnknownVariableError, match="did you mean 'has_ospo'"):
        s2024.subset(has_opso="has")


def test_domain_variance_keeps_the_whole_design(s2024) -> None:
    """Domain estimation, as R's subset(design): the SE uses every row of the year's design
    (rows outside the domain contribute zero), not the domain's rows alone."""
    from ospo_survey.inference import estimate as E

    has = s2024.subset(has_ospo="has")
    got = has.proportion("size3").set_index("level")
    h = _weighted(2024)
    y = h["size3"].where(h["has_ospo"] == "has")
    ref = E.proportions(h.assign(y=y), "y", weights="w", levels=["small", "mid", "large"])
    np.testing.assert_allclose(got.loc[["small", "mid", "large"], "se"], ref["se"], rtol=1e-12)
    alone = E.proportions(h[h["has_ospo"] == "has"], "size3", weights="w",
                          levels=["small", "mid", "large"])
    assert not np.allclose(alone["se"], ref["se"], rtol=1e-6)


def test_without_panel_is_the_re_weighted_year_with_one_note() -> None:
    s = ospo_survey.survey([2023, 2024]).without_panel()
    full = ospo_survey.load_harmonized([2023])
    k = int((full["channel"] == panel_level()).sum())
    assert s.excluded == {2023: k, 2024: 0} and k > 100
    assert not (s.frame["channel"] == panel_level()).any()
    note = policy.panel_note(2023, k, panel_level(), excluded=True)
    assert note in s.notes
    t = s.trend("has_ospo")
    assert t.loc[t["year"] == 2024, "note"].str.contains(note, regex=False).all()
    kept = ospo_survey.survey(2023).subset(has_ospo="has").without_panel()
    assert kept.conditions == {"has_ospo": ("has",)}
    assert kept.n == int(((full["channel"] != panel_level()) & (full["has_ospo"] == "has")).sum())


# --------------------------------------------------------------------------- groups, levels


def test_by_takes_a_list_of_variables(s2024) -> None:
    out = s2024.proportion("has_ospo", by=["size3", "region"], suppress=False)
    assert list(out.columns) == [*policy.COLUMNS, "size3", "region"]
    h = _weighted(2024)
    ok = h["has_ospo"].notna() & h["size3"].notna() & h["region"].notna() & (h["region"] != DK)
    for (size, region), part in h[ok].groupby(["size3", "region"], observed=True):
        row = out[(out["size3"] == size) & (out["region"] == region) & (out["level"] == "has")]
        assert row["group"].iloc[0] == f"{size}; {region}"
        assert row["n"].iloc[0] == len(part)
        assert row["estimate"].iloc[0] == pytest.approx(
            _share(part, part["has_ospo"] == "has", part["has_ospo"].notna()), rel=1e-12)


def test_combined_levels_are_the_sum_of_their_members(s2024) -> None:
    plain = s2024.proportion("org_size").set_index("level")
    big = {"over 1,000": ["1,001-10,000", "over 10,000"]}
    out = s2024.proportion("org_size", combine=big).set_index("level")
    assert list(out.index) == ["1-50", "51-250", "251-1,000", "over 1,000",
                               "self-employed / not working"]
    assert out.at["over 1,000", "estimate"] == pytest.approx(
        plain.at["1,001-10,000", "estimate"] + plain.at["over 10,000", "estimate"], rel=1e-12)
    assert out.at["over 1,000", "count"] == (plain.at["1,001-10,000", "count"]
                                             + plain.at["over 10,000", "count"])
    by = s2024.proportion("has_ospo", by="org_size", combine={"org_size": big})
    assert "over 1,000" in set(by["group"])
    with pytest.raises(ModelError, match="already a level"):
        s2024.proportion("org_size", combine={"1-50": ["51-250"]})
    with pytest.raises(UnknownVariableError, match="did you mean 'over 10,000'"):
        s2024.proportion("org_size", combine={"big": ["over 10.000"]})


def test_crosstab_table_and_rao_scott_test(s2024) -> None:
    x = s2024.crosstab("size3", "has_ospo")
    same = s2024.proportion("has_ospo", by="size3")
    pd.testing.assert_frame_equal(x.table.drop(columns="weighted"), same, check_like=False)
    h = _weighted(2024)
    ok = h["size3"].notna() & h["has_ospo"].notna()
    cells = h[ok].groupby(["size3", "has_ospo"], observed=True)["w"].sum()
    for _, r in x.table.iterrows():
        assert r["weighted"] == pytest.approx(cells[(r["size3"], r["level"])], rel=1e-12)
    t = x.test.iloc[0]
    assert t["statistic"] == "Rao-Scott F" and t["df"] == 4 and t["n"] == int(ok.sum())
    # the design-based F is the Pearson X^2 deflated by the mean generalised design effect
    assert t["F"] == pytest.approx(t["chi2"] / (t["df"] * t["mean_deff"]), rel=1e-12)
    assert 0 <= t["p"] < 1e-5  # size and OSPO status go together in 2024


# --------------------------------------------------------------------------- policy


def test_unknown_answers_are_outside_the_base_and_counted(s2024) -> None:
    out = s2024.proportion("org_size")
    h = ospo_survey.load_harmonized([2024])
    dk = int((h["org_size"] == DK).sum())
    assert dk > 0 and DK not in set(out["level"])
    assert (out["n"] == int(h["org_size"].notna().sum()) - dk).all()
    assert out.attrs["dropped"][DK] == dk
    r = ospo_survey.survey(2022).logistic("activity_contribute == 'frequently' ~ size3")
    f = ospo_survey.load_harmonized([2022])
    assert r.dropped["activity_contribute don't know"] == int(
        (f["activity_contribute"] == DK).sum())


def test_structural_zeros_are_missing_with_their_reason(s2024) -> None:
    status = s2024.proportion("ospo_status").set_index("level")
    gone = status.loc["has (formality unknown)"]
    assert np.isnan(gone["estimate"]) and np.isnan(gone["ci_high"])
    assert gone["reason"] == "not offered in 2024" and not gone["suppressed"]
    size = s2024.proportion("org_size").set_index("level")
    assert size.at["self-employed / not working", "reason"] == "removed by the screen"
    assert np.isnan(size.at["self-employed / not working", "estimate"])
    # 2021: 141 respondents said they are not involved; the harmonised screen removed them all
    journey = ospo_survey.survey(2021).proportions("journey").set_index("level")
    assert journey.at["not_involved", "reason"] == "removed by the screen"
    assert np.isnan(journey.at["not_involved", "estimate"])
    assert "dont_know" not in journey.index
    # a level offered and chosen by someone is estimated
    assert status["estimate"].drop("has (formality unknown)").notna().all()


def test_bare_years_everywhere() -> None:
    assert ospo_survey.compare("has_ospo", "size3", years=2024)["year"].unique().tolist() == [
        2024]
    assert ospo_survey.maturity(2024, "todo5")["year"].unique().tolist() == [2024]
    assert set(ospo_survey.load_harmonized(2024)["year"]) == {2024}
    assert set(ospo_survey.questions(2024)["year"]) == {2024}
    found = ospo_survey.find_question("does your organization have an open source program",
                                      years=2024)
    assert found["year"].tolist() == [2024]


def test_p_value_column_is_p_everywhere() -> None:
    s = ospo_survey.survey([2023, 2024]).without_panel()
    assert "p" in s.difference("has_ospo", "has").columns
    assert "p" in s.compare("has_ospo", "size3").columns
    assert "p" in s.logistic("has_ospo == 'has' ~ size3").table.columns
    assert "p" in s.crosstab("size3", "has_ospo").test.columns


# --------------------------------------------------------------------------- every door


def _page_share(page: Path, caption: str, answer: str) -> float:
    html = page.read_text(encoding="utf-8")
    table = html[html.index(f"<caption>{caption}</caption>"):]
    table = table[:table.index("</table>")]
    row = re.search(rf'<th scope="row">{re.escape(answer)}</th><td>([0-9.]+)%</td>', table)
    assert row, (caption, answer)
    return float(row.group(1))


def test_one_estimate_through_every_door(tmp_path_factory) -> None:
    """The 2024 share of organisations without an OSPO (harmonised sample, reference weights),
    read through proportion, trend, compare (raw), frequencies, the year page's numbers and
    the open data release: one number."""
    from _site import build_site, ensure_processed

    from ospo_survey.analysis.tables import frequencies
    from ospo_survey.site import release

    s = ospo_survey.survey(2024)
    share = float(s.proportion("has_ospo").set_index("level").at["none", "estimate"])
    trend = ospo_survey.survey([2023, 2024]).trend("has_ospo")
    assert trend[(trend["year"] == 2024) & (trend["level"] == "none")]["estimate"].iloc[0] == \
        pytest.approx(share, rel=1e-12)
    by = s.proportion("has_ospo", by="size3", suppress=False)
    cmp = s.compare("has_ospo", "size3", suppress=False)
    for group in ("small", "mid", "large"):
        a = by[(by["group"] == group) & (by["level"] == "none")].iloc[0]
        b = cmp[(cmp["group"] == group) & (cmp["outcome_level"] == "none")].iloc[0]
        assert (a["estimate"], a["n"], a["count"]) == pytest.approx(
            (b["estimate"], b["n"], b["count"]), rel=1e-12)
    freq = frequencies(2024, "q12", sample="harmonized", weights="reference")
    assert freq.set_index("option").at["No", "pct_w"] / 100 == pytest.approx(share, rel=1e-12)
    ensure_processed()
    data = release.respondents()
    d = data[data["year"] == 2024]
    assert len(d) == s.n
    known = d["has_ospo"].notna()
    assert d.loc[d["has_ospo"] == "none", "weight"].sum() / d.loc[known, "weight"].sum() == \
        pytest.approx(share, rel=1e-12)
    site = build_site(tmp_path_factory)
    shown = _page_share(site / "2024" / "index.html", "OSPO or similar initiative (2024)", "No")
    assert shown == round(100 * share, 1)


def test_one_write_in_rule_on_a_page() -> None:
    """A write-in box named like an option counts as that option, in the topic charts as in
    the All-questions appendix (2018's challenges: 'Other (please specify)' was 0% beside a
    separate ', written in' bar of 2.5%)."""
    from ospo_survey.analysis.questions import all_questions
    from ospo_survey.analysis.year import YearAnalysis
    from ospo_survey.ingest import answers as A
    from ospo_survey.ingest.dataset import _row_ids
    from ospo_survey.ingest.read import read_raw

    ya = YearAnalysis(2018)
    est, meta = ya.topic("establishing")
    assert not any(str(lv).endswith("written in") or "(Q" in str(lv) for lv in est["level"])
    other = est.set_index("level").loc["Other (please specify)"]
    appendix = {q.qid: q for q in all_questions(ya)}[meta["qid"]].frame.set_index("level")
    assert other["estimate"] == pytest.approx(appendix.loc["Other (please specify)", "estimate"])
    # by hand: ticked the option or wrote in its box, among those who answered
    raw = read_raw(2018)
    q = raw.question(meta["qid"])
    ticks = A.multiple(raw, meta["qid"])
    boxes = q.loc[q["kind"] == "text", "column"]
    wrote = raw.responses[list(boxes)].notna().any(axis=1)
    hit = ticks["Other (please specify)"].fillna(False).astype(bool) | wrote
    answered = ticks.notna().any(axis=1) | wrote
    weight = ya.frame.set_index(ya.frame["row_id"].astype(str))["_w"]
    w = _row_ids(raw).astype(str).map(weight).to_numpy()  # NaN outside the page's sample
    base = answered.to_numpy() & ~np.isnan(w)
    want = np.nansum(w[base & hit.to_numpy()]) / np.nansum(w[base])
    assert want > 0.01 and other["estimate"] == pytest.approx(want, rel=1e-9)


def test_answers_follow_their_rows_when_the_source_changes(monkeypatch) -> None:
    """The raw export and the processed tables order the same respondents differently; a
    page's answers are cached per survey object, so a topic read after the source changed in
    the same process still lines its answers up with its own rows."""
    from _site import ensure_processed

    from ospo_survey.analysis.year import YearAnalysis
    from ospo_survey.core.paths import SOURCE_ENV
    from ospo_survey.ingest import dataset, processed

    ensure_processed()
    monkeypatch.setenv(SOURCE_ENV, "raw")
    dataset.year_data.cache_clear()
    from_raw = YearAnalysis(2018).topic("establishing")[0]
    monkeypatch.delenv(SOURCE_ENV)
    dataset.year_data.cache_clear()
    assert processed.from_processed()
    from_tables = YearAnalysis(2018).topic("establishing")[0]
    pd.testing.assert_series_equal(from_raw["estimate"], from_tables["estimate"], rtol=1e-12)
    dataset.year_data.cache_clear()
