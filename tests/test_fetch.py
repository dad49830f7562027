"""The registry and fetch layer, on the real upstream files from the local mirror."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ospo_survey.core.errors import (
    CodebookError,
    FetchError,
    HashMismatchError,
    MissingFileError,
    UnknownYearError,
)
from ospo_survey.core.paths import DATA_ENV, MIRROR_ENV, raw_dir
from ospo_survey.ingest import fetch as F

YEARS = list(range(2018, 2025))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_byte(path: Path, offset: int = 100) -> None:
    """Corrupt a file without changing its size (the nastiest kind of corruption)."""
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def leftovers(folder: Path) -> list[str]:
    """Hidden/temporary entries a failed or finished fetch must not leave behind."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or ".part" in p.name)


def make_mirror(src: Path, dst: Path, years: list[int]) -> Path:
    """A writable partial mirror (same layout) holding the registered files of ``years``."""
    for raw in F.entries(years):
        target = dst / raw.upstream_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / raw.upstream_path, target)
    return dst


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the package at an empty data folder; returns its raw/ dir."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    assert raw_dir() == (tmp_path / "data" / "raw").resolve()
    return raw_dir()


@pytest.fixture
def local_server(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], str]]:
    """Serve a folder over HTTP on localhost and point RAW_BASE_URL at it (download path)."""
    servers: list[http.server.ThreadingHTTPServer] = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    def serve(folder: Path) -> str:
        handler = functools.partial(Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(F, "RAW_BASE_URL", base)
        monkeypatch.delenv(MIRROR_ENV, raising=False)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        return base

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- registry


def test_registry_has_every_year_with_responses() -> None:
    reg = F.load_registry()
    assert list(reg.columns) == ["year", "role", "upstream_path", "sha256", "size"]
    assert F.years() == YEARS
    for year in YEARS:
        roles = set(reg.loc[reg["year"] == year, "role"])
        assert {"responses", "questions", "readme"} <= roles, year
        assert F.entry(year, "responses").upstream_path.startswith(f"{year}/")
    assert F.entry(2024, "responses").upstream_path.endswith("Raw Data Numeric.csv")
    assert F.entry(2024, "responses_text").upstream_path.endswith("Raw Data Text.csv")
    assert F.entry("all", "license").upstream_path == "LICENSE"
    # Only what the brief asks for: no PDFs, no 2025, no translated questionnaire.
    paths = list(reg["upstream_path"])
    assert not [p for p in paths if p.endswith(".pdf") or p.startswith("2025/") or "zh_cn" in p]


def test_registry_hashes_and_sizes_match_the_mirror(mirror: Path) -> None:
    reg = F.load_registry()
    assert len(reg) >= 30
    for rec in reg.itertuples(index=False):
        path = mirror / rec.upstream_path
        assert path.is_file(), rec.upstream_path
        assert path.stat().st_size == rec.size, rec.upstream_path
        assert sha256(path) == rec.sha256, rec.upstream_path


def test_every_mirror_file_of_the_pinned_years_is_registered(mirror: Path) -> None:
    """Guards against forgetting a file: all non-PDF files of 2018-2024 plus LICENSE."""
    registered = set(F.load_registry()["upstream_path"])
    on_disk = {
        p.relative_to(mirror).as_posix()
        for year in YEARS
        for p in (mirror / str(year)).rglob("*")
        if p.is_file() and p.suffix != ".pdf" and "zh_cn" not in p.name
    }
    # 2024/Raw_Data/README.md would collide with 2024/README.md locally; it is deliberately out.
    on_disk.discard("2024/Raw_Data/README.md")
    assert on_disk | {"LICENSE"} == registered


def test_local_layout_is_year_slash_basename(data_home: Path) -> None:
    raw = F.entry(2024, "responses")
    assert raw.local_path == data_home / "2024" / "2024 OSPO N222 Raw Data Numeric.csv"
    assert F.entry("all", "license").local_path == data_home / "LICENSE"
    assert F.entry("2022", "responses").local_path == data_home / "2022" / "RawData.csv"


def test_upstream_url_is_pinned_and_quoted() -> None:
    url = F.entry(2024, "responses").url
    assert url == (
        "https://raw.githubusercontent.com/todogroup/osposurvey/"
        "5d0502632179bf050fe96349f66afd955978ee66/"
        "2024/Raw_Data/2024%20OSPO%20N222%20Raw%20Data%20Numeric.csv"
    )


def test_unknown_year_is_reported_with_the_known_range(data_home: Path) -> None:
    with pytest.raises(UnknownYearError) as info:
        F.entry(2017, "responses")
    assert str(info.value) == "unknown survey year 2017: the registry has 2018-2024"
    with pytest.raises(UnknownYearError, match="2025"):
        F.fetch([2025])
    with pytest.raises(UnknownYearError, match="2017"):
        F.raw_path(2017)
    assert not data_home.exists()  # nothing was created on the way


def test_unknown_role_is_a_missing_file_naming_role_and_year() -> None:
    with pytest.raises(MissingFileError) as info:
        F.entry(2018, "responses_text")
    msg = str(info.value)
    assert "'responses_text'" in msg and "2018" in msg and "responses" in msg


def test_malformed_registry_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "files.csv"
    bad.write_text("year,role,upstream_path,sha256,size\n2022,responses,2022/RawData.csv,abc,1\n")
    monkeypatch.setattr(F, "REGISTRY_PATH", bad)
    F._registry.cache_clear()
    try:
        with pytest.raises(CodebookError, match="64 lowercase hex"):
            F.load_registry()
    finally:
        monkeypatch.undo()
        F._registry.cache_clear()
    assert F.years() == YEARS


def test_provenance_lists_inputs_and_commit() -> None:
    prov = F.provenance([2022])
    assert list(prov.columns) == ["year", "role", "upstream_path", "sha256"]
    assert set(prov["year"]) == {2022, "all"}
    assert "2022/RawData.csv" in set(prov["upstream_path"])
    assert prov.attrs["upstream"] == f"todogroup/osposurvey@{F.UPSTREAM_COMMIT}"
    assert len(F.provenance()) == len(F.load_registry())


# --------------------------------------------------------------------------- fetch (mirror)


def test_fetch_from_mirror_copies_everything_read_only_then_nothing(
    mirror: Path, data_home: Path
) -> None:
    messages: list[str] = []
    written = F.fetch(mirror=mirror, progress=messages.append)

    expected = {raw.local_path for raw in F.entries()}
    assert set(written) == expected and len(written) == len(expected)
    for raw in F.entries():
        path = raw.local_path
        assert sha256(path) == raw.sha256, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, path
    assert (data_home / "LICENSE").is_file()
    assert sorted(p.name for p in (data_home / "2024").iterdir()) == sorted(
        raw.local_path.name for raw in F.entries(2024) if raw.year == 2024
    )
    assert leftovers(data_home) == []
    assert any("2022/RawData.csv" in m for m in messages)
    # The mirror is untouched (still read-only and identical).
    assert sha256(mirror / "2022/RawData.csv") == F.entry(2022, "responses").sha256

    mtimes = {p: p.stat().st_mtime_ns for p in expected}
    again: list[str] = []
    assert F.fetch(mirror=mirror, progress=again.append) == []
    assert again == [
        f"fetched 0 file(s); {len(expected)} already up to date in {F._show(data_home)}"
    ]
    assert {p: p.stat().st_mtime_ns for p in expected} == mtimes


def test_fetch_selected_years_only(mirror: Path, data_home: Path) -> None:
    written = F.fetch([2019], mirror=mirror)
    assert sorted(p.relative_to(data_home).as_posix() for p in written) == [
        "2019/README.md",
        "2019/questions.md",
        "2019/results.csv",
        "LICENSE",
    ]
    assert sorted(p.name for p in data_home.iterdir()) == ["2019", "LICENSE"]


def test_fetch_uses_relative_mirror_from_environment(
    mirror: Path, data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mirror.parent)
    monkeypatch.setenv(MIRROR_ENV, mirror.name)  # relative, like CI's ../shared/...
    written = F.fetch(2023)
    assert F.entry(2023, "responses").local_path in written
    assert F.raw_path(2023) == data_home / "2023" / "RawData.csv"


def test_force_refetches_and_replaces_modified_files(mirror: Path, data_home: Path) -> None:
    F.fetch(2018, mirror=mirror)
    target = F.entry(2018, "questions").local_path
    flip_byte(target)
    messages: list[str] = []
    written = F.fetch(2018, mirror=mirror, progress=messages.append)
    assert written == [target]  # only the changed file is replaced
    assert any("differs from the registry" in m for m in messages)
    assert sha256(target) == F.entry(2018, "questions").sha256
    assert stat.S_IMODE(target.stat().st_mode) == 0o444
    assert len(F.fetch(2018, mirror=mirror, force=True)) == 4


def test_corrupted_mirror_file_raises_and_leaves_nothing(
    mirror: Path, data_home: Path, tmp_path: Path
) -> None:
    bad = make_mirror(mirror, tmp_path / "bad-mirror", [2022])
    flip_byte(bad / "2022/RawData.csv")
    with pytest.raises(HashMismatchError) as info:
        F.fetch(2022, mirror=bad)
    msg = str(info.value)
    expected = F.entry(2022, "responses").sha256
    assert "2022/RawData.csv" in msg
    assert expected[:12] in msg and sha256(bad / "2022/RawData.csv")[:12] in msg
    assert MIRROR_ENV in msg  # says what to do
    assert not (data_home / "2022" / "RawData.csv").exists()
    assert leftovers(data_home) == []


def test_corrupted_mirror_does_not_clobber_a_good_local_file(
    mirror: Path, data_home: Path, tmp_path: Path
) -> None:
    F.fetch(2022, mirror=mirror)
    bad = make_mirror(mirror, tmp_path / "bad-mirror", [2022])
    flip_byte(bad / "2022/RawData.csv")
    with pytest.raises(HashMismatchError):
        F.fetch(2022, mirror=bad, force=True)
    assert F.raw_path(2022) == data_home / "2022" / "RawData.csv"  # still verifies
    assert leftovers(data_home) == []


def test_missing_mirror_folder_is_a_fetch_error(data_home: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        F.fetch(2022, mirror=tmp_path / "no-such-mirror")
    assert "no-such-mirror" in str(info.value) and MIRROR_ENV in str(info.value)
    assert not data_home.exists()


def test_mirror_without_the_file_names_it(data_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    with pytest.raises(FetchError) as info:
        F.fetch(2022, mirror=empty)
    assert "2022/RawData.csv" in str(info.value) and MIRROR_ENV in str(info.value)
    assert leftovers(data_home) == []


# --------------------------------------------------------------------------- raw_path, ensure


def test_raw_path_on_missing_file_says_make_data(data_home: Path) -> None:
    with pytest.raises(MissingFileError) as info:
        F.raw_path(2022)
    msg = str(info.value)
    assert "2022/RawData.csv is missing" in msg and "make data" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_raw_path_detects_a_file_changed_after_fetch(mirror: Path, data_home: Path) -> None:
    F.fetch(2022, mirror=mirror)
    path = F.raw_path(2022)  # verified once: the hash is now cached
    assert path == data_home / "2022" / "RawData.csv"
    before = path.stat()
    flip_byte(path)
    # A later edit (same size): bump the mtime the way any real edit would.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 2_000_000_000))
    with pytest.raises(HashMismatchError) as info:
        F.raw_path(2022)
    assert "2022/RawData.csv" in str(info.value) and "make data" in str(info.value)
    assert F.raw_path(2022, verify=False) == path


def test_raw_path_detects_a_truncated_file(mirror: Path, data_home: Path) -> None:
    F.fetch(2023, mirror=mirror)
    path = F.raw_path(2023, "filter_criteria")
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(HashMismatchError, match="FilteringCriteria.csv"):
        F.raw_path(2023, "filter_criteria")


def test_ensure_fetches_only_what_is_missing(mirror: Path, data_home: Path) -> None:
    assert {p.name for p in F.ensure(2021)} == {
        "results_2021.csv",
        "Notes for time series analysis.md",
        "questions.md",
        "README.md",
        "LICENSE",
    }
    gone = F.entry(2021, "questions").local_path
    gone.unlink()
    assert F.ensure(2021) == [gone]
    assert F.ensure(2021) == []
    assert F.raw_path(2021, "questions") == gone


# --------------------------------------------------------------------------- download path


def test_unreachable_upstream_is_a_fetch_error(
    data_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(F, "RAW_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    with pytest.raises(FetchError) as info:
        F.fetch(2022)
    msg = str(info.value)
    assert msg.startswith("cannot reach 127.0.0.1: connection refused (fetching 2022/RawData.csv)")
    assert MIRROR_ENV in msg and "\n" not in msg and len(msg) < 300
    assert not (data_home / "2022" / "RawData.csv").exists()
    assert leftovers(data_home) == []


def _no_name_resolution(*_args: object, **_kwargs: object) -> None:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def test_offline_fetch_says_what_failed_in_one_short_line(
    data_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No mirror, no network (every host name fails to resolve, as offline): the CLI's line says
    what failed in words, which file, and what to do; urllib3's repr only with --debug."""
    from ospo_survey import cli

    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", _no_name_resolution)
    first = F.entries(2018)[0].upstream_path
    assert cli.main(["fetch", "2018"]) == FetchError.exit_code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 300, lines
    line = lines[0]
    assert line.startswith("ospo-survey: error: cannot reach GitHub: name resolution failed")
    assert first in line and f"set {MIRROR_ENV}" in line and "--debug" in line
    for noise in ("HTTPSConnectionPool", "Error(", "Max retries", F.UPSTREAM_COMMIT):
        assert noise not in line
    assert leftovers(data_home) == []

    with pytest.raises(FetchError) as info:
        cli.main(["--debug", "fetch", "2018"])
    wrapped = [type(e).__name__ for e in F._causes(info.value)]
    assert "gaierror" in wrapped and "ConnectionError" in wrapped  # the details are kept


def test_download_path_fetches_and_verifies(
    mirror: Path, data_home: Path, local_server: Callable[[Path], str]
) -> None:
    local_server(mirror)
    written = F.fetch(2024)  # includes the file names with spaces under Raw_Data/
    assert len(written) == len(F.entries(2024))
    for raw in F.entries(2024):
        assert sha256(raw.local_path) == raw.sha256
        assert stat.S_IMODE(raw.local_path.stat().st_mode) == 0o444
    assert leftovers(data_home) == []
    assert F.fetch(2024) == []


def test_download_with_wrong_content_is_a_hash_mismatch(
    mirror: Path, data_home: Path, tmp_path: Path, local_server: Callable[[Path], str]
) -> None:
    bad = make_mirror(mirror, tmp_path / "bad-upstream", [2020])
    flip_byte(bad / "2020/results_2020.csv")
    local_server(bad)
    with pytest.raises(HashMismatchError) as info:
        F.fetch(2020)
    msg = str(info.value)
    assert "2020/results_2020.csv" in msg
    assert F.entry(2020, "responses").sha256[:12] in msg
    assert sha256(bad / "2020/results_2020.csv")[:12] in msg
    assert not (data_home / "2020" / "results_2020.csv").exists()
    assert leftovers(data_home) == []
