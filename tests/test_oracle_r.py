"""The design's verbs against R's ``survey`` package, on the same rows and weights.

Each test writes the design's rows (the weight and the variables it needs, "don't know" as NA:
the policy says it is outside every base) to a CSV, runs R (``svydesign(ids=~1,
weights=~weight)``, then ``subset``, ``svyby``, ``svychisq``, ``svyglm``) and compares. Point
estimates must agree to 1e-9, standard errors and tests to 1e-6 (relative), intervals to 5e-4:
the default variance is R's (the years are strata: ``svydesign(ids=~1, strata=~year,
weights=~weight)``) and the default interval R's Korn-Graubard (``svyciprop(method="beta")``).

R and its ``survey`` and ``jsonlite`` packages come from Debian (``.ci/run`` installs them and
sets ``OSPO_REQUIRE_R=1``, under which a missing R is a failure, never a skip).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ospo_survey
from ospo_survey.analysis import policy

pytestmark = pytest.mark.data

RSCRIPT = shutil.which("Rscript")
if RSCRIPT is None:
    if os.environ.get("OSPO_REQUIRE_R") == "1":
        raise RuntimeError("OSPO_REQUIRE_R=1 but Rscript is not installed (.ci/run installs it)")
    pytest.skip("R is not installed (Debian: r-base-core r-cran-survey r-cran-jsonlite)",
                allow_module_level=True)


def _export(s: ospo_survey.Survey, columns: list[str], path: Path) -> Path:
    """The design's rows (all of them: a subset is done in R) with unknown answers as NA."""
    frame = s._data[["year", "weight", *columns]].copy()
    for c in columns:
        col = frame[c].astype(object)
        frame[c] = col.where(~col.isin(policy.UNKNOWN_LEVELS))
    frame.to_csv(path, index=False)
    return path


def _r(script: str, data: Path) -> dict:
    code = f"""
suppressMessages({{library(survey); library(jsonlite)}})
d <- read.csv("{data}", stringsAsFactors = FALSE, na.strings = c(""), check.names = FALSE)
des <- svydesign(ids = ~1, strata = ~year, weights = ~weight, data = d)
{script}
"""
    proc = subprocess.run([RSCRIPT, "-e", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_proportion_by_two_variables_equals_svyby(tmp_path) -> None:
    s = ospo_survey.survey(2024)
    got = s.proportion("has_ospo", by=["size3", "region"], suppress=False)
    got = got[got["level"] == "has"]
    r = _r("""
r <- svyby(~as.numeric(has_ospo == "has"), ~size3 + region, des, svymean, na.rm = TRUE)
cat(toJSON(data.frame(size3 = r$size3, region = r$region, est = unname(coef(r))),
           digits = NA))
""", _export(s, ["has_ospo", "size3", "region"], tmp_path / "d.csv"))
    want = pd.DataFrame(r).set_index(["size3", "region"])["est"]
    mine = got.set_index(["size3", "region"])["estimate"]
    assert len(mine) == len(want) > 10
    np.testing.assert_allclose(mine.loc[want.index].to_numpy(), want.to_numpy(), atol=1e-9)


def test_domain_with_combined_levels_equals_svyby_on_a_subset(tmp_path) -> None:
    s = ospo_survey.survey([2023, 2024])
    top2 = {"top two": ["extremely critical", "very critical"]}
    got = s.subset(has_ospo="has").proportion("criticality_goals", by="size3", combine=top2,
                                              suppress=False)
    got = got[got["level"] == "top two"].set_index(["year", "group"])["estimate"]
    r = _r("""
out <- NULL
for (y in c(2023, 2024)) {
  dy <- subset(des, year == y & has_ospo == "has")
  r <- svyby(~as.numeric(criticality_goals %in% c("extremely critical", "very critical")),
             ~size3, subset(dy, !is.na(criticality_goals)), svymean)
  out <- rbind(out, data.frame(year = y, size3 = r$size3, est = unname(coef(r))))
}
cat(toJSON(out, digits = NA))
""", _export(s, ["has_ospo", "criticality_goals", "size3"], tmp_path / "d.csv"))
    want = pd.DataFrame(r).set_index(["year", "size3"])["est"]
    assert len(want) == 6
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), atol=1e-9)


@pytest.mark.parametrize("year", [2019, 2024])
def test_crosstab_test_equals_svychisq(tmp_path, year: int) -> None:
    s = ospo_survey.survey(year)
    x = s.crosstab("size3", "has_ospo").test.iloc[0]
    r = _r("""
t <- svychisq(~size3 + has_ospo, des)
cat(toJSON(list(F = unname(t$statistic), ndf = unname(t$parameter[1]),
                ddf = unname(t$parameter[2]), p = unname(t$p.value)), digits = NA,
           auto_unbox = TRUE))
""", _export(s, ["size3", "has_ospo"], tmp_path / "d.csv"))
    for key in ("F", "ndf", "ddf", "p"):
        assert x[key] == pytest.approx(r[key], rel=1e-6), key


def test_logistic_without_dont_know_equals_svyglm(tmp_path) -> None:
    s = ospo_survey.survey([2022, 2023, 2024])
    fit = s.logistic("activity_contribute == 'frequently' ~ size3 + year")
    r = _r("""
d2 <- subset(des, !is.na(activity_contribute) & !is.na(size3))
m <- svyglm(I(activity_contribute == "frequently") ~ factor(size3, c("small", "mid", "large"))
            + factor(year), d2, family = quasibinomial())
cat(toJSON(list(coef = unname(coef(m)), n = nrow(model.frame(m))), digits = NA))
""", _export(s, ["activity_contribute", "size3"], tmp_path / "d.csv"))
    assert fit.n == r["n"][0]
    np.testing.assert_allclose(fit.table["estimate"].to_numpy(), np.array(r["coef"]),
                               rtol=1e-6, atol=1e-9)


def test_domain_crosstab_equals_svychisq_on_a_subset(tmp_path) -> None:
    """Within a subpopulation R keeps the whole design for the variance and takes its
    degrees of freedom from the subset's rows: the same F, ndf, ddf and p."""
    s = ospo_survey.survey(2023)
    x = s.subset(has_ospo="has").crosstab("size3", "criticality_goals").test.iloc[0]
    r = _r("""
t <- svychisq(~size3 + criticality_goals, subset(des, has_ospo == "has"))
cat(toJSON(list(F = unname(t$statistic), ndf = unname(t$parameter[1]),
                ddf = unname(t$parameter[2]), p = unname(t$p.value)), digits = NA,
           auto_unbox = TRUE))
""", _export(s, ["has_ospo", "size3", "criticality_goals"], tmp_path / "d.csv"))
    for key in ("F", "ndf", "ddf", "p"):
        assert x[key] == pytest.approx(r[key], rel=1e-6), key


# ------------------------------------------------------------------ R's variance and intervals

SE_REL, CI_ABS = 1e-6, 5e-4


@pytest.mark.parametrize("years", [2024, [2021, 2022, 2023]])
def test_proportion_se_and_interval_equal_svyby_and_svyciprop(tmp_path, years) -> None:
    s = ospo_survey.survey(years)
    got = s.proportion("has_ospo", by="size3", suppress=False)
    got = got[got["level"] == "has"].set_index(["year", "group"])
    r = _r("""
out <- NULL
for (y in unique(d$year)) {
  dy <- subset(des, year == y & !is.na(has_ospo) & !is.na(size3))
  m <- svyby(~as.numeric(has_ospo == "has"), ~size3, dy, svymean)
  ci <- svyby(~I(has_ospo == "has"), ~size3, dy, svyciprop, method = "beta", vartype = "ci")
  out <- rbind(out, data.frame(year = y, size3 = m$size3, est = unname(coef(m)),
                               se = unname(SE(m)),
                               lo = ci$ci_l, hi = ci$ci_u))
}
cat(toJSON(out, digits = NA))
""", _export(s, ["has_ospo", "size3"], tmp_path / "d.csv"))
    want = pd.DataFrame(r).set_index(["year", "size3"])
    mine = got.loc[want.index]
    assert len(want) >= 3
    np.testing.assert_allclose(mine["estimate"], want["est"], atol=1e-9)
    np.testing.assert_allclose(mine["se"], want["se"], rtol=SE_REL)
    np.testing.assert_allclose(mine["ci_low"], want["lo"], atol=CI_ABS)
    np.testing.assert_allclose(mine["ci_high"], want["hi"], atol=CI_ABS)
    # the design effect: the variance over a simple random sample's, p(1-p)/(n-1)
    p, n = mine["estimate"], mine["n"]
    np.testing.assert_allclose(mine["deff"], mine["se"] ** 2 / (p * (1 - p) / n), rtol=1e-2)


def test_subset_se_and_interval_equal_r_on_a_subset(tmp_path) -> None:
    s = ospo_survey.survey(2022)
    got = s.subset(size3="large").proportion("activity_contribute", suppress=False)
    got = got.set_index("level")
    r = _r("""
dy <- subset(des, size3 == "large" & !is.na(activity_contribute))
out <- NULL
for (lv in c("frequently", "never")) {
  m <- svymean(~as.numeric(activity_contribute == lv), dy)
  ci <- svyciprop(~I(activity_contribute == lv), dy, method = "beta")
  out <- rbind(out, data.frame(level = lv, est = unname(coef(m)), se = unname(SE(m)),
                               lo = unname(confint(ci)[1]), hi = unname(confint(ci)[2])))
}
cat(toJSON(out, digits = NA))
""", _export(s, ["activity_contribute", "size3"], tmp_path / "d.csv"))
    want = pd.DataFrame(r).set_index("level")
    mine = got.loc[want.index]
    np.testing.assert_allclose(mine["estimate"], want["est"], atol=1e-9)
    np.testing.assert_allclose(mine["se"], want["se"], rtol=SE_REL)
    np.testing.assert_allclose(mine["ci_low"], want["lo"], atol=CI_ABS)
    np.testing.assert_allclose(mine["ci_high"], want["hi"], atol=CI_ABS)


def test_multiple_choice_shares_equal_svymean(tmp_path) -> None:
    s = ospo_survey.survey(2023)
    got = s.proportions("journey", suppress=False).set_index("level")
    cols = [c for c in s.frame.columns if c.startswith("journey_")]
    frame = s._data[["year", "weight", *cols]].copy()
    known = [c for c in cols if not c.endswith("dont_know")]
    ticked = frame[cols].fillna(False).astype(bool)
    base = frame[cols].notna().any(axis=1) & ticked[known].any(axis=1)
    frame["base"] = base
    for c in known:
        frame[c] = ticked[c].astype(int)
    frame.to_csv(tmp_path / "d.csv", index=False)
    options = [c.removeprefix("journey_") for c in known if c.removeprefix("journey_") in
               got.index and got.at[c.removeprefix("journey_"), "count"] > 0]
    r = _r(f"""
db <- subset(des, base == "True")
out <- NULL
for (o in c({", ".join(f'"{o}"' for o in options)})) {{
  m <- svymean(as.formula(paste0("~journey_", o)), db)
  out <- rbind(out, data.frame(level = o, est = unname(coef(m)), se = unname(SE(m))))
}}
cat(toJSON(out, digits = NA))
""", tmp_path / "d.csv")
    want = pd.DataFrame(r).set_index("level")
    np.testing.assert_allclose(got.loc[want.index, "estimate"], want["est"], atol=1e-9)
    np.testing.assert_allclose(got.loc[want.index, "se"], want["se"], rtol=SE_REL)


def test_difference_se_equals_svycontrast_with_year_strata(tmp_path) -> None:
    s = ospo_survey.survey([2023, 2024]).without_panel()
    d = s.difference("has_ospo", "has").iloc[0]
    frame = s._data[["year", "weight", "has_ospo"]].copy()
    frame = frame[frame["weight"] > 0]
    frame.to_csv(tmp_path / "d.csv", index=False)
    r = _r("""
m <- svyby(~as.numeric(has_ospo == "has"), ~year, subset(des, !is.na(has_ospo)), svymean,
           covmat = TRUE)
k <- svycontrast(m, c(-1, 1))
cat(toJSON(list(est = as.numeric(coef(k)), se = as.numeric(SE(k))), digits = NA,
           auto_unbox = TRUE))
""", tmp_path / "d.csv")
    assert d["estimate"] == pytest.approx(r["est"], abs=1e-9)
    assert d["se"] == pytest.approx(r["se"], rel=SE_REL)
    assert d["ci_low"] < d["estimate"] < d["ci_high"]


def test_pooled_logistic_ses_equal_svyglm_with_year_strata(tmp_path) -> None:
    s = ospo_survey.survey([2022, 2023, 2024])
    fit = s.logistic("activity_contribute == 'frequently' ~ size3")
    r = _r("""
d2 <- subset(des, !is.na(activity_contribute) & !is.na(size3))
m <- svyglm(I(activity_contribute == "frequently") ~ factor(size3, c("small", "mid", "large")),
            d2, family = quasibinomial())
cat(toJSON(list(coef = unname(coef(m)), se = unname(SE(m))), digits = NA))
""", _export(s, ["activity_contribute", "size3"], tmp_path / "d.csv"))
    np.testing.assert_allclose(fit.table["estimate"], r["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fit.table["se"], r["se"], rtol=SE_REL)
    assert fit.table["deff"].notna().all()


@pytest.mark.parametrize("years", [[2022], [2022, 2023, 2024]])
def test_adjusted_shares_equal_svypredmeans(tmp_path, years) -> None:
    s = ospo_survey.survey(years)
    pooled = len(years) > 1
    got = s.compare("activity_contribute", "has_ospo", adjust=["size3"], pooled=pooled,
                    suppress=False)
    got = got[got["outcome_level"] == "frequently"].set_index("group")
    year_term = " + factor(year)" if pooled else ""
    r = _r(f"""
d2 <- subset(des, !is.na(activity_contribute) & !is.na(has_ospo))
d2 <- update(d2, size3 = ifelse(is.na(size3), "(missing)", size3))
m <- svyglm(I(activity_contribute == "frequently") ~ factor(size3){year_term}, d2,
            family = quasibinomial())
p <- svypredmeans(m, ~factor(has_ospo))
cat(toJSON(list(group = names(coef(p)), est = unname(coef(p)), se = unname(SE(p)),
                v = unname(as.matrix(vcov(p)))), digits = NA))
""", _export(s, ["activity_contribute", "has_ospo", "size3"], tmp_path / "d.csv"))
    want = pd.DataFrame({"est": r["est"], "se": r["se"]}, index=r["group"])
    mine = got.loc[want.index]
    np.testing.assert_allclose(mine["adj_estimate"], want["est"], atol=1e-7)
    np.testing.assert_allclose(mine["adj_se"], want["se"], rtol=SE_REL)
    v = pd.DataFrame(np.array(r["v"]), index=r["group"], columns=r["group"])
    ref = got.index[0]
    for g in got.index[1:]:   # a difference uses the whole covariance (svycontrast)
        dse = np.sqrt(v.at[g, g] + v.at[ref, ref] - 2 * v.at[g, ref])
        half = got.at[g, "diff_ci_high"] - got.at[g, "diff"]
        assert half == pytest.approx(1.959963984540054 * dse, rel=SE_REL)
