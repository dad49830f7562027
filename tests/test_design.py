"""One survey design with verbs (``ospo_survey.survey``), the readable codebook, find_question,
errors that suggest the closest name, exclusion with re-raking, and n_eff <= n — on real data.

Expected values are computed here independently (numpy on the harmonised table and the
schemes' weights, the targets YAML, the raw answers), never copied from the verbs' output.
"""

from __future__ import annotations

import doctest
import io
import re
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import ospo_survey
from ospo_survey.analysis.design import COLUMNS, DIFFERENCE_COLUMNS, LOGISTIC_COLUMNS
from ospo_survey.core.errors import ModelError, OspoSurveyError
from ospo_survey.inference import estimate as E
from ospo_survey.inference.schemes import TARGETS_DIR, year_weights
from ospo_survey.ingest.harmonize import panel_level

ROOT = Path(__file__).resolve().parent.parent
PANEL = {"channel": [panel_level()]}


@pytest.fixture(scope="module")
def s2024() -> ospo_survey.Survey:
    return ospo_survey.survey(2024)


def _weighted_frame(year: int) -> pd.DataFrame:
    """The year's harmonised sample with the scheme's own weights, joined by row id."""
    h = ospo_survey.load_harmonized([year])
    yw = year_weights(year)
    by_id = pd.Series(yw.weights.to_numpy(), index=yw.frame["row_id"].astype(str).to_numpy())
    return h.assign(w=h["row_id"].astype(str).map(by_id).to_numpy())


# --------------------------------------------------------------------------- proportion


@pytest.mark.data
def test_proportion_is_the_weighted_share_with_fixed_columns(s2024) -> None:
    out = s2024.proportion("has_ospo")
    assert list(out.columns) == COLUMNS
    h = _weighted_frame(2024)
    answered = h["has_ospo"].notna().to_numpy()
    w = h["w"].to_numpy()
    for level in ("has", "planning", "none"):
        row = out.set_index("level").loc[level]
        hit = (h["has_ospo"] == level).to_numpy()
        assert row["estimate"] == pytest.approx(w[hit].sum() / w[answered].sum(), rel=1e-12)
        assert row["n"] == answered.sum()
        assert 0 <= row["ci_low"] < row["estimate"] < row["ci_high"] <= 1
    assert (out["group"] == "").all() and (out["year"] == 2024).all()


@pytest.mark.data
def test_proportion_by_group_counts_each_group(s2024) -> None:
    out = s2024.proportion("has_ospo", by="size3")
    h = ospo_survey.load_harmonized([2024])
    counts = h.dropna(subset=["has_ospo"]).groupby("size3", observed=True).size()
    got = out.drop_duplicates("group").set_index("group")["n"]
    assert got.to_dict() == {str(k): int(v) for k, v in counts.items()}
    assert set(out["level"]) == {"has", "planning", "none"}


@pytest.mark.data
def test_unweighted_is_the_plain_share_and_none_means_unweighted() -> None:
    a = ospo_survey.survey(2024, weights="none").proportion("has_ospo")
    b = ospo_survey.survey(2024, weights="unweighted").proportion("has_ospo")
    pd.testing.assert_frame_equal(a, b)
    h = ospo_survey.load_harmonized([2024])
    share = h["has_ospo"].value_counts(normalize=True)
    assert a.set_index("level")["estimate"].to_dict() == pytest.approx(
        {str(k): float(v) for k, v in share.items()}
    )
    assert a["n_eff"].to_numpy() == pytest.approx(a["n"].to_numpy(), rel=1e-12)


@pytest.mark.data
def test_each_year_is_estimated_on_its_own() -> None:
    both = ospo_survey.survey([2022, 2024]).proportion("has_ospo")
    alone = ospo_survey.survey(2022).proportion("has_ospo")
    pd.testing.assert_frame_equal(both[both["year"] == 2022].reset_index(drop=True), alone)
    assert sorted(both["year"].unique()) == [2022, 2024]


@pytest.mark.data
def test_multi_variable_one_row_per_option(s2024) -> None:
    out = s2024.proportions("journey")
    assert list(out.columns) == COLUMNS
    h = _weighted_frame(2024)
    cols = [c for c in h.columns if c.startswith("journey_")]
    answered = h[cols].notna().any(axis=1).to_numpy()
    w = h["w"].to_numpy()
    ticked = h["journey_contribute"].fillna(False).to_numpy(dtype=bool)
    row = out.set_index("level").loc["contribute"]
    assert row["estimate"] == pytest.approx(w[ticked].sum() / w[answered].sum(), rel=1e-12)
    assert row["n"] == answered.sum()


@pytest.mark.data
def test_suppressed_estimates_are_missing_unless_asked(s2024) -> None:
    out = s2024.proportion("has_ospo", by="org_size")
    h = ospo_survey.load_harmonized([2024])
    h = h[h["org_size"] != "don't know"]  # an unknown answer is no group: outside the base
    small = h.groupby("org_size", observed=True).size()
    small = {str(k) for k, v in small.items() if v < 30}  # equal weights within a size band
    assert small and set(out.loc[out["suppressed"], "group"]) == small
    assert out.loc[out["suppressed"], "estimate"].isna().all()
    kept = s2024.proportion("has_ospo", by="org_size", suppress=False)
    assert kept["estimate"].notna().all()
    assert kept["suppressed"].equals(out["suppressed"])


# --------------------------------------------------------------------------- honest n_eff


@pytest.mark.data
def test_the_default_is_rs_plain_linearisation_and_the_kish_floor_an_opt_in() -> None:
    # R's linearisation credits 2024's "planning" share with n_eff > n (its weights and its
    # answers are correlated); the design reports R's number, the floor is only an option
    h = _weighted_frame(2024)
    plain = E.proportions(h, "has_ospo", weights="w").set_index("level")
    assert plain.at["planning", "n_eff"] > plain.at["planning", "n"]
    design = ospo_survey.survey(2024).proportion("has_ospo", suppress=False).set_index("level")
    assert design.at["planning", "se"] == pytest.approx(plain.at["planning", "se"], rel=1e-12)
    floored = E.proportions(h, "has_ospo", weights="w", kish_floor=True).set_index("level")
    w = h.loc[h["has_ospo"].notna(), "w"].to_numpy()
    assert floored.at["planning", "n_eff"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert floored.at["planning", "se"] > plain.at["planning", "se"]


@pytest.mark.data
def test_calibration_is_opt_in_and_can_exceed_n() -> None:
    yw = year_weights(2024)
    frame = yw.frame.assign(w=yw.weights.to_numpy())
    frame["has"] = ospo_survey.load_harmonized([2024])["has_ospo"].to_numpy()
    cal = E.proportions(frame, "has", weights="w", margins=yw.margins).set_index("level")
    assert cal.at["has", "n_eff"] > cal.at["has", "n"]  # what the default no longer does


# --------------------------------------------------------------------------- difference, trend


@pytest.mark.data
def test_difference_is_b_minus_a_with_independent_se() -> None:
    s = ospo_survey.survey([2021, 2022])
    d = s.difference("has_ospo", "has", allow_break=True)
    assert list(d.columns) == DIFFERENCE_COLUMNS
    p = s.proportion("has_ospo").set_index(["year", "level"])
    a, b = p.loc[(2021, "has")], p.loc[(2022, "has")]
    row = d.iloc[0]
    assert (row["year_a"], row["year_b"]) == (2021, 2022)
    assert row["estimate"] == pytest.approx(b["estimate"] - a["estimate"])
    assert row["se"] == pytest.approx(np.hypot(a["se"], b["se"]))
    labels = [t["label"] for t in yaml.safe_load(
        (ROOT / "ospo_survey" / "reports.yaml").read_text())["trend_breaks"]]
    assert any(lab in row["note"] for lab in labels)
    # unasked, a change across the 2022 break of screening and wording is not tested
    untested = s.difference("has_ospo", "has").iloc[0]
    assert untested["estimate"] == pytest.approx(row["estimate"])
    assert np.isnan(untested["p"]) and np.isnan(untested["se"])
    assert untested["reason"].startswith("crosses a series break")
    # nor one where the paid panel changes the sample's make-up (2023 has it, 2024 not)
    panel = ospo_survey.survey([2023, 2024]).difference("has_ospo", "has").iloc[0]
    assert panel["reason"].startswith("the sample's make-up changes") and np.isnan(panel["p"])
    tested = ospo_survey.survey([2023, 2024]).without_panel().difference("has_ospo", "has")
    assert tested.iloc[0]["reason"] == "" and tested.iloc[0]["p"] > 0


@pytest.mark.data
def test_trend_names_the_paid_panel() -> None:
    t = ospo_survey.survey([2022, 2023]).trend("has_ospo")
    assert "note" in t.columns and list(t["level"].unique()) == ["has", "planning", "none"]
    panel_rows = int((ospo_survey.load_harmonized([2023])["channel"] == panel_level()).sum())
    assert t.loc[t["year"] == 2023, "note"].str.contains(f"{panel_rows} paid-panel").all()
    assert (t.loc[t["year"] == 2022, "note"] == "").all()
    without = ospo_survey.survey([2022, 2023], exclude=PANEL).trend("has_ospo")
    note = f"2023: without its {panel_rows} paid-panel respondents"
    assert without.loc[without["year"] == 2023, "note"].str.contains(note).all()
    assert (without.loc[without["year"] == 2022, "note"] == "").all()


# --------------------------------------------------------------------------- exclude


@pytest.mark.data
def test_exclude_drops_the_panel_and_re_rakes_to_the_same_targets() -> None:
    s = ospo_survey.survey(2023, exclude=PANEL)
    full = ospo_survey.load_harmonized([2023])
    panel = full["channel"] == panel_level()
    assert panel.sum() > 100
    assert s.n == len(full) - int(panel.sum())
    assert not (s.frame["channel"] == panel_level()).any()
    assert s.excluded == {2023: int(panel.sum())}
    spec = yaml.safe_load((TARGETS_DIR / "reference-2018-2024.yaml").read_text())["margins"]
    f = s.frame
    for var, shares in spec.items():
        known = f[var].astype(object).isin(list(shares))
        total = sum(shares.values())
        for level, share in shares.items():
            got = f.loc[f[var] == level, "weight"].sum() / f.loc[known, "weight"].sum()
            assert got == pytest.approx(share / total, abs=1e-6), (var, level)
    # the full sample's weights on the same rows would not hit them: re-raking did something
    old = _weighted_frame(2023).loc[~panel.to_numpy()]
    big = old["org_size"] == "over 10,000"
    known = old["org_size"].astype(object).isin(list(spec["org_size"]))
    old_share = old.loc[big, "w"].sum() / old.loc[known, "w"].sum()
    assert abs(old_share - spec["org_size"]["over 10,000"]) > 0.02
    assert "same targets" in s.weight_info[2023].notes[0]


@pytest.mark.data
def test_repr_says_what_the_design_is() -> None:
    s = ospo_survey.survey(2023, exclude=PANEL)
    text = repr(s)
    for part in ("years=2023", "sample='harmonized'", "weights='reference'", panel_level(),
                 f"n={s.n}"):
        assert part in text


# --------------------------------------------------------------------------- logistic


@pytest.mark.data
def test_logistic_outcome_expression_drops_empty_levels_and_counts_dropped_rows() -> None:
    s = ospo_survey.survey(2024, exclude={"org_size": ["don't know"]})
    r = s.logistic("has_ospo == 'has' ~ org_size")
    assert list(r.table.columns) == LOGISTIC_COLUMNS
    assert "org_size=self-employed / not working" in r.empty_levels
    assert r.n + sum(r.dropped.values()) == s.n
    np.testing.assert_allclose(r.table["odds_ratio"], np.exp(r.table["estimate"]))
    # independently: the same model on a hand-made 0/1 outcome and a cleaned categorical
    f = s.frame.assign(y=(s.frame["has_ospo"] == "has").astype(float))
    f["size"] = f["org_size"].cat.remove_unused_categories()
    ref = E.logistic(f, "y ~ size", weights="weight")
    np.testing.assert_allclose(r.table["estimate"], ref["estimate"], rtol=1e-10)
    # the smallest size band's odds: from the weighted shares directly
    small = f[f["size"] == "1-50"]
    p = np.average(small["y"], weights=small["weight"])
    assert r.table.at[0, "estimate"] == pytest.approx(np.log(p / (1 - p)), rel=1e-6)


@pytest.mark.data
def test_logistic_in_list_and_missing_rows() -> None:
    s = ospo_survey.survey([2022, 2023])
    r = s.logistic("activity_contribute in ['frequently', 'sometimes'] ~ size3 + year")
    outcome = s.frame["activity_contribute"]
    missing = int(outcome.isna().sum())
    dont_know = int((outcome == "don't know").sum())
    assert r.dropped["activity_contribute missing"] == missing
    assert dont_know > 50 and r.dropped["activity_contribute don't know"] == dont_know
    answered = outcome.notna() & (outcome != "don't know")
    assert r.n == int((answered & s.frame["size3"].notna()).sum())
    assert "year[T.2023]" in set(r.table["term"])


@pytest.mark.data
@pytest.mark.parametrize(
    ("formula", "needle"),
    [
        ("activity_contribute ~ size3", "activity_contribute == 'never'"),
        ("__import__('os').system('true') == 1 ~ size3", "cannot read the outcome"),
        ("has_ospo == 'hass' ~ size3", "did you mean 'has'"),
        ("has_ospo == 'has' ~ np.log(size3)", "cannot read the terms"),
        ("activity_contribute == 'frequently' ~ region", "perfect separation"),
        ("has_ospo == 'has' ~ sise3", "did you mean 'size3'"),
    ],
)
def test_logistic_errors_are_one_line(s2024, formula: str, needle: str) -> None:
    with pytest.raises(OspoSurveyError) as exc:
        s2024.logistic(formula)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg and len(msg) < 300


@pytest.mark.data
def test_estimate_logistic_errors_on_categorical_outcome_and_empty_level() -> None:
    f = ospo_survey.survey(2024).frame
    with pytest.raises(ModelError, match="categorical"):
        E.logistic(f, "has_ospo ~ size3", weights="weight")
    g = f.assign(y=(f["has_ospo"] == "has").astype(float))
    with pytest.raises(ModelError, match="self-employed"):  # an empty level, not LinAlgError
        E.logistic(g, "y ~ org_size", weights="weight")


@pytest.mark.data
def test_compare_uses_the_design() -> None:
    from ospo_survey.analysis.compare import compare_frame
    from ospo_survey.analysis.design import api_compare

    s = ospo_survey.survey(2024)
    got = s.compare("has_ospo", "size3")
    ref = compare_frame(s.frame, "has_ospo", "size3", weights="weight", year_col="year")
    pd.testing.assert_frame_equal(got, api_compare(ref, s.min_n_eff, True))
    # the design's vocabulary: n the group's base, count those choosing the level
    has = got[got["outcome_level"] == "has"].set_index("group")
    f = s.frame.dropna(subset=["has_ospo", "size3"])
    assert has["n"].to_dict() == f.groupby("size3", observed=True).size().to_dict()
    assert has["count"].to_dict() == f[f["has_ospo"] == "has"].groupby(
        "size3", observed=True).size().to_dict()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda s: s.proportion("has_opso"), ["'has_ospo'"]),
        (lambda s: s.proportion("has_ospo", by="size"), ["'size3'", "'org_size'"]),
        (lambda s: s.proportion("journey"), ["proportions('journey')"]),
        (lambda s: s.proportion("activity"), ["'activity_"]),
        (lambda s: s.proportions("has_ospo"), ["single"]),
        (lambda s: s.difference("has_ospo", "has"), ["two years"]),
        (lambda s: s.difference("has_ospo", "has", between="size3"), ["between='year'"]),
        (lambda s: s.proportion("criticality"), ["not asked in 2024", "2018, 2019"]),
        (lambda s: ospo_survey.survey(2024, weights="refrence"), ["'reference'", "none"]),
        (lambda s: ospo_survey.survey(2024, sample="harmonised"), ["'harmonized'"]),
        (lambda s: ospo_survey.survey(2017), ["2018"]),
        (lambda s: ospo_survey.survey(2023, exclude={"chanel": ["x"]}), ["'channel'"]),
        (lambda s: ospo_survey.survey(2023, exclude={"channel": ["panel"]}), [panel_level()]),
    ],
)
@pytest.mark.data
def test_errors_name_the_closest_choice(s2024, make, needles: list[str]) -> None:
    with pytest.raises(OspoSurveyError) as exc:
        make(s2024)
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 300, msg
    for needle in needles:
        assert needle in msg, msg


@pytest.mark.data
def test_frequencies_accepts_none_and_shows_the_wording() -> None:
    a = ospo_survey.frequencies(2023, "q9", weights="none", sample="harmonized")
    assert np.allclose(a["pct_w"], a["pct"])
    f22 = ospo_survey.frequencies(2022, "Q6")
    f23 = ospo_survey.frequencies(2023, "Q6")
    raw22 = ospo_survey.read_raw(2022).question("Q6")["question"].iloc[0]
    assert f22.attrs["question_text"] == raw22
    assert f23.attrs["question_text"] != raw22  # same id, a different question


# --------------------------------------------------------------------------- codebook


@pytest.mark.data
def test_codebook_maps_every_raw_answer_and_reproduces_the_harmonised_counts() -> None:
    cb = ospo_survey.codebook(2022, "ospo_status")
    assert list(cb.columns) == ["year", "variable", "qid", "question", "answer", "level"]
    raw = ospo_survey.read_raw(2022)
    coded = raw.answers[raw.answers["column"] == "Q6"]
    assert sorted(cb["answer"]) == sorted(coded["label"])
    assert set(cb["qid"]) == {"Q6"}
    # apply the codebook to the raw answers: the harmonised variable's counts follow
    answers = ospo_survey.load(2022, sample="all")[["row_id", "Q6"]]
    mapped = answers["Q6"].map(dict(zip(cb["answer"], cb["level"], strict=True)))
    h = ospo_survey.load_harmonized([2022], sample="all")
    assert answers["row_id"].tolist() == h["row_id"].tolist()
    assert mapped.value_counts().to_dict() == h["ospo_status"].value_counts()[
        lambda c: c > 0].to_dict()


@pytest.mark.data
def test_codebook_derived_matrix_and_multi() -> None:
    has = ospo_survey.codebook(2024, "has_ospo")
    status = ospo_survey.codebook(2024, "ospo_status")
    assert has["answer"].tolist() == status["answer"].tolist()
    assert set(has["level"].dropna()) <= {"has", "planning", "none"}
    row = ospo_survey.codebook(2021, "activity_contribute")
    assert set(row["variable"]) == {"activity_contribute"}
    assert {"frequently", "never"} <= set(row["level"])
    multi = ospo_survey.codebook(2022, "journey")
    assert "contribute" in set(multi["level"])
    old = ospo_survey.codebook([2024])  # the per-variable summary still works
    assert old.set_index("variable").at["ospo_status", "source"] == "q12"
    channel = ospo_survey.codebook(2023, "channel")
    assert panel_level() in set(channel["level"])
    assert not channel["answer"].str.fullmatch(r"\d{6,}").any()  # collector ids never shown


@pytest.mark.data
def test_find_question_finds_the_ospo_question_in_every_year() -> None:
    f = ospo_survey.find_question("Does your organization have an open source program")
    by_year = f.groupby("year")["qid"].first().to_dict()
    assert by_year[2022] == "Q6" and by_year[2023] == "q9" and by_year[2024] == "q12"
    assert set(by_year) == set(range(2018, 2025))
    for year, qid in by_year.items():
        text = ospo_survey.read_raw(year).question(qid)["question"].iloc[0].lower()
        assert "open source" in text
    assert list(f.columns) == ["year", "qid", "question", "kind", "match"]


@pytest.mark.data
def test_questions_cli_fills_option_and_code() -> None:
    from ospo_survey.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["questions", "2022", "Q6"]) == 0
    table = pd.read_csv(io.StringIO(buf.getvalue()))
    assert len(table) >= 4
    assert table["option"].notna().all() and table["code"].notna().all()
    assert "No" in set(table["option"])


# --------------------------------------------------------------------------- package surface


def test_import_stays_light() -> None:
    code = (
        "import sys, ospo_survey; assert 'survey' in dir(ospo_survey);"
        " assert 'find_question' in ospo_survey.__all__; print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, f"README has no section {title!r}"
    return m.group(1)


@pytest.mark.data
def test_readme_analysis_section_runs_as_doctest() -> None:
    section = _readme_section("Analysing the survey")
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.S | re.M)  # fences end examples
    assert blocks and all(">>> " in b for b in blocks)
    parser = doctest.DocTestParser()
    test = parser.get_doctest("\n".join(blocks), {}, "README: Analysing the survey",
                              "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()
    assert runner.tries >= 8


def test_readme_analysis_section_comes_first() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    heads = re.findall(r"^## (.+)$", text, re.M)
    usage = [h for h in heads if h in ("Analysing the survey", "Command line",
                                       "The main job: `make reports`", "Weighting and uncertainty")]
    assert usage[0] == "Analysing the survey"
