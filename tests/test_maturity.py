"""Maturity models (maturity.yaml, analysis/maturity.py, `ospo-survey maturity`) on the real data.

Stage sizes are counted here with plain pandas straight from the harmonised columns, without
the YAML; Guttman's statistics are worked by hand on a small matrix.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ospo_survey.analysis import maturity as M
from ospo_survey.analysis.design import maturity, survey
from ospo_survey.analysis.policy import COLUMNS
from ospo_survey.core.errors import CodebookError, OspoSurveyError
from ospo_survey.inference.schemes import compute_weights
from ospo_survey.ingest.dataset import load_harmonized
from ospo_survey.ingest.screen import evaluate, inputs, measured
from ospo_survey.ingest.settings import available_years

JOURNEY = ["consume", "collaborate", "contribute", "lead", "initiate"]


def _ticked(h: pd.DataFrame, option: str) -> pd.Series:
    return h[f"journey_{option}"].fillna(False).astype(bool)


def _haddad_by_hand(h: pd.DataFrame) -> pd.Series:
    """Highest rung ticked: leadership > contribution > participation > consumption."""
    out = pd.Series(None, index=h.index, dtype=object)
    out[_ticked(h, "consume")] = "consumption"
    out[_ticked(h, "collaborate")] = "participation"
    out[_ticked(h, "contribute")] = "contribution"
    out[_ticked(h, "lead") | _ticked(h, "initiate")] = "leadership"
    return out


def _shares(years=None, model: str = "haddad", sample: str = "publisher",
            weights: str = "unweighted", by: str | None = None) -> pd.DataFrame:
    """The year pages' stage shares (maturity.stage_shares) of a design of ``years``."""
    return M.stage_shares(survey(years or available_years(), sample, weights), model, by=by)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ospo_survey", "maturity", *args],
        capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def haddad() -> pd.DataFrame:
    return _shares(model="haddad")


# --------------------------------------------------------------------------- stage sizes


@pytest.mark.data
@pytest.mark.parametrize("year", [2019, 2022])
def test_haddad_reproduces_hand_counted_stage_sizes(haddad, year):
    h = load_harmonized([year], sample="publisher")
    hand = _haddad_by_hand(h)
    base = int(hand.notna().sum())
    got = haddad[haddad["year"] == year]
    got = got.assign(stage=got["stage"].astype(str)).set_index("stage")
    assert (got["base"] == base).all()
    for stage in ["consumption", "participation", "contribution", "leadership"]:
        n = int((hand == stage).sum())
        assert got.loc[stage, "n"] == n, stage
        assert got.loc[stage, "estimate"] == pytest.approx(n / base, rel=1e-12)
        assert got.loc[stage, "ci_low"] < n / base < got.loc[stage, "ci_high"]
    # respondents who ticked none of the five rungs are outside the base
    none = ~pd.concat([_ticked(h, o) for o in JOURNEY], axis=1).any(axis=1)
    assert base == len(h) - int(none.sum()) and none.any() == (year == 2019)


@pytest.mark.data
def test_stages_are_an_ordered_categorical_with_na_outside_the_base():
    h = load_harmonized([2019, 2022], sample="publisher")
    s = M.stages(h, "haddad")
    assert s.cat.ordered and s.cat.categories.tolist() == M.get_model("haddad").names
    hand = _haddad_by_hand(h)
    assert s.isna().equals(hand.isna())
    assert (s.astype(object)[s.notna()] == hand[s.notna()]).all()


@pytest.mark.data
def test_todo5_is_cumulative_by_hand_2022():
    h = load_harmonized([2022], sample="publisher")
    often = ["sometimes", "frequently"]
    base = h["activity_contribute"].notna()
    s1 = h["policy_use"] == "yes"
    s2 = h["activity_contribute"].isin(often) & h["activity_events"].isin(often)
    s3 = h["activity_create"].isin(often) & (h["policy_release"] == "yes")
    s4 = (h["has_ospo"] == "has") & h["criticality"].isin(["extremely critical", "very critical"])
    level = pd.Series(0, index=h.index)
    level[s1] = 1
    level[s1 & s2] = 2
    level[s1 & s2 & s3] = 3
    level[s1 & s2 & s3 & s4] = 4
    got = _shares([2022], model="todo5")
    assert (got["base"] == int(base.sum())).all()
    want = [int(((level == k) & base).sum()) for k in range(5)]
    assert got["n"].tolist() == want


# --------------------------------------------------------------------------- what is measured


@pytest.mark.data
def test_2018_participation_is_not_measured_not_zero(haddad):
    row = haddad[(haddad["year"] == 2018) & (haddad["stage"] == "participation")]
    assert len(row) == 1
    row = row.iloc[0]
    assert pd.isna(row["n"]) and np.isnan(row["estimate"]) and np.isnan(row["ci_low"])
    assert row["base"] > 0
    assert any("participation" in t and "2018" in t for t in haddad.attrs["notes"])
    later = haddad[(haddad["year"] > 2018) & (haddad["stage"] == "participation")]
    assert later["n"].notna().all() and (later["n"] > 0).all()


@pytest.mark.data
@pytest.mark.parametrize("model", ["haddad", "todo5", "layers"])
def test_shares_sum_to_one_in_every_year_where_the_inputs_exist(model):
    t = _shares(model=model)
    h = load_harmonized(sample="publisher")
    base_inputs = inputs(M.get_model(model).base)
    asked = [y for y in available_years() if h.loc[h.year == y, base_inputs].notna().any().any()]
    assert sorted(t["year"].unique()) == asked == available_years()
    sums = t.groupby("year")["estimate"].sum()  # NaN (not measured) counts as nothing
    assert np.allclose(sums, 1.0, atol=1e-12)
    assert (t.groupby("year")["n"].sum() == t.groupby("year")["base"].first()).all()


@pytest.mark.data
def test_unmeasured_stages_follow_the_data_not_a_list_of_years():
    h = load_harmonized(sample="publisher")
    policy = [c for c in h.columns if c.startswith("policy_")]
    no_collaborate = {y for y, p in h.groupby("year") if p["journey_collaborate"].isna().all()}
    no_policy = {y for y, p in h.groupby("year") if p[policy].isna().all().all()}
    assert no_collaborate == {2018} and no_policy == {2024}
    expected = {("haddad", "participation", y) for y in no_collaborate}
    expected |= {("todo5", s, y) for s in ("compliance_education", "hosting_communities")
                 for y in no_policy}
    expected |= {("layers", "compliance_policies", y) for y in no_policy}
    found = set()
    for model in ("haddad", "todo5", "layers"):
        t = _shares(model=model)
        gone = t[t["estimate"].isna()]
        assert gone["n"].isna().all() and gone["ci_high"].isna().all()
        found |= {(model, str(r.stage), int(r.year)) for r in gone.itertuples()}
    assert found == expected


@pytest.mark.data
def test_by_group_shares_sum_to_one_and_bases_add_up():
    t = _shares([2022, 2023], model="todo5", by="has_ospo")
    assert list(t.columns) == ["year", "model", "group", *M.COLUMNS[2:]]
    assert np.allclose(t.groupby(["year", "group"], observed=True)["estimate"].sum(), 1.0)
    h = load_harmonized([2022, 2023], sample="publisher")
    inbase = h[h["activity_contribute"].notna()]
    bases = t.groupby(["year", "group"], observed=True)["base"].first()
    assert bases.sum() == int(inbase["has_ospo"].notna().sum())
    assert t["group"].astype(str).unique().tolist() == ["has", "planning", "none"]
    # only organisations with an OSPO can be strategic partners
    sp = t[(t["stage"] == "strategic_partner") & (t["group"] != "has")]
    assert (sp["n"] == 0).all()


@pytest.mark.data
def test_reference_weights_give_the_weighted_share():
    year = 2022
    t = _shares([year], model="haddad", weights="reference")
    h = load_harmonized([year], sample="publisher")
    w = compute_weights(h, year, "reference", "publisher").weights
    hand = _haddad_by_hand(h)
    inb = hand.notna()
    for stage in ["consumption", "leadership"]:
        share = float(w[hand == stage].sum() / w[inb].sum())
        got = t.loc[t["stage"] == stage, "estimate"].item()
        assert got == pytest.approx(share, rel=1e-9)
    plain = _shares([year], model="haddad")
    assert not np.allclose(plain["estimate"], t["estimate"])  # the weights do something
    assert (plain["n"] == t["n"]).all()  # n stays the unweighted count


# --------------------------------------------------------------------------- Guttman


def test_guttman_statistics_on_a_small_example():
    x = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1], [0, 0, 1]])
    # by hand: scores 2,1,1,3,1 -> ideal 110,100,100,111,100; errors 0,0,2,0,2
    g = M.guttman(x)
    assert g["errors"] == 4 and g["respondents"] == 5 and g["items"] == 3
    assert g["cr"] == pytest.approx(1 - 4 / 15)
    assert g["perfect"] == pytest.approx(3 / 5)
    assert g["mmr"] == pytest.approx(0.6)  # item shares .6 .6 .4
    assert g["scalability"] == pytest.approx((1 - 4 / 15 - 0.6) / 0.4)
    perfect = M.guttman(np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]]))
    assert perfect["cr"] == 1.0 and perfect["perfect"] == 1.0


@pytest.mark.data
def test_reproducibility_of_the_journey_ladder_by_hand():
    year = 2019
    h = load_harmonized([year], sample="publisher")
    items = pd.DataFrame({
        "consumption": _ticked(h, "consume"),
        "participation": _ticked(h, "collaborate"),
        "contribution": _ticked(h, "contribute"),
        "leadership": _ticked(h, "lead") | _ticked(h, "initiate"),
    }).astype(int)
    items = items[items.any(axis=1)]
    errors = 0
    for row in items.to_numpy():
        s = int(row.sum())
        errors += sum(int(v) != int(i < s) for i, v in enumerate(row))
    t = M.reproducibility([2018, year], "haddad", sample="publisher")
    r = t[t["year"] == year].iloc[0]
    assert r["respondents"] == len(items) and r["items"] == 4 and r["errors"] == errors
    assert r["cr"] == pytest.approx(1 - errors / (4 * len(items)))
    assert r["holds"] == (r["cr"] >= 0.90)
    assert t.loc[t["year"] == 2018, "items"].item() == 3  # participation not asked in 2018


# --------------------------------------------------------------------------- the interpreter


@pytest.mark.data
def test_the_one_interpreter_checks_levels_and_raw_leaves():
    h = load_harmonized([2022], sample="publisher")
    with pytest.raises(CodebookError, match="'hass' is not a level of has_ospo"):
        evaluate({"harmonized": "has_ospo", "in": ["hass"]}, None, h)
    with pytest.raises(CodebookError, match="raw answers"):
        evaluate({"answer": "Q6", "in": ["Yes"]}, None, h)
    with pytest.raises(CodebookError, match="did you mean 'has_ospo'"):
        evaluate({"harmonized": "has_ospoo"}, None, h)
    answered = evaluate({"harmonized": "criticality"}, None, h)
    assert answered.sum() == h["criticality"].notna().sum() > 0
    h18 = load_harmonized([2018], sample="publisher")
    rule = {"any": [{"any_true": ["journey_collaborate"]}, {"harmonized": "policy_use"}]}
    assert not measured({"any_true": ["journey_collaborate"]}, h18)
    assert measured(rule, h18) and not measured({"all": rule["any"]}, h18)
    with pytest.raises(CodebookError, match="did you mean 'policy_use'"):
        measured({"harmonized": "policy_usee", "in": ["yes"]}, h18)  # a typo is not "not asked"


# --------------------------------------------------------------------------- command line


@pytest.mark.data
def test_cli_prints_the_csv_contract_deterministically(haddad):
    """The CLI prints the design's maturity() (Survey.maturity: the design's columns); on the
    publisher's sample, unweighted, its counts and shares are the year pages' (stage_shares)."""
    args = ("2018", "2019", "--model", "haddad", "--sample", "publisher", "--weights",
            "unweighted")
    first = _cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == ",".join(COLUMNS)
    assert "\r" not in first.stdout and first.stdout.endswith("\n")
    table = pd.read_csv(io.StringIO(first.stdout), keep_default_na=False,
                        na_values=[""]).fillna({"reason": ""})
    gone = table[(table["year"] == 2018) & (table["level"] == "participation")].iloc[0]
    assert gone["count"] == 0 and np.isnan(gone["estimate"])
    assert gone["reason"] == "not measured in 2018"
    want = haddad[haddad["year"].isin([2018, 2019])].reset_index(drop=True)
    assert table["count"].tolist() == want["n"].fillna(0).astype(int).tolist()
    assert table["n"].tolist() == want["base"].astype(int).tolist()
    shown = ~table["suppressed"].astype(bool)
    assert np.allclose(table.loc[shown, "estimate"], want.loc[shown, "estimate"], atol=5e-5,
                       equal_nan=True)
    assert "participation: not measured in 2018" in first.stderr
    assert "Loevinger's H" in first.stderr and "hold" not in first.stderr  # H, not CR's verdict
    assert _cli(*args).stdout == first.stdout


@pytest.mark.data
def test_maturity_uses_the_design_defaults_and_suppresses():
    """maturity() is Survey.maturity on survey(years): the harmonised sample with reference
    weights (every door's defaults), suppression by effective n; shares sum to one over the
    stages measured, and each stage's count is a hand count of the placed respondents."""
    got = maturity([2022, 2024], "todo5", by="size3", suppress=False)
    assert list(got.columns) == [*COLUMNS, "size3"]
    s = survey([2022, 2024])
    pd.testing.assert_frame_equal(got, s.maturity("todo5", by="size3", suppress=False))
    for year in (2022, 2024):
        h = load_harmonized([year])
        placed = M.stages(h, "todo5")
        ok = placed.notna() & h["size3"].notna()
        hand = pd.crosstab(h.loc[ok, "size3"], placed[ok])
        part = got[got["year"] == year]
        for (size, stage), count in hand.stack().items():
            row = part[(part["group"] == str(size)) & (part["level"] == str(stage))]
            assert int(row["count"].iloc[0]) == int(count), (year, size, stage)
        measured = part[part["reason"] == ""]
        sums = measured.groupby("group")["estimate"].sum()
        assert np.allclose(sums, 1.0)
    small = maturity(2024, "todo5", by="region")
    assert small.loc[small["n_eff"] < 30, "estimate"].isna().all()
    assert small["suppressed"].any()


@pytest.mark.data
def test_cli_reproducibility_table():
    proc = _cli("2024", "--model", "todo5", "--reproducibility")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(io.StringIO(proc.stdout))
    assert list(table.columns) == M.REPRODUCIBILITY_COLUMNS
    assert table["items"].tolist() == [2]  # 2024: no policy questions, two measured stages


@pytest.mark.parametrize(
    "args, names",
    [
        pytest.param(["--model", "maslow"], ["'maslow'", "haddad", "todo5", "layers"],
                     marks=pytest.mark.data),
        pytest.param(["--model", "todo"], ["'todo'", "todo5"], marks=pytest.mark.data),
        pytest.param(["2022", "--by", "hasospo"], ["'hasospo'", "has_ospo"],
                     marks=pytest.mark.data),
        (["2017"], ["2017", "2018-2024"]),
        pytest.param(["2022", "--weights", "nosuch"], ["'nosuch'", "reference"],
                     marks=pytest.mark.data),
        (["2022", "--by", "size3", "--reproducibility"], ["--by", "--reproducibility"]),
    ],
)
def test_cli_bad_input_is_one_line(args, names):
    proc = _cli(*args)
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 300 and "Traceback" not in proc.stderr
    for name in names:
        assert name in lines[0]


@pytest.mark.data
def test_api_errors_are_package_errors():
    with pytest.raises(OspoSurveyError, match="use one of haddad, todo5, layers"):
        _shares([2022], model="nope")


@pytest.mark.data
def test_an_unknown_by_variable_is_a_package_error_naming_it():
    with pytest.raises(OspoSurveyError, match="--by 'no_such_variable' is not a harmonised"):
        _shares([2022], by="no_such_variable")


@pytest.mark.data
def test_readme_says_which_ladders_hold():
    """README: the five-stage model and the layers are medium to strong scales (Loevinger's H)
    in every year that measured them, the journey ladder is weak and "consumption" does not
    fit it in any year."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "the five-stage model and the layers are medium to strong scales" in text
    design = survey(range(2018, 2025))
    for model in ("todo5", "layers"):
        verdicts = M.scalability(design, model).groupby("year")["verdict"].first().dropna()
        assert len(verdicts) >= 6 and verdicts.isin(["medium scale", "strong scale"]).all()
    haddad = M.scalability(design, "haddad")
    consumption = haddad[haddad["item"] == "consumption"]
    assert len(consumption) == 7 and (consumption["item_H"] < 0.3).all()
    assert (consumption["item_fit"] == "does not fit").all()
