"""Obtain the raw survey files, byte-identical to a pinned upstream commit.

Every analysis starts from files listed in ``registry/files.csv`` (path, sha256, size at
``UPSTREAM_COMMIT`` of ``todogroup/osposurvey``). They are copied from a local mirror
(``$OSPO_SURVEY_MIRROR``) or downloaded with pooch, verified, written atomically and made
read-only, so results can always be traced back to exact upstream bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlparse

import pandas as pd

from ospo_survey.core.errors import (
    FetchError,
    HashMismatchError,
    MissingFileError,
    OspoSurveyError,
    RegistryError,
    UnknownYearError,
)
from ospo_survey.core.paths import MIRROR_ENV, PACKAGE_DIR, raw_dir

UPSTREAM_REPO = "todogroup/osposurvey"
UPSTREAM_COMMIT = "5d0502632179bf050fe96349f66afd955978ee66"
# Downloads go to RAW_BASE_URL + url-quoted upstream path; tests point this at a dead port.
RAW_BASE_URL = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/"
DOWNLOAD_TIMEOUT = 60  # seconds, per request

REGISTRY_PATH = PACKAGE_DIR / "registry" / "files.csv"
REGISTRY_ENV = "OSPO_SURVEY_REGISTRY"  # a draft registry to use instead (e.g. to add a year)
REGISTRY_COLUMNS = ("year", "role", "upstream_path", "sha256", "size")
ALL_YEARS = "all"  # registry year of files shared by every year (the LICENSE)

Year = int | Literal["all"]
Progress = Callable[[str], object]

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RawFile:
    """One registered upstream file and where it lives locally."""

    year: Year
    role: str
    upstream_path: str
    sha256: str
    size: int
    local_path: Path

    @property
    def url(self) -> str:
        """Download address at the pinned commit."""
        return upstream_url(self.upstream_path)


# --------------------------------------------------------------------------- registry


def registry_path() -> Path:
    """The package's ``registry/files.csv``, or ``$OSPO_SURVEY_REGISTRY`` (a draft, e.g. while
    adding a survey year together with ``$OSPO_SURVEY_CODEBOOKS``)."""
    env = os.environ.get(REGISTRY_ENV)
    return Path(env) if env else REGISTRY_PATH


@lru_cache(maxsize=1)
def _registry() -> pd.DataFrame:
    path = registry_path()
    if not path.is_file():
        where = f"${REGISTRY_ENV}" if path != REGISTRY_PATH else "the package"
        raise RegistryError(f"the file registry {path} is missing ({where})")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    where = f"registry {path.name}"
    if tuple(df.columns) != REGISTRY_COLUMNS:
        raise RegistryError(
            f"{where} has columns {list(df.columns)}; expected {list(REGISTRY_COLUMNS)}"
        )
    if df.empty:
        raise RegistryError(f"{where} lists no files")

    years: list[Year] = []
    for line, rec in enumerate(df.itertuples(index=False), start=2):
        at = f"{where} line {line} ({rec.upstream_path!r})"
        if rec.year == ALL_YEARS:
            years.append(ALL_YEARS)
        elif rec.year.isdigit():
            years.append(int(rec.year))
        else:
            raise RegistryError(f"{at}: year {rec.year!r} is neither a year nor 'all'")
        if not _SHA256_RE.match(rec.sha256):
            raise RegistryError(f"{at}: sha256 {rec.sha256!r} is not 64 lowercase hex digits")
        if not rec.size.isdigit():
            raise RegistryError(f"{at}: size {rec.size!r} is not a byte count")
        path = rec.upstream_path
        if not rec.role or not path or path.startswith("/") or ".." in path.split("/"):
            raise RegistryError(f"{at}: empty role or unsafe path")
    df["year"] = pd.Series(years, index=df.index, dtype=object)
    df["size"] = df["size"].astype("int64")

    dup = df[df.duplicated(["year", "role"], keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        raise RegistryError(f"{where} lists {first['year']} {first['role']!r} more than once")
    local = [_local_relpath(r.year, r.upstream_path) for r in df.itertuples(index=False)]
    if len(set(local)) != len(local):
        raise RegistryError(f"{where}: two files would land at the same local path")
    return df


def load_registry() -> pd.DataFrame:
    """The validated registry: one row per upstream file (year is an int, or 'all')."""
    return _registry().copy()


def years() -> list[int]:
    """Survey years the registry knows, ascending."""
    return sorted(y for y in set(_registry()["year"]) if y != ALL_YEARS)


def _year_span() -> str:
    known = years()
    return f"{known[0]}-{known[-1]}"


def _normalise_year(year: object) -> Year:
    """Accept 2022, '2022' or 'all'; anything else the registry lacks is UnknownYearError."""
    if year == ALL_YEARS:
        return ALL_YEARS
    if isinstance(year, str) and year.strip().isdigit():
        year = int(year)
    if isinstance(year, bool) or not isinstance(year, int) or year not in years():
        raise UnknownYearError(f"unknown survey year {year}: the registry has {_year_span()}")
    return year


def _select_years(selected: int | Iterable[int] | None) -> list[Year]:
    """Years to act on, always with the shared 'all' files (LICENSE)."""
    if selected is None:
        chosen: list[Year] = list(years())
    elif isinstance(selected, (int, str)):
        chosen = [_normalise_year(selected)]
    else:
        chosen = [_normalise_year(y) for y in selected]
    return [*dict.fromkeys(chosen), ALL_YEARS]


def _local_relpath(year: Year, upstream_path: str) -> str:
    name = upstream_path.rsplit("/", 1)[-1]
    return name if year == ALL_YEARS else f"{year}/{name}"


def _make_entry(row: pd.Series) -> RawFile:
    return RawFile(
        year=row["year"],
        role=row["role"],
        upstream_path=row["upstream_path"],
        sha256=row["sha256"],
        size=int(row["size"]),
        local_path=raw_dir() / _local_relpath(row["year"], row["upstream_path"]),
    )


def entry(year: int | str, role: str) -> RawFile:
    """The registered file for ``year`` and ``role`` (e.g. 2024, 'responses_text')."""
    y = _normalise_year(year)
    reg = _registry()
    rows = reg[(reg["year"] == y) & (reg["role"] == role)]
    if rows.empty:
        roles = ", ".join(reg.loc[reg["year"] == y, "role"])
        raise MissingFileError(
            f"the registry has no {role!r} file for {y}: its files for {y} are {roles}"
        )
    return _make_entry(rows.iloc[0])


def entries(years: int | Iterable[int] | None = None) -> list[RawFile]:
    """Registered files of the given years (default: all), plus the LICENSE."""
    wanted = _select_years(years)
    reg = _registry()
    return [_make_entry(row) for _, row in reg[reg["year"].isin(wanted)].iterrows()]


def provenance(years: int | Iterable[int] | None = None) -> pd.DataFrame:
    """year, role, upstream_path, sha256 of the inputs, for report footers.

    ``attrs['upstream']`` holds ``todogroup/osposurvey@<commit>``.
    """
    wanted = _select_years(years)
    reg = _registry()
    out = reg.loc[reg["year"].isin(wanted), ["year", "role", "upstream_path", "sha256"]]
    out = out.reset_index(drop=True)
    out.attrs["upstream"] = f"{UPSTREAM_REPO}@{UPSTREAM_COMMIT}"
    return out


def upstream_url(upstream_path: str) -> str:
    """raw.githubusercontent.com address of a file at the pinned commit."""
    return RAW_BASE_URL.rstrip("/") + "/" + quote(upstream_path)


# --------------------------------------------------------------------------- hashing


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# (path, inode, size, mtime_ns, ctime_ns) -> sha256; any rewrite or chmod changes the key.
_HASH_CACHE: dict[tuple[str, int, int, int, int], str] = {}


def _cached_sha256(path: Path) -> str:
    """sha256 of ``path``, recomputed only when its stat signature changes."""
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        digest = _sha256_file(path)
        if len(_HASH_CACHE) > 1024:
            _HASH_CACHE.clear()
        _HASH_CACHE[key] = digest
    return digest


def _is_current(raw: RawFile) -> bool:
    path = raw.local_path
    return path.is_file() and path.stat().st_size == raw.size and _cached_sha256(path) == raw.sha256


def _show(path: Path) -> str:
    """A path as the user would type it: relative to the working dir when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _mismatch(raw: RawFile, source: str, actual: str, advice: str) -> HashMismatchError:
    return HashMismatchError(
        f"{raw.upstream_path} from {source} has sha256 {actual[:12]}... but the registry "
        f"expects {raw.sha256[:12]}... (upstream {UPSTREAM_REPO}@{UPSTREAM_COMMIT[:7]}); {advice}"
    )


# --------------------------------------------------------------------------- fetching


def _mirror_root(mirror: str | os.PathLike[str] | None) -> Path | None:
    """The mirror to copy from: the argument, else ``$OSPO_SURVEY_MIRROR``; relative to cwd."""
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV) or None
    if mirror is None or str(mirror) == "":
        return None
    root = Path(mirror).expanduser().resolve()
    if not root.is_dir():
        raise FetchError(
            f"the mirror folder {root} does not exist; check {MIRROR_ENV} "
            f"(it should be a local copy of {UPSTREAM_REPO})"
        )
    return root


@contextlib.contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A private temp dir next to ``dest``, removed whatever happens (no half-written files)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
    try:
        yield tmpdir
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _install(tmp: Path, dest: Path) -> None:
    """Make the verified temp file read-only and move it into place atomically."""
    os.chmod(tmp, 0o444)
    os.replace(tmp, dest)


def _copy_from_mirror(raw: RawFile, root: Path) -> None:
    src = root / raw.upstream_path
    if not src.is_file():
        raise FetchError(
            f"{raw.upstream_path} is not in the mirror {root}; check {MIRROR_ENV} "
            f"(it should be a copy of {UPSTREAM_REPO} at commit {UPSTREAM_COMMIT[:7]})"
        )
    dest = raw.local_path
    if dest.exists() and dest.resolve() == src.resolve():
        raise FetchError(
            f"{MIRROR_ENV} points at the data folder itself ({root}); refusing to overwrite it"
        )
    with _staging(dest) as tmpdir:
        tmp = tmpdir / dest.name
        digest = hashlib.sha256()
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            for chunk in iter(lambda: fin.read(_CHUNK), b""):
                digest.update(chunk)
                fout.write(chunk)
        actual = digest.hexdigest()
        if actual != raw.sha256:
            raise _mismatch(
                raw,
                f"mirror {root}",
                actual,
                f"the mirror copy differs from upstream: refresh it, or unset {MIRROR_ENV} "
                "to download",
            )
        _install(tmp, dest)


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Pooch logs every download at INFO; our own progress callback reports instead."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _download(raw: RawFile) -> None:
    import pooch

    url = raw.url
    dest = raw.local_path
    hint = f"set {MIRROR_ENV} to a local copy of {UPSTREAM_REPO}"
    with _staging(dest) as tmpdir, _quiet_pooch():
        try:
            got = pooch.retrieve(
                url,
                known_hash=f"sha256:{raw.sha256}",
                fname=dest.name,
                path=tmpdir,
                downloader=pooch.HTTPDownloader(progressbar=False, timeout=DOWNLOAD_TIMEOUT),
            )
        except OspoSurveyError:
            raise
        except ValueError as exc:
            if "hash" not in str(exc).lower():
                raise FetchError(
                    f"could not download {raw.upstream_path} from {url}: {exc}; {hint}"
                ) from exc
            found = re.search(r"got ([0-9a-fA-F]{64})", str(exc))
            actual = found.group(1).lower() if found else "unknown"
            raise _mismatch(
                raw, url, actual, f"upstream content changed or was corrupted in transit; {hint}"
            ) from exc
        except Exception as exc:  # requests/urllib3/OS errors: say what failed, in words
            raise FetchError(
                f"cannot reach {_host_name(url)}: {_network_failure(exc)} (fetching "
                f"{raw.upstream_path}); {hint}, or check your connection (--debug shows details)"
            ) from exc
        tmp = Path(got)
        actual = _sha256_file(tmp)  # belt and braces: pooch verified, we verify what we install
        if actual != raw.sha256:
            raise _mismatch(raw, url, actual, f"try again later or {hint}")
        _install(tmp, dest)


def _host_name(url: str) -> str:
    """The server a download goes to, as a person would call it."""
    host = urlparse(url).hostname or url
    return "GitHub" if host.endswith("githubusercontent.com") else host


# Failure kinds, most specific first: (exception class name or errno name, words).
_FAILURE_WORDS: tuple[tuple[str, str], ...] = (
    ("NameResolutionError", "name resolution failed"),
    ("gaierror", "name resolution failed"),
    ("ConnectionRefusedError", "connection refused"),
    ("SSLError", "the secure (TLS) connection failed"),
    ("ProxyError", "the proxy refused the connection"),
    ("Timeout", "the connection timed out"),
    ("TimeoutError", "the connection timed out"),
    ("timeout", "the connection timed out"),
    ("ConnectionResetError", "the connection was reset"),
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (``__cause__``, ``__context__``, urllib3's ``reason``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        nested = [cur.__cause__, cur.__context__, getattr(cur, "reason", None)]
        nested += [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
        todo += [e for e in nested if isinstance(e, BaseException)]


def _network_failure(exc: BaseException) -> str:
    """What went wrong with a download, in words (the exception's repr is for --debug)."""
    chain = list(_causes(exc))
    names = {cls.__name__ for e in chain for cls in type(e).__mro__}
    for name, words in _FAILURE_WORDS:
        if name in names:
            return words
    for e in chain:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if status:
            return f"the server answered HTTP {status}"
    return f"the download failed ({type(exc).__name__})"


def _obtain(raw: RawFile, root: Path | None) -> str:
    """Copy or download one file; returns how it was obtained, for progress messages."""
    if root is not None:
        _copy_from_mirror(raw, root)
        return f"copied from mirror {root}"
    _download(raw)
    return f"downloaded from {raw.url}"


def fetch(
    years: int | Iterable[int] | None = None,
    *,
    mirror: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> list[Path]:
    """Make the raw files of ``years`` (default: all) present and verified locally.

    Files already present with the registered sha256 are left alone unless ``force``, so a
    second run transfers nothing. Source: ``mirror``, else ``$OSPO_SURVEY_MIRROR``, else
    upstream at ``UPSTREAM_COMMIT``. Returns the paths that were (re)written.
    """
    wanted = entries(years)
    root = _mirror_root(mirror)
    say = progress or (lambda _msg: None)
    written: list[Path] = []
    for raw in wanted:
        present = raw.local_path.is_file()
        if not force and present and _is_current(raw):
            continue
        if present and not force:
            say(f"{_show(raw.local_path)} differs from the registry; replacing it")
        how = _obtain(raw, root)
        written.append(raw.local_path)
        say(f"{raw.upstream_path} -> {_show(raw.local_path)} ({how})")
    skipped = len(wanted) - len(written)
    say(f"fetched {len(written)} file(s); {skipped} already up to date in {_show(raw_dir())}")
    return written


def ensure(
    years: int | Iterable[int] | None = None, *, progress: Progress | None = None
) -> list[Path]:
    """Fetch only files that are absent, so the API works on a fresh checkout.

    Present files are not re-hashed here; ``raw_path`` verifies them when they are read.
    Returns the paths that were written.
    """
    missing = [raw for raw in entries(years) if not raw.local_path.is_file()]
    if not missing:
        return []
    root = _mirror_root(None)
    written: list[Path] = []
    for raw in missing:
        how = _obtain(raw, root)
        written.append(raw.local_path)
        if progress is not None:
            progress(f"{raw.upstream_path} -> {_show(raw.local_path)} ({how})")
    return written


def raw_path(year: int | str, role: str = "responses", *, verify: bool = True) -> Path:
    """Local path of a registered raw file, checked against the registry before use.

    ``verify`` re-hashes the file (cached per path/mtime/size within the process) so an
    edited or truncated raw file can never silently feed an analysis.
    """
    raw = entry(year, role)
    path = raw.local_path
    if not path.is_file():
        raise MissingFileError(
            f"{_show(path)} is missing: run `make data` (or `ospo-survey fetch`)"
        )
    if verify:
        actual = _cached_sha256(path)
        if actual != raw.sha256:
            raise HashMismatchError(
                f"{_show(path)} has sha256 {actual[:12]}... but the registry expects "
                f"{raw.sha256[:12]}...: the local copy was changed after download; delete it "
                "and run `make data` (or `ospo-survey fetch --force`)"
            )
    return path
