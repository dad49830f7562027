"""The analysed datasets: each year's screened answers and the harmonised cross-year table.

``load(year)`` and ``load_harmonized()`` compute from the verified raw files (fast: well under
a second a year) and cache per process; :func:`ospo_survey.processing.build.build` writes the
same tables to ``data/processed/`` as Parquet, validated and atomically replaced.

Nothing identifying leaves this module: respondent and collector ids, IP addresses and exact
timestamps are dropped (a stable pseudonymous ``row_id`` replaces them), and free-text answers
become a "wrote an answer" flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

import numpy as np
import pandas as pd

from ospo_survey.core.errors import CodebookError, RawFormatError
from ospo_survey.ingest import answers as A
from ospo_survey.ingest import fetch, processed
from ospo_survey.ingest.harmonize import answer_map, codebook_table, harmonize_year
from ospo_survey.ingest.read import RawSurvey, read_raw
from ospo_survey.ingest.screen import harmonized_screen, publisher_screen
from ospo_survey.ingest.settings import available_years, year_settings

SAMPLES = ("publisher", "harmonized", "all")
_FLAGS = ("publisher_sample", "harmonized_sample")  # what selecting a sample reads
KEEP_META_KINDS = {"language"}


@dataclass
class YearData:
    """Everything derived from one year's raw file."""

    year: int
    survey: RawSurvey
    row_id: pd.Series
    flags: pd.DataFrame  # year, row_id and the sample flags, one row per respondent
    harmonized: pd.DataFrame  # all respondents: flags, then the harmonised variables
    funnel: pd.DataFrame

    @cached_property
    def answers(self) -> pd.DataFrame:
        """All respondents, decoded and de-identified (made on first use: reports skip it)."""
        labels = _deidentified_answers(self.survey, A._labels(self.survey))
        return pd.concat([self.flags, labels], axis=1)


def _row_ids(survey: RawSurvey) -> pd.Series:
    """Stable pseudonyms: the year and the rank of the respondent id (not the id itself)."""
    ids = survey.responses[year_settings(survey.year)["read"].get("id_column", "respondent_id")]
    order = pd.to_numeric(ids, errors="coerce").rank(method="first").astype(int)
    return order.map(lambda r: f"{survey.year}-{r:04d}").rename("row_id")


def _deidentified_answers(survey: RawSurvey, labels: pd.DataFrame) -> pd.DataFrame:
    """Decoded answers with identifying meta columns dropped and free text turned into flags."""
    meta_kinds = {m["name"]: m.get("kind") for m in year_settings(survey.year)["read"]["meta"]}
    out: dict[str, pd.Series] = {}
    for spec in survey.questions.itertuples(index=False):
        col = spec.column
        if spec.kind == "meta":
            if meta_kinds.get(col) in KEEP_META_KINDS:
                out[col] = labels[col].astype("string")
            continue
        if spec.kind == "text":
            out[f"{col}_wrote"] = labels[col].notna()
            continue
        out[col] = labels[col].astype("string")
    return pd.DataFrame(out, index=labels.index)


@cache
def year_data(year: int) -> YearData:
    """Read, harmonise and screen one year (cached per process)."""
    year = int(year)
    year_settings(year)
    if processed.from_processed():
        return _processed_year_data(year)
    fetch.ensure([year])
    survey = read_raw(year)
    harmonized = harmonize_year(survey)
    pub = publisher_screen(survey, harmonized)
    har = harmonized_screen(survey, harmonized)
    row_id = _row_ids(survey)
    flags = pd.DataFrame(
        {
            "year": np.full(survey.n, year, dtype="int16"),
            "row_id": row_id.astype("string"),
            "publisher_sample": pub.keep.astype(bool),
            "harmonized_sample": har.keep.astype(bool),
        },
        index=survey.responses.index,
    )
    for name, flag in pub.flags.items():
        flags[name] = flag.astype(bool)
    if "company_level" not in flags:
        flags["company_level"] = flags["publisher_sample"]
    table = pd.concat([flags, harmonized], axis=1)
    funnel = pd.concat([pub.funnel, har.funnel], ignore_index=True)
    return YearData(year, survey, row_id, flags, table, funnel)


def _processed_year_data(year: int) -> YearData:
    """The same :class:`YearData`, read from ``data/processed`` (never the raw export)."""
    if year not in processed.manifest()["years"]:
        raise RawFormatError(
            f"{year}: not in data/processed (built for {processed.manifest()['years']}): "
            "run `make processed`"
        )
    survey = processed.year_survey(year)
    table = processed.table(f"{year}/harmonized")
    flag_cols = [c for c in table.columns if c in ("year", "row_id") or table[c].dtype == bool]
    flags = table[flag_cols]
    funnel_all = processed.table("funnel")
    funnel = funnel_all[funnel_all["year"] == year].reset_index(drop=True)
    return YearData(year, survey, table["row_id"], flags, table, funnel)


def fielding_window(year: int, sample: str) -> tuple[str, str] | None:
    """First start and last completion (ISO dates) of a year's sample; None without dates."""
    if processed.from_processed():
        return processed.fielding(year, sample)
    yd = year_data(year)
    r = yd.survey.responses.loc[_sample_rows(yd.harmonized, sample)]
    if "start_date" not in r.columns or "end_date" not in r.columns:
        return None
    start = pd.to_datetime(r["start_date"], errors="coerce").min()
    end = pd.to_datetime(r["end_date"], errors="coerce").max()
    if pd.isna(start) or pd.isna(end):
        return None
    return start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")


def _sample_rows(flags: pd.DataFrame, sample: str) -> pd.Index:
    if sample == "all":
        return flags.index
    if sample == "company_level":
        return flags.index[flags["publisher_sample"] & flags["company_level"]]
    return flags.index[flags[f"{sample}_sample"].astype(bool)]


def _select(frame: pd.DataFrame, sample: str) -> pd.DataFrame:
    if sample not in SAMPLES:
        raise CodebookError(f"unknown sample {sample!r}: use one of {', '.join(SAMPLES)}")
    if sample == "publisher":
        frame = frame[frame["publisher_sample"]]
    elif sample == "harmonized":
        frame = frame[frame["harmonized_sample"]]
    return frame.sort_values("row_id").reset_index(drop=True)


def load(year: int, *, sample: str = "publisher") -> pd.DataFrame:
    """One year's respondents with decoded answer labels (publisher's analysed sample).

    Columns are the publisher's question columns (``Q6``, ``q12_1`` ...) holding answer
    labels, ``<column>_wrote`` flags instead of free text, and ``row_id``, ``year``,
    ``publisher_sample``, ``harmonized_sample``, ``company_level``.

    >>> df = load(2024)
    >>> len(df)
    222
    """
    return _select(year_data(year).answers, sample)


def load_harmonized(
    years: int | Iterable[int] | None = None, *, sample: str = "harmonized",
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The harmonised variables stacked across years (default: the harmonised screen);
    ``columns`` picks some (``year`` and ``row_id`` always come first), which is quicker.

    >>> h = load_harmonized([2022, 2024], sample="publisher")
    >>> h.groupby("year")["has_ospo"].value_counts().loc[2024, "has"]
    np.int64(100)
    >>> list(load_harmonized(2024, columns=["has_ospo"]).columns)
    ['year', 'row_id', 'has_ospo']
    """
    ys = sorted({int(y) for y in _year_list(years)})
    for y in ys:
        year_settings(y)  # an unknown year is one line naming the known years
    cols = None if columns is None else tuple(dict.fromkeys(["year", "row_id", *columns]))
    if processed.from_processed():
        # a page asks for the same years and sample several times: select once per table
        # version from the stacked table, and hand out copies (copy-on-write: callers cannot
        # change the cache)
        return _stacked_processed(processed.version("harmonized"), tuple(ys), sample,
                                  cols).copy(deep=False)
    out = _stack([_select(year_data(y).harmonized, sample) for y in ys])
    return out if cols is None else out[_known(out, cols)]


def _known(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    """``columns`` if the frame has them all, else one line naming the closest."""
    from ospo_survey.core.errors import UnknownVariableError, did_you_mean

    for c in columns:
        if c not in frame.columns:
            raise UnknownVariableError(
                f"unknown harmonised column {c!r}:{did_you_mean(c, frame.columns)}"
                " (ospo_survey.codebook() lists the variables)")
    return list(columns)


def _year_list(years: int | Iterable[int] | None) -> list[int]:
    """``2024``, ``[2023, 2024]``, ``range(...)`` or None (every year) as a list of years."""
    if years is None:
        return available_years()
    if isinstance(years, int | str | np.integer):
        return [int(years)]
    return [int(y) for y in years] or available_years()


@lru_cache(maxsize=64)
def _stacked_processed(
    version: tuple[str, int, int], years: tuple[int, ...], sample: str,
    columns: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    table = processed.read_version(version)
    missing = sorted(set(years) - set(table["year"].unique().tolist()))
    if missing:
        raise RawFormatError(
            f"{missing[0]}: not in data/processed (built for {processed.manifest()['years']}):"
            " run `make processed`"
        )
    rows = table["year"].isin(years)
    if columns is None:
        return _select(table[rows], sample)
    keep = list(dict.fromkeys([*_known(table, columns), *_FLAGS]))
    return _select(table.loc[rows, keep], sample)[list(columns)]


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate keeping categorical dtypes (levels are identical across years)."""
    out = pd.concat(frames, ignore_index=True)
    for col in frames[0].columns:
        dtype = frames[0][col].dtype
        if isinstance(dtype, pd.CategoricalDtype) and out[col].dtype != dtype:
            out[col] = pd.Categorical(out[col], dtype=dtype)
    return out


def funnel(years: int | Iterable[int] | None = None) -> pd.DataFrame:
    """Screening funnels (publisher and harmonised) of the given years."""
    ys = sorted({int(y) for y in _year_list(years)})
    if processed.from_processed():
        table = processed.table("funnel")
        return table[table["year"].isin(ys)].reset_index(drop=True)
    return pd.concat([year_data(y).funnel for y in ys], ignore_index=True)


def codebook(
    year: int | Iterable[int] | None = None, variable: str | None = None
) -> pd.DataFrame:
    """How each year's questions feed the harmonised variables.

    Without ``variable``: one row per (year, variable) naming the source question (``year``
    may be one year, several or None for all). With ``variable``: one row per raw answer of
    that year's question and the harmonised level it becomes (``year, variable, qid,
    question, answer, level``).

    >>> codebook([2024]).set_index("variable").at["ospo_status", "source"]
    'q12'
    >>> cb = codebook(2024, "ospo_status")
    >>> cb.loc[cb["answer"] == "No", "level"].tolist()
    ['none']
    """
    if variable is None:
        years = [year] if isinstance(year, int) else year
        return codebook_table([int(y) for y in years] if years else None)
    if year is None or not isinstance(year, int | np.integer | str):
        frames = [codebook(int(y), variable) for y in (year or available_years())]
        return pd.concat(frames, ignore_index=True)
    year_settings(year)
    if processed.from_processed():
        return _processed_answer_map(int(year), variable)
    return answer_map(year_data(int(year)).survey, variable)


@lru_cache(maxsize=4)
def _answer_map_parts(key: tuple[str, int, int]) -> dict[tuple[int, str], pd.DataFrame]:
    """The processed ``answer_map`` table split by (year, harmonised variable), once per
    table version: a question page looks up every year of its variable."""
    from ospo_survey.ingest.harmonize import base_variable

    table = processed.read_version(key)
    table = table.astype(object).where(table.notna(), None).astype({"year": "int64"})
    bases = table["variable"].map(lambda v: base_variable(v)[0])
    return {(int(y), str(v)): part for (y, v), part in table.groupby([table["year"], bases],
                                                                      sort=False)}


def _processed_answer_map(year: int, variable: str) -> pd.DataFrame:
    """``codebook(year, variable)`` from the processed ``answer_map`` table (a page run)."""
    from ospo_survey.ingest.harmonize import base_variable, definitions

    var, part = base_variable(variable)  # an unknown name is one clear line, as in a raw run
    parts = _answer_map_parts(processed.version("answer_map"))
    rows = parts.get((year, var))
    if rows is None:  # no rows: the table's columns, typed as the rows would be
        rows = next(iter(parts.values())).iloc[0:0]
    if part is not None:
        kind = definitions()[var]["type"]
        if kind == "multi":
            rows = rows[rows["level"] == part].assign(variable=variable)
        else:
            rows = rows[rows["variable"] == variable]
    return rows.reset_index(drop=True)


QUESTION_MATCH_COLUMNS = ["year", "qid", "question", "kind", "match"]
FUZZY_COVERAGE = 0.7  # share of the query's words a reworded question must contain


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", str(text).lower())


def find_question(text: str, years: int | Iterable[int] | None = None) -> pd.DataFrame:
    """The question in every year that asked it, by wording (``year, qid, question, kind,
    match``).

    Every question whose wording contains ``text`` (case and spacing ignored) is an
    ``exact`` match. A year with no exact match gets its closest question instead, marked
    ``fuzzy``: the one containing most of the query's words (at least 70%; ties go to the
    wording most like the query), so a reworded question (2024's "OSPO or similar open
    source initiative") is still found.

    >>> f = find_question("does your organization have an open source program")
    >>> f[["year", "qid", "match"]].values.tolist()[-3:]
    [[2022, 'Q6', 'exact'], [2023, 'q9', 'exact'], [2024, 'q12', 'fuzzy']]
    """
    import difflib

    q = questions(years)
    q = q[q["kind"] != "meta"]
    firsts = q.groupby(["year", "qid"], sort=False).agg(
        question=("question", "first"),
        kind=("kind", lambda k: next((x for x in k if x != "text"), "text")),
    ).reset_index()
    wanted = " ".join(_words(text))
    words = set(wanted.split())
    hay = firsts["question"].map(lambda t: " ".join(_words(t)))
    exact = hay.map(lambda h: f" {wanted} " in f" {h} ")
    firsts["match"] = np.where(exact, "exact", "")
    picks = [firsts[exact]]
    for year in sorted(set(firsts["year"]) - set(firsts.loc[exact, "year"])):
        cand = firsts[firsts["year"] == year]
        cover = hay[cand.index].map(lambda h: len(words & set(h.split())) / max(len(words), 1))
        like = hay[cand.index].map(lambda h: difflib.SequenceMatcher(None, wanted, h).ratio())
        ok = cover >= FUZZY_COVERAGE
        if ok.any():
            best = (cover[ok] + like[ok] / 10).idxmax()
            picks.append(cand.loc[[best]].assign(match="fuzzy"))
    out = pd.concat(picks)[QUESTION_MATCH_COLUMNS]
    order = out["qid"].str.extract(r"(\d+)", expand=False).astype(float)
    out = out.assign(_o=order).sort_values(["year", "_o"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


def questions(years: int | Iterable[int] | None = None) -> pd.DataFrame:
    """The raw question tables of the given years, stacked (year column first)."""
    ys = sorted({int(y) for y in _year_list(years)})
    frames = []
    for y in ys:
        q = year_data(y).survey.questions.copy()
        q.insert(0, "year", y)
        frames.append(q)
    return pd.concat(frames, ignore_index=True)


def provenance(years: Iterable[int]) -> pd.DataFrame:
    """year, role, upstream_path, sha256 of the raw files behind ``years``: from the processed
    tables' manifest in a processed run, else from the file registry."""
    ys = [int(y) for y in years]
    return processed.provenance(ys) if processed.from_processed() else fetch.provenance(ys)
