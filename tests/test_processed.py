"""raw -> processed -> pages: every page reads data/processed only, checked on real data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from _site import build_site, ensure_processed, pages

from ospo_survey.core.errors import RawFormatError
from ospo_survey.core.paths import DATA_ENV, MIRROR_ENV, SOURCE_ENV, processed_dir
from ospo_survey.ingest import dataset, fetch, processed
from ospo_survey.ingest.settings import CODEBOOK_DIR, CODEBOOKS_ENV


@pytest.fixture(scope="module")
def fresh() -> None:
    ensure_processed()


@pytest.mark.data
def test_manifest_carries_every_raw_files_sha256(fresh) -> None:
    years = sorted(processed.manifest()["years"])
    got = processed.provenance(years)
    want = fetch.provenance(years)
    assert got.astype(str).to_dict("records") == want.astype(str).to_dict("records")
    assert got.attrs["upstream"] == want.attrs["upstream"]
    assert len(got) >= len(years)  # responses of every year, plus the licence


@pytest.mark.data
def test_processed_tables_equal_what_the_raw_files_give(fresh, monkeypatch) -> None:
    raw_h, raw_f = dataset.load_harmonized(), dataset.funnel([2022])
    monkeypatch.setenv(SOURCE_ENV, "processed")
    import pandas.testing as pdt

    pdt.assert_frame_equal(dataset.load_harmonized(), raw_h)
    pdt.assert_frame_equal(dataset.funnel([2022]), raw_f)


@pytest.mark.data
def test_a_processed_run_refuses_raw_reads(fresh, monkeypatch) -> None:
    from ospo_survey.ingest.read import read_raw

    monkeypatch.setenv(SOURCE_ENV, "processed")
    with pytest.raises(RawFormatError, match="2022: this run reads data/processed only"):
        read_raw(2022)


@pytest.mark.data
def test_a_year_rebuilt_from_processed_decodes_every_question_alike(fresh, monkeypatch) -> None:
    """Every closed question of 2022 (codes, one-hot options, matrix rows, write-in 'Other')
    decodes to the same answers from data/processed as from the raw export."""
    import pandas.testing as pdt

    from ospo_survey.ingest import answers as A

    monkeypatch.setenv(SOURCE_ENV, "raw")  # computed from the raw export, not read back
    raw = dataset.year_data.__wrapped__(2022)
    order = raw.harmonized["row_id"].astype(str).sort_values().index  # processed: by row_id
    monkeypatch.setenv(SOURCE_ENV, "processed")
    rebuilt = dataset.year_data.__wrapped__(2022)
    pdt.assert_frame_equal(raw.harmonized.loc[order].reset_index(drop=True), rebuilt.harmonized)
    decoders = {"single": A.single, "multiple": A.multiple, "matrix": A.matrix}
    checked = 0
    for qid in sorted(set(raw.survey.questions["qid"].dropna()) - {""}):
        decode = decoders.get(A.kind(raw.survey, qid))
        if decode is None:
            continue
        want = decode(raw.survey, qid).loc[order].reset_index(drop=True)
        got = decode(rebuilt.survey, qid).reset_index(drop=True)
        if isinstance(want, pd.Series):
            pdt.assert_series_equal(got, want)
        else:
            pdt.assert_frame_equal(got, want)
        checked += 1
    assert checked >= 40
    assert dataset.fielding_window(2022, "publisher") == processed.fielding(2022, "publisher")


@pytest.mark.data
def test_a_changed_codebook_makes_the_tables_stale(fresh, tmp_path, monkeypatch) -> None:
    drafts = tmp_path / "codebooks"
    shutil.copytree(CODEBOOK_DIR, drafts)
    with open(drafts / "2022.yaml", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit\n")
    monkeypatch.setenv(CODEBOOKS_ENV, str(drafts))
    processed.manifest.cache_clear()
    try:
        stale = r"codebooks/2022\.yaml.*make processed"
        with pytest.raises(processed.StaleProcessedError, match=stale):
            processed.manifest()
    finally:
        processed.manifest.cache_clear()


# the test site's batch runs 2019 third, in a kernel that already ran trends or 2024
@pytest.mark.data
@pytest.mark.parametrize("page", ["trends", "2019"])
def test_pages_build_with_raw_reads_forbidden(fresh, tmp_path, tmp_path_factory, page) -> None:
    """No raw folder, a mirror that holds nothing: any raw read would fail the build. The page,
    built alone in a new kernel, is byte-identical to the one the site builder makes (where
    2019 runs on a kernel reused from an earlier page)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "processed").symlink_to(processed_dir(), target_is_directory=True)
    empty_mirror = tmp_path / "no-mirror"
    empty_mirror.mkdir()
    out = tmp_path / "site" / page / "index.html"
    kind, year = ("trends", None) if page == "trends" else ("year", int(page))
    code = (
        "from pathlib import Path; from ospo_survey.site import pages; "
        f"pages.build_page({kind!r}, {year!r}, out=Path({str(out)!r}), progress=None)"
    )
    env = {**os.environ, DATA_ENV: str(data), MIRROR_ENV: str(empty_mirror)}
    env.pop(SOURCE_ENV, None)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not (data / "raw").exists()
    assert out.read_bytes() == pages(build_site(tmp_path_factory))[page].read_bytes()


def test_raw_free_build_fails_loudly_without_processed_tables(tmp_path) -> None:
    env = {**os.environ, DATA_ENV: str(tmp_path / "data"), MIRROR_ENV: str(tmp_path)}
    code = (
        "from pathlib import Path; from ospo_survey.site import pages; "
        f"pages.build_page('trends', out=Path({str(tmp_path / 'p.html')!r}), progress=None)"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode != 0
    assert "manifest.json is missing" in run.stderr and "make processed" in run.stderr
    # nothing written: no raw file fetched, no processed table built, no page or summary.json
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.data
def test_year_stamps_change_only_for_the_year_whose_inputs_changed(tmp_path):
    """data/processed/<year>/inputs.json is rewritten only when that year's inputs change, so
    make rebuilds only the pages a changed codebook feeds (the Makefile's year-page inputs)."""
    import copy
    import time

    from ospo_survey.core.paths import project_root
    PR = processed
    data = json.loads((processed_dir() / PR.MANIFEST).read_text(encoding="utf-8"))
    PR.write_year_stamps(tmp_path, data)
    stamps = {y: tmp_path / str(y) / PR.YEAR_STAMP for y in data["years"]}
    before = {y: p.stat().st_mtime_ns for y, p in stamps.items()}
    time.sleep(0.01)
    PR.write_year_stamps(tmp_path, data)  # same inputs: nothing rewritten
    assert {y: p.stat().st_mtime_ns for y, p in stamps.items()} == before
    changed = copy.deepcopy(data)
    changed["inputs"]["codebooks/2022.yaml"] = "0" * 64
    PR.write_year_stamps(tmp_path, changed)
    after = {y: p.stat().st_mtime_ns for y, p in stamps.items()}
    assert [y for y in data["years"] if after[y] != before[y]] == [2022]
    stamp = json.loads(stamps[2022].read_text(encoding="utf-8"))
    assert stamp["codebook"] == "0" * 64 and stamp["code"] == PR.code_digest()
    assert {r["year"] for r in stamp["raw_files"]} == {2022}
    makefile = (project_root() / "Makefile").read_text(encoding="utf-8")
    assert "$(PROCESSED_STAMPS): $(PROCESSED) ;" in makefile
    assert "reports/$(1)/index.html: data/processed/$(1)/inputs.json" in makefile
