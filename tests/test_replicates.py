"""Bootstrap replicate weights that carry the whole weighting, checked against R's ``survey``.

The replicates resample every year's harmonised sample (years as strata, Rao-Wu: ``n_h - 1``
draws), re-derive the pooled reference targets from each resample and re-rake every year. The
design's ``se="replicate"`` standard errors must equal R's ``svrepdesign(type="bootstrap",
combined.weights=TRUE, scale=1/(R-1), rscales=1, mse=FALSE)`` on the same weights (to 1e-6,
relative), and the open data release's replicate columns must give R the same SEs with the
call its description prints.

R and its ``survey`` and ``jsonlite`` packages come from Debian; under ``OSPO_REQUIRE_R=1`` a
missing R is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _site import ensure_processed

import ospo_survey
from ospo_survey.analysis import policy
from ospo_survey.core.errors import ModelError, TargetsError, WeightingError
from ospo_survey.inference import schemes
from ospo_survey.inference import weights as W
from ospo_survey.inference.estimate.replicates import (
    R_CALL,
    REPLICATE_SEED,
    REPLICATES,
    replicate_names,
)
from ospo_survey.ingest.dataset import load_harmonized

pytestmark = pytest.mark.data

RSCRIPT = shutil.which("Rscript")
LEVELS = ["has", "planning", "none"]


def _rscript() -> str:
    if RSCRIPT is None:
        if os.environ.get("OSPO_REQUIRE_R") == "1":
            raise RuntimeError("OSPO_REQUIRE_R=1 but Rscript is not installed")
        pytest.skip("R is not installed (Debian: r-base-core r-cran-survey r-cran-jsonlite)")
    return RSCRIPT


def _r(code: str) -> dict:
    script = f"suppressMessages({{library(survey); library(jsonlite)}})\n{code}\n"
    proc = subprocess.run([_rscript(), "-e", script], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _svymean_script(data: Path, call: str) -> str:
    """R: the replicate design of ``data`` by ``call``, then each level's share and SE among
    the respondents who answered has_ospo (``answered``)."""
    n_rep = REPLICATES
    return f"""
d <- read.csv("{data}", stringsAsFactors = FALSE, check.names = FALSE)
R <- {n_rep}
des <- {call}
sub <- subset(des, answered == 1)
m <- svymean(~y_has + y_planning + y_none, sub)
cat(toJSON(list(estimate = unname(coef(m)), se = unname(SE(m))), digits = NA), "\\n")
"""


@pytest.fixture(scope="module")
def boot() -> schemes.Bootstrap:
    ensure_processed()
    return schemes.bootstrap()


# --------------------------------------------------------------------------- R oracle


@pytest.mark.parametrize("year", [2023, 2024])
def test_replicate_ses_equal_svrepdesign_bootstrap(tmp_path, year) -> None:
    """The design's se="replicate" shares and SEs of has_ospo are R's svymean on the same
    replicate weights (combined weights, scale 1/(R-1), centred on the replicates' mean)."""
    s = ospo_survey.survey(year, se="replicate")
    api = s.proportion("has_ospo").set_index("level")
    frame = s.frame
    reps = schemes.replicate_weights_for(frame, year, "reference")
    col = frame["has_ospo"].astype(object)
    answered = col.notna() & ~col.isin(policy.UNKNOWN_LEVELS)
    assert int(answered.sum()) == int(api.at["has", "n"])
    data = pd.DataFrame({"weight": frame["weight"], "answered": answered.astype(int)})
    for lv in LEVELS:
        data[f"y_{lv}"] = (col == lv).astype(int)
    data = pd.concat([data, pd.DataFrame(reps, columns=replicate_names(reps.shape[1]))], axis=1)
    path = tmp_path / "reps.csv"
    data.to_csv(path, index=False, float_format="%.17g")
    got = _r(_svymean_script(path, R_CALL))
    for i, lv in enumerate(LEVELS):
        assert api.at[lv, "estimate"] == pytest.approx(got["estimate"][i], rel=1e-9), lv
        assert api.at[lv, "se"] == pytest.approx(got["se"][i], rel=1e-6), lv
    # and they are not the linearised SEs under another name
    lin = ospo_survey.survey(year).proportion("has_ospo").set_index("level")
    assert not np.allclose(lin.loc[LEVELS, "se"], api.loc[LEVELS, "se"], rtol=1e-3)


def test_without_panel_re_rakes_every_replicate(boot) -> None:
    """Leaving the paid panel out re-rakes the kept rows of each replicate to that replicate's
    targets (as the main weights are re-raked): the replicate weights are not the full
    sample's, and each replicate hits its own targets among the kept rows."""
    s = ospo_survey.survey(2023, se="replicate").without_panel()
    assert s.se == "replicate"
    kept = s.frame
    reps = schemes.replicate_weights_for(kept, 2023, "reference", reweighted=True)
    full = boot.weights[boot.rows(kept["row_id"])]
    assert not np.allclose(reps, full)
    assert np.allclose(reps.mean(axis=0), 1.0)
    size = kept["org_size"].astype(object)
    known = size.isin(list(boot.targets[0]["org_size"]))
    for r in (0, 1, REPLICATES - 1):
        w = reps[:, r]
        target = boot.targets[r]["org_size"]
        for level, share in target.items():
            got = w[(size == level).to_numpy()].sum() / w[known.to_numpy()].sum()
            assert got == pytest.approx(share / sum(target.values()), abs=1e-6), (r, level)
    est = s.proportion("has_ospo")
    assert est["se"].notna().all() and (est["se"] > 0).all()


def test_replicates_need_the_harmonised_sample() -> None:
    with pytest.raises(WeightingError, match="harmonised sample"):
        ospo_survey.survey(2021, sample="publisher", se="replicate").proportion("has_ospo")
    with pytest.raises(ModelError, match="se='bootstrap'"):
        ospo_survey.survey(2024, se="bootstrap")


# --------------------------------------------------------------------------- the bootstrap


def test_deterministic_for_the_seed() -> None:
    """Same seed, same replicates (computed afresh, not the cache); another seed differs."""
    ensure_processed()
    a = schemes.bootstrap.__wrapped__("reference", 4, REPLICATE_SEED)
    b = schemes.bootstrap.__wrapped__("reference", 4, REPLICATE_SEED)
    c = schemes.bootstrap.__wrapped__("reference", 4, REPLICATE_SEED + 1)
    assert np.array_equal(a.factors, b.factors) and np.array_equal(a.weights, b.weights)
    assert a.targets == b.targets
    assert not np.array_equal(a.factors, c.factors)


def test_years_are_strata_and_keep_their_n(boot) -> None:
    """Every replicate draws n_h - 1 respondents of every year h with replacement: the
    rescaled factors sum to the year's n, each is a whole number of draws times n/(n-1), and
    the replicate weights average 1 within a year, like the main weights."""
    h = load_harmonized(sample="harmonized", columns=["org_size"])
    sizes = h.groupby("year").size()
    assert boot.weights.shape == (len(h), REPLICATES)
    for year, n in sizes.items():
        rows = boot.year == year
        assert int(rows.sum()) == n
        draws = boot.factors[rows] * (n - 1) / n
        assert np.allclose(draws, np.round(draws))
        assert np.allclose(draws.sum(axis=0), n - 1)
        assert np.allclose(boot.weights[rows].mean(axis=0), 1.0)
        assert ((boot.weights[rows] == 0) == (boot.factors[rows] == 0)).all()


def test_each_replicate_re_derives_the_pooled_targets(boot) -> None:
    """A replicate's targets are the reference derivation on its resample (not the fixed
    full-sample targets), and its weights reach them in every year."""
    spec = schemes.targets("reference")
    h = load_harmonized(sample="harmonized", columns=list(schemes.REFERENCE_VARIABLES))
    h = h.reset_index(drop=True)
    assert (h["row_id"].astype(str).to_numpy() == boot.row_id).all()
    differs = 0
    for r in (0, 7, REPLICATES - 1):
        fresh = W.derive_reference_targets(
            h, list(schemes.REFERENCE_VARIABLES), dont_know_levels=schemes.UNKNOWN_LEVELS,
            weights=boot.factors[:, r], pooled_years=spec["pooled_years"])["margins"]
        for var, target in boot.targets[r].items():
            for level, share in target.items():
                assert share == pytest.approx(fresh[var][level], abs=1.01e-4), (r, var, level)
            differs += any(abs(target[lv] - spec["margins"][var][lv]) > 1e-4 for lv in target)
        for year in (2019, 2023):
            rows = (boot.year == year)
            w = boot.weights[rows, r]
            size = h.loc[rows, "org_size"].astype(object).to_numpy()
            target = boot.targets[r]["org_size"]
            known = np.isin(size, list(target))
            for level, share in target.items():
                got = w[size == level].sum() / w[known].sum()
                assert got == pytest.approx(share / sum(target.values()), abs=1e-6)
    assert differs >= 5  # 3 replicates x 2 variables: nearly every one moves


# --------------------------------------------------------------------------- the release


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory) -> Path:
    from ospo_survey.site import release

    ensure_processed()
    return release.export(tmp_path_factory.mktemp("release") / "data").parent


def test_release_replicates_read_by_the_printed_r_call(release_dir: Path) -> None:
    """The R call in the replicate resource's description, run as printed on the release's
    files, gives the design's se="replicate" SEs (to 1e-4: the columns are rounded to 6
    decimals)."""
    meta = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    res = next(r for r in meta["resources"] if r["name"] == "replicates-2024")
    call = res["description"].split("In R: ", 1)[1]
    assert "svrepdesign" in call and 'type = "bootstrap"' in call
    names = [f["name"] for f in res["schema"]["fields"]]
    assert names == ["row_id", *replicate_names(REPLICATES)]
    code = f"""
setwd("{release_dir}")
{call.split("; svymean")[0]}
des <- update(des, answered = as.integer(has_ospo %in% c("has", "planning", "none")),
              y_has = as.integer(has_ospo == "has"),
              y_planning = as.integer(has_ospo == "planning"),
              y_none = as.integer(has_ospo == "none"))
m <- svymean(~y_has + y_planning + y_none, subset(des, answered == 1))
cat(toJSON(list(estimate = unname(coef(m)), se = unname(SE(m))), digits = NA), "\\n")
"""
    got = _r(code)
    api = ospo_survey.survey(2024, se="replicate").proportion("has_ospo").set_index("level")
    for i, lv in enumerate(LEVELS):
        assert api.at[lv, "estimate"] == pytest.approx(got["estimate"][i], rel=1e-9)
        assert api.at[lv, "se"] == pytest.approx(got["se"][i], rel=1e-4)


def test_release_replicates_csv_equals_parquet_and_stays_small(release_dir: Path) -> None:
    table = pd.read_parquet(release_dir / "replicates.parquet")
    names = replicate_names(REPLICATES)
    for path in sorted((release_dir / "replicates").glob("*.csv")):
        assert path.stat().st_size < 3_000_000, path.name
        csv = pd.read_csv(path)
        part = table[table["year"] == int(path.stem)].reset_index(drop=True)
        assert csv["row_id"].tolist() == part["row_id"].tolist()
        assert np.array_equal(csv[names].to_numpy(), part[names].to_numpy())
        assert np.array_equal(part[names].to_numpy(), part[names].to_numpy().round(6))
    for path in release_dir.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 3_000_000, path.name
    people = pd.read_csv(release_dir / "respondents.csv", dtype={"row_id": str},
                         usecols=["year", "row_id", "weight", "weight_no_panel"])
    ids = set(people["row_id"])
    assert set(table["row_id"]) == ids and table["row_id"].is_unique


def test_release_weight_without_the_panel(release_dir: Path) -> None:
    """weight_no_panel is survey(2023).without_panel()'s weight; missing elsewhere."""
    people = pd.read_csv(release_dir / "respondents.csv", dtype={"row_id": str},
                         usecols=["year", "row_id", "weight", "weight_no_panel"])
    design = ospo_survey.survey(2023).without_panel().frame.set_index("row_id")["weight"]
    y23 = people[people["year"] == 2023].set_index("row_id")["weight_no_panel"]
    assert y23.notna().sum() == len(design)
    assert np.allclose(y23.dropna().sort_index(), design.sort_index(), rtol=1e-12)
    assert people.loc[people["year"] != 2023, "weight_no_panel"].isna().all()
    meta = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    fields = {f["name"]: f for f in meta["resources"][0]["schema"]["fields"]}
    assert re.search(r"pooled from 2018-2024", fields["weight"]["description"])


# --------------------------------------------------------------------------- targets versions


def test_targets_file_without_pooled_years_is_an_error_naming_it(tmp_path) -> None:
    text = schemes.reference_path().read_text(encoding="utf-8")
    cut = re.sub(r"pooled_years:\n(- \d+\n)+", "", text)
    assert cut != text
    bad = tmp_path / "reference-draft.yaml"
    bad.write_text(cut, encoding="utf-8")
    with pytest.raises(TargetsError, match=r"reference-draft\.yaml.*pooled_years"):
        W.load_targets(bad)


def test_targets_version_records_its_years_and_refuses_a_new_one() -> None:
    ensure_processed()
    spec = schemes.targets("reference")
    years = spec["pooled_years"]
    assert spec["version"] == schemes.reference_version(years) == schemes.REFERENCE_TARGETS
    assert schemes.reference_path().name == f"{spec['version']}.yaml"
    h = load_harmonized(sample="harmonized")
    assert sorted(h["year"].unique()) == years  # every year of the data is pooled now
    new = h[h["year"] == years[-1]].assign(year=years[-1] + 1)
    more = pd.concat([h, new], ignore_index=True)
    with pytest.raises(TargetsError, match=rf"{years[-1] + 1}.*new targets version"):
        schemes.derive_reference(frame=more)
    wider = schemes.derive_reference([*years, years[-1] + 1], frame=more)
    assert wider["version"] == f"reference-{years[0]}-{years[-1] + 1}"
    assert wider["margins"] != spec["margins"]
    note = ospo_survey.survey(2024).notes
    assert any(f"pooled from {years[0]}-{years[-1]} (version {spec['version']})" in n
               for n in note)


def test_a_copy_over_the_cap_is_trimmed_like_the_main_weights(boot, monkeypatch) -> None:
    """The cap applies to the weight of one drawn copy of a respondent (8 times the mean: no
    copy reaches it here). With a cap that binds (1.9), the replicate's copies are capped at
    1.9 times their mean and the replicate still reaches its targets."""
    h = load_harmonized([2023], sample="harmonized", columns=list(schemes.REFERENCE_VARIABLES))
    rows = np.flatnonzero(boot.year == 2023)
    assert (boot.row_id[rows] == h["row_id"].astype(str).to_numpy()).all()
    raking = schemes._ReplicateRaking(h.reset_index(drop=True), schemes.targets("reference"))
    r = 0
    f, m = boot.factors[rows, r], boot.draws[rows, r]
    free = raking.rake(boot.targets[r], f, m)
    assert np.allclose(free, boot.weights[rows, r])
    per_copy = free[m > 0] / m[m > 0]
    mean_copy = free.sum() / m.sum()
    assert per_copy.max() < schemes.TRIM["max_ratio"] * mean_copy
    assert per_copy.max() > 1.9 * mean_copy  # so that a 1.9 cap binds
    monkeypatch.setitem(schemes.TRIM, "max_ratio", 1.9)
    capped = raking.rake(boot.targets[r], f, m)
    per_copy = capped[m > 0] / m[m > 0]
    assert per_copy.max() <= 1.9 * capped.sum() / m.sum() * (1 + 1e-6)
    assert (capped[m == 0] == 0).all() and capped.mean() == pytest.approx(1.0)
    size = h["org_size"].astype(object).to_numpy()
    target = boot.targets[r]["org_size"]
    known = np.isin(size, list(target))
    for level, share in target.items():
        got = capped[size == level].sum() / capped[known].sum()
        assert got == pytest.approx(share / sum(target.values()), abs=1e-6), level
