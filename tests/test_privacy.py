"""The privacy scanner finds identifying data, and the processed outputs contain none."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from ospo_survey.ingest.dataset import year_data
from ospo_survey.processing.build import build
from ospo_survey.site.privacy import raw_free_text, scan


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    out = tmp_path_factory.mktemp("processed")
    build(out_dir=out)
    return out


def test_processed_outputs_pass_the_scan(processed):
    assert scan([processed]) == []


def test_scanner_catches_each_kind_of_identifying_data(tmp_path):
    raw = year_data(2021).survey.responses
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


def test_scan_command_fails_on_a_leak(tmp_path):
    (tmp_path / "notes.csv").write_text("contact,alice@example.org\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "ospo_survey", "scan", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert "email" in proc.stdout and "alice@example.org" in proc.stdout
