"""The privacy scanner finds identifying data, and the processed outputs contain none."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

from ospo_survey.ingest.read import read_raw
from ospo_survey.processing.build import build
from ospo_survey.site.privacy import raw_free_text, scan


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    out = tmp_path_factory.mktemp("processed")
    build(out_dir=out)
    return out


@pytest.mark.data
def test_processed_outputs_pass_the_scan(processed):
    assert scan([processed]) == []


@pytest.mark.data
def test_scanner_catches_each_kind_of_identifying_data(tmp_path):
    raw = read_raw(2021).responses  # the raw export (year_data may read the processed tables)
    ip = raw["ip_address"].dropna().iloc[0]
    free = sorted(raw_free_text([2021]))[0]
    frame = pd.DataFrame(
        {
            "a": [ip, "x", "x", "x", "x", "x"],
            "b": ["x", "someone@example.org", "x", "x", "x", "x"],
            "c": ["x", "x", "2021-06-14 20:50:12", "x", "x", "x"],
            "d": ["x", "x", "x", "127357079", "x", "x"],
            "e": ["x", "x", "x", "x", free, "x"],
            "f": ["x", "x", "x", "x", "x", "see https://example.com/me"],
        }
    )
    path = tmp_path / "leak.parquet"
    frame.to_parquet(path)
    kinds = {f.kind for f in scan([path])}
    assert kinds == {
        "IPv4 address",
        "email",
        "exact timestamp",
        "respondent/collector id",
        "free-text answer",
        "URL",
    }


def test_allowed_urls_and_escaped_html_are_handled(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(
        '<a href="https://github.com/todogroup/osposurvey/tree/5d05">upstream</a>'
        "<p>contact: someone&#64;example.org</p>",
        encoding="utf-8",
    )
    kinds = [f.kind for f in scan([page], free_text=False)]
    assert kinds == ["email"]  # the upstream link is allowed; the escaped email is found


@pytest.mark.data
def test_scan_command_fails_on_a_leak(tmp_path):
    (tmp_path / "notes.csv").write_text("contact,alice@example.org\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "scan", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert "email" in proc.stdout and "alice@example.org" in proc.stdout


def test_scanner_reads_notes_labels_and_id_columns_of_every_table(tmp_path):
    """An id inside a note or label is caught (not only a cell that is nothing but an id), in
    Parquet and CSV alike, and so is a column the codebooks call identifying; numbers that
    merely have many digits (weights, shares) are not ids."""
    notes = pd.DataFrame(
        {
            "why": ["Collector 426679467, a paid panel", "fine"],
            "label": ["x", "respondent 11676764933 answered"],
            "weight": ["0.123456789012", "1,234,567"],
            "share": [0.123456789012, 12345.678901234],
        }
    )
    notes.to_parquet(tmp_path / "funnel.parquet")
    notes.to_csv(tmp_path / "funnel.csv", index=False)
    ids = pd.DataFrame({"collector_id": ["x", "y"], "n": [1, 2]})
    ids.to_parquet(tmp_path / "ids.parquet")
    pd.DataFrame({"serial": [426679467, 2]}).to_parquet(tmp_path / "numbers.parquet")
    found = {(f.path.name, f.kind, f.excerpt) for f in scan([tmp_path], free_text=False)}
    assert found == {
        ("funnel.parquet", "respondent/collector id", "426679467"),
        ("funnel.parquet", "respondent/collector id", "11676764933"),
        ("funnel.csv", "respondent/collector id", "426679467"),
        ("funnel.csv", "respondent/collector id", "11676764933"),
        ("ids.parquet", "identifying column", "collector_id"),
        ("numbers.parquet", "identifying column", "serial"),
        ("numbers.parquet", "respondent/collector id", "426679467"),
    }


@pytest.mark.data
def test_processed_notes_carry_no_collector_id(processed):
    """The codebooks select rows by collector id; the funnel's notes, which quote the
    codebooks' prose, must not repeat one."""
    from ospo_survey.ingest.settings import codebook_dir

    ids = set()
    for path in sorted(codebook_dir().glob("*.yaml")):
        ids |= set(re.findall(r"\b\d{9,12}\b", path.read_text(encoding="utf-8")))
    assert "426679467" in ids  # the 2023 paid panel
    funnel = pd.read_parquet(processed / "funnel.parquet")
    text = " ".join(funnel["why"].tolist() + funnel["step"].tolist())
    assert funnel["why"].str.contains("paid-panel collector").any()
    assert not {i for i in ids if i in text}
