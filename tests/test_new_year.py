"""A new survey year is data, not code: a registry entry and a codebook file are enough.

The test invents a survey year (2030, so as not to collide with upstream's 2025 folder, which
holds no data yet) that is the 2024 export filed again: a draft registry
(``$OSPO_SURVEY_REGISTRY``) lists the 2024 files under ``2030/`` with the same sha256, a mirror
folder serves them there, and a draft codebook folder (``$OSPO_SURVEY_CODEBOOKS``) holds the
seven real codebooks plus ``2030.yaml`` — the 2024 codebook with its ``year`` changed. Without
touching the package, every verb must then know 2030: fetching, reading, harmonising,
frequencies, the cross-year table, weights and the yearly report page, with its numbers equal
to 2024's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ospo_survey.ingest import fetch
from ospo_survey.ingest.settings import CODEBOOK_DIR

NEW, OLD = 2030, 2024


pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def new_year_env(tmp_path_factory, mirror: Path) -> dict[str, str]:
    """The draft registry, mirror and codebooks; the real mirror (conftest's ``mirror``, whose
    absence fails the test, never skips it) is where the files come from."""
    root = tmp_path_factory.mktemp("new-year")
    # the draft mirror: every real entry, plus the 2024 folder served again as the new year
    served = root / "mirror"
    served.mkdir()
    for entry in mirror.iterdir():
        (served / entry.name).symlink_to(entry)
    (served / str(NEW)).symlink_to(mirror / str(OLD))
    # the registry: the package's rows, plus the 2024 rows again under the new year
    text = fetch.REGISTRY_PATH.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    added = [
        {**r, "year": str(NEW), "upstream_path": f"{NEW}/" + r["upstream_path"].split("/", 1)[1]}
        for r in rows
        if r["year"] == str(OLD)
    ]
    registry = root / "files.csv"
    with registry.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + added)
    # the codebooks: the real ones, plus the 2024 codebook with its year changed
    books = root / "codebooks"
    shutil.copytree(CODEBOOK_DIR, books)
    old_text = (CODEBOOK_DIR / f"{OLD}.yaml").read_text(encoding="utf-8")
    assert old_text.startswith(f"year: {OLD}\n")
    (books / f"{NEW}.yaml").write_text(f"year: {NEW}\n" + old_text.split("\n", 1)[1],
                                       encoding="utf-8")
    env = {
        **os.environ,
        "OSPO_SURVEY_MIRROR": str(served),
        "OSPO_SURVEY_REGISTRY": str(registry),
        "OSPO_SURVEY_CODEBOOKS": str(books),
        "OSPO_SURVEY_DATA": str(root / "data"),
    }
    return env


def _run(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_cli_reads_and_counts_the_new_year(new_year_env):
    old = _run(new_year_env, "-m", "ospo_survey", "freq", str(OLD), "q12").splitlines()
    new = _run(new_year_env, "-m", "ospo_survey", "freq", str(NEW), "q12").splitlines()
    assert len(new) == len(old) > 2
    assert new[0] == old[0]  # the same CSV header
    assert [line.replace(str(NEW), str(OLD), 1) for line in new[1:]] == old[1:]


def test_api_harmonises_and_weights_the_new_year(new_year_env):
    code = f"""
import json, ospo_survey
from ospo_survey.inference.schemes import year_weights
h = ospo_survey.load_harmonized(sample="publisher")
counts = {{int(y): g["has_ospo"].value_counts().to_dict() for y, g in h.groupby("year")}}
w = {{y: round(float(year_weights(y, "reference", "harmonized").diagnostics.summary()["deff"]), 9)
     for y in ({OLD}, {NEW})}}
print(json.dumps({{"years": sorted(counts), "new": counts[{NEW}], "old": counts[{OLD}],
                  "n": len(ospo_survey.load({NEW})), "deff": w}}, default=str))
"""
    out = json.loads(_run(new_year_env, "-c", code).strip().splitlines()[-1])
    assert out["years"] == [*range(2018, 2025), NEW]
    assert out["n"] == 222
    assert out["new"] == out["old"] and out["new"]["has"] == 100
    assert out["deff"][str(NEW)] == out["deff"][str(OLD)]


def test_the_new_year_gets_a_report_page(new_year_env, tmp_path):
    page = tmp_path / str(NEW) / "index.html"
    # raw -> processed -> page: the page reads only processed tables, the new year's and the
    # previous year's (its key findings compare the two)
    _run(new_year_env, "-m", "ospo_survey", "build", str(OLD), str(NEW))
    _run(new_year_env, "-m", "ospo_survey", "report", str(NEW), "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert f"The {NEW} OSPO survey" in html
    summary = json.loads((page.parent / "summary.json").read_text(encoding="utf-8"))
    assert summary["year"] == NEW and summary["n"] == 222
