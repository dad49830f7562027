"""The design's verbs against R's ``survey`` package, on the same rows and weights.

Each test writes the design's rows (the weight and the variables it needs, "don't know" as NA:
the policy says it is outside every base) to a CSV, runs R (``svydesign(ids=~1,
weights=~weight)``, then ``subset``, ``svyby``, ``svychisq``, ``svyglm``) and compares. Point
estimates must agree to 1e-9 and the Rao-Scott test to 1e-6. Standard errors are left to the
oracle suite of the variance policy (the default SEs here carry a Kish floor R does not have).

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
des <- svydesign(ids = ~1, weights = ~weight, data = d)
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
