"""The peer benchmark (``ospo_survey.benchmark``) against hand counts in pandas and R's survey.

Every expected number is computed here, at test time, from the design's rows and weights (a
hand count in pandas), from the design's own per-year verbs (for the pooled variance), or by R
(``svydesign(ids=~1, strata=~year, weights=~weight)`` on the stacked years, ``svyby`` by year
on the profile's subset, ``svycontrast`` with the n weights): nothing is pasted from our output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ospo_survey
from ospo_survey.analysis import benchmark as B
from ospo_survey.analysis import policy
from ospo_survey.core.errors import UnknownVariableError

pytestmark = pytest.mark.data

PROFILE = {"size": "1-50", "region": "Europe"}
CONDITIONS = {"org_size": "1-50", "region": "Europe"}
SINGLE = [("has_ospo", "has"), ("activity_contribute", "frequently"), ("policy_use", "yes")]


@pytest.fixture(scope="module")
def design() -> ospo_survey.Survey:
    return ospo_survey.survey([2022, 2023, 2024]).without_panel()


@pytest.fixture(scope="module")
def table(design) -> pd.DataFrame:
    return ospo_survey.benchmark(**PROFILE)


def _in(frame: pd.DataFrame, conditions: dict[str, str]) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for var, level in conditions.items():
        mask &= (frame[var].astype(object) == level).to_numpy()
    return mask


def _hand_single(frame: pd.DataFrame, domain: np.ndarray, var: str, level: str,
                 years: list[int] | None = None) -> tuple[float, int, list[int]]:
    """n-weighted pooled share by hand: each year's weighted share among the domain's
    respondents who answered (don't know outside the base), weighted by its base n."""
    col = frame[var].astype(object)
    base = domain & col.notna().to_numpy() & ~col.isin(policy.UNKNOWN_LEVELS).to_numpy()
    shares, ns, used = [], [], []
    for y in sorted(frame["year"].unique()):
        if years is not None and y not in years:
            continue
        rows = base & (frame["year"] == y).to_numpy()
        if not rows.any():
            continue
        w = frame.loc[rows, "weight"].to_numpy()
        hit = (col[rows] == level).to_numpy()
        shares.append(float((w * hit).sum() / w.sum()))
        ns.append(int(rows.sum()))
        used.append(int(y))
    n = np.array(ns, dtype=float)
    return float(n @ np.array(shares) / n.sum()), int(n.sum()), used


def test_pooled_shares_are_the_n_weighted_hand_counts(design, table) -> None:
    frame = design.frame
    domain = _in(frame, CONDITIONS)
    everyone = np.ones(len(frame), dtype=bool)
    for var, level in SINGLE:
        row = table[(table["variable"] == var) & (table["level"] == level)].iloc[0]
        est, n, years = _hand_single(frame, domain, var, level)
        assert row["years"] == ", ".join(map(str, years))
        assert int(row["n"]) == n
        assert not row["suppressed"]
        np.testing.assert_allclose(row["estimate"], est, rtol=0, atol=1e-12)
        all_est, all_n, _ = _hand_single(frame, everyone, var, level, years)
        assert int(row["all_n"]) == all_n
        np.testing.assert_allclose(row["all_estimate"], all_est, rtol=0, atol=1e-12)
    # policies were not asked in 2024: pooled over the years that asked them
    assert table.loc[table["variable"] == "policy_use", "years"].iloc[0] == "2022, 2023"


def test_challenges_pool_the_base_of_those_who_answered(design) -> None:
    """A multiple-choice item: base = ticked at least one option, "don't know" alone outside."""
    t = ospo_survey.benchmark(has_ospo="yes")
    frame = design.frame
    cols = [c for c in frame.columns if c.startswith(f"{B.CHALLENGES}_")]
    known = [c for c in cols if not c.endswith("dont_know")]
    ticks = frame[cols].fillna(False).astype(bool)
    base = (_in(frame, {"has_ospo": "has"}) & frame[cols].notna().any(axis=1).to_numpy()
            & ticks[known].any(axis=1).to_numpy())
    for option in ("talent", "budget"):
        hit = ticks[f"{B.CHALLENGES}_{option}"].to_numpy()
        shares, ns = [], []
        for y in (2022, 2023):
            rows = base & (frame["year"] == y).to_numpy()
            w = frame.loc[rows, "weight"].to_numpy()
            shares.append(float((w * hit[rows]).sum() / w.sum()))
            ns.append(int(rows.sum()))
        row = t[(t["variable"] == B.CHALLENGES) & (t["level"] == option)].iloc[0]
        assert int(row["n"]) == sum(ns) and row["years"] == "2022, 2023"
        np.testing.assert_allclose(row["estimate"], np.dot(ns, shares) / sum(ns), atol=1e-12)


def test_pooled_se_sums_the_years_variances(design, table) -> None:
    """se = sqrt(sum a_y^2 se_y^2), a_y = n_y / n, from the design's own per-year verb."""
    sub = design.subset(**CONDITIONS)
    for var, level in SINGLE:
        years = sub.proportion(var, suppress=False)
        years = years[(years["level"] == level) & (years["n"] > 0)]
        a = years["n"].to_numpy() / years["n"].sum()
        want = float(np.sqrt((a**2 * years["se"].to_numpy() ** 2).sum()))
        row = table[(table["variable"] == var) & (table["level"] == level)].iloc[0]
        np.testing.assert_allclose(row["se"], want, rtol=1e-12)
        assert row["ci_low"] < row["estimate"] < row["ci_high"]


RSCRIPT = shutil.which("Rscript")


@pytest.mark.skipif(RSCRIPT is None and os.environ.get("OSPO_REQUIRE_R") != "1",
                    reason="R is not installed")
def test_pooled_share_and_se_equal_r_survey_on_the_stacked_years(design, table, tmp_path):
    assert RSCRIPT is not None, "OSPO_REQUIRE_R=1 but Rscript is not installed"
    cols = ["has_ospo", "activity_contribute", "org_size", "region"]
    frame = design.frame[["year", "weight", *cols]].copy()
    for c in cols:
        col = frame[c].astype(object)
        frame[c] = col.where(~col.isin(policy.UNKNOWN_LEVELS))
    path = tmp_path / "stacked.csv"
    frame.to_csv(path, index=False)
    code = f"""
suppressMessages({{library(survey); library(jsonlite)}})
d <- read.csv("{path}", stringsAsFactors = FALSE, na.strings = c(""), check.names = FALSE)
des <- svydesign(ids = ~1, strata = ~year, weights = ~weight, data = d)
out <- list()
for (v in list(c("has_ospo", "has"), c("activity_contribute", "frequently"))) {{
  des$variables$answered <- !is.na(des$variables[[v[1]]])
  sub <- subset(des, org_size == "1-50" & region == "Europe" & answered)
  f <- as.formula(paste0("~as.numeric(", v[1], " == '", v[2], "')"))
  r <- svyby(f, ~year, sub, svymean, covmat = TRUE)
  keep <- d$org_size %in% "1-50" & d$region %in% "Europe" & !is.na(d[[v[1]]])
  n <- as.numeric(table(factor(d$year[keep], levels = r$year)))
  a <- n / sum(n)
  pooled <- svycontrast(r, a)
  out[[v[1]]] <- list(est = unname(coef(pooled)), se = unname(SE(pooled)),
                      se_year = unname(SE(r)), n = n)
}}
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""
    proc = subprocess.run([RSCRIPT, "-e", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    sub = design.subset(**CONDITIONS)
    for var, level in SINGLE[:2]:
        row = table[(table["variable"] == var) & (table["level"] == level)].iloc[0]
        r_est, r_se = float(np.ravel(r[var]["est"])[0]), float(np.ravel(r[var]["se"])[0])
        np.testing.assert_allclose(row["estimate"], r_est, rtol=0, atol=1e-9)
        assert int(row["n"]) == int(sum(r[var]["n"]))
        ours = sub.proportion(var, suppress=False)
        ours = ours[(ours["level"] == level) & (ours["n"] > 0)]["se"].to_numpy()
        theirs = np.ravel(np.asarray(r[var]["se_year"], dtype=float))
        # the design's variance is R's: per-year and pooled SEs equal R's
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        np.testing.assert_allclose(row["se"], r_se, rtol=1e-9)


def test_a_narrow_profile_names_the_part_to_widen() -> None:
    profile = {"size": "over 10,000", "industry": "government", "region": "Latin America"}
    t = ospo_survey.benchmark(**profile)
    thin = t[t["suppressed"]]
    assert len(thin) > 0
    assert thin[["estimate", "ci_low", "ci_high"]].isna().all().all()
    pattern = re.compile(r"^(size|industry|region): widen it, effective n (\d+) under 30$")
    row = thin[thin["variable"] == "has_ospo"].iloc[0]
    m = pattern.match(row["reason"])
    assert m, row["reason"]
    assert int(m.group(2)) == round(row["n_eff"]) and row["n_eff"] < policy.MIN_N_EFF
    # the part named is the one whose widening gains most effective n (the API's own oracle)
    gains = {}
    for part in profile:
        wider = ospo_survey.benchmark(**{k: v for k, v in profile.items() if k != part})
        gains[part] = float(wider.loc[wider["variable"] == "has_ospo", "n_eff"].iloc[0])
    assert m.group(1) == max(gains, key=gains.get)
    assert any("too narrow" in n for n in t.attrs["notes"])


def test_levels_are_the_page_labels_and_a_wrong_one_is_one_line_naming_them() -> None:
    labels = {d.name: list(d.choices) for d in B.dimensions()}
    assert labels["has_ospo"] == ["yes", "planning one", "no"]
    assert "over 10,000" in labels["size"] and "Europe" in labels["region"]
    with pytest.raises(UnknownVariableError) as err:
        ospo_survey.benchmark(region="Mars")
    text = str(err.value)
    assert "\n" not in text and "Mars" in text
    assert all(label in text for label in labels["region"])
    with pytest.raises(UnknownVariableError):
        ospo_survey.benchmark(has_ospo="has")  # the level name is not the label


def test_cli_prints_the_table_and_fails_in_one_line_on_a_bad_label() -> None:
    env = {**os.environ}
    run = subprocess.run([sys.executable, "-m", "ospo_survey", "benchmark", "--size", "1-50",
                          "--region", "Europe"], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).parents[1])
    assert run.returncode == 0, run.stderr
    from io import StringIO

    got = pd.read_csv(StringIO(run.stdout))
    assert list(got.columns) == B.COLUMNS
    api = ospo_survey.benchmark(**PROFILE)
    np.testing.assert_allclose(got["estimate"].to_numpy(), api["estimate"].to_numpy(),
                               rtol=1e-5, equal_nan=True)
    bad = subprocess.run([sys.executable, "-m", "ospo_survey", "benchmark", "--industry",
                          "tech"], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).parents[1])
    assert bad.returncode != 0
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "technology" in lines[0], bad.stderr


def test_every_profile_from_cell_sums_equals_the_verbs(design) -> None:
    """The page's one-pass sums (``per_year_profiles``) give, for every set of profile parts,
    the rows the design's verbs give (``per_year``: ``proportion``, ``maturity``,
    ``proportions`` by those parts): the same groups, bases, counts, structural reasons, and
    estimates, SEs, effective n, design effects and intervals to 1e-9."""
    fast = B.per_year_profiles(design)
    assert len(fast) == 2 ** len(B.dimensions())
    numbers = ["estimate", "se", "ci_low", "ci_high", "n_eff", "deff"]
    for names, rows in fast.items():
        verbs = B.per_year(design, names)
        effective = verbs["reason"].str.startswith("effective n")  # decided after pooling
        verbs = verbs.assign(reason=verbs["reason"].where(~effective, ""))
        verbs[list(names)] = verbs[list(names)].astype(str)
        key = ["item", "year", *names]
        a = verbs.sort_values(key).reset_index(drop=True)
        b = rows.sort_values(key).reset_index(drop=True)
        assert len(a) == len(b), names
        pd.testing.assert_frame_equal(a[[*key, "n", "count", "reason"]],
                                      b[[*key, "n", "count", "reason"]], check_dtype=False,
                                      obj=str(names))
        for c in numbers:
            np.testing.assert_allclose(b[c].to_numpy(float), a[c].to_numpy(float), rtol=1e-9,
                                       atol=1e-12, err_msg=f"{names} {c}")
