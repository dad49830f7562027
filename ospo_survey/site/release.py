"""The open data release: de-identified respondents and answers as a Frictionless Data Package.

``ospo-survey export DIR`` (``make release`` writes ``reports/data``, which the site's index
links) writes, from ``data/processed`` only:

- ``respondents.csv`` and ``respondents.parquet``: one row per respondent of every year's
  harmonised sample, with the harmonised variables, the sample flags, the reference weight and
  ``weight_no_panel`` (the weights of the design without 2023's paid panel);
- ``answers/<year>.csv``: the same respondents' answers to that year's closed questions;
- ``replicates/<year>.csv`` (and ``replicates.parquet``, every year): bootstrap replicate
  weights of the reference weights (``rep_001`` ... ``rep_200``, rounded to 6 decimals in both),
  each a Rao-Wu resample that re-derives the pooled reference targets and re-rakes every year,
  with the R ``svrepdesign`` call that reads them (:data:`R_README`);
- ``datapackage.json``: field types, level order (``enum``), descriptions (``variables.yaml``,
  ``release.yaml``, the questionnaire), licence, attribution and the upstream commit.

Nothing identifying is written: no respondent or collector id, IP address, date, name, email or
free text (the processed tables hold none, and only closed questions are taken). The bytes are
deterministic, and the release is assembled in a temporary folder and moved into place whole.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ospo_survey.core.errors import ReleaseError
from ospo_survey.core.files import write_atomic
from ospo_survey.core.meta import VERSION
from ospo_survey.core.paths import PACKAGE_DIR, reports_dir
from ospo_survey.core.yamlio import load_yaml
from ospo_survey.ingest import processed
from ospo_survey.ingest.fetch import UPSTREAM_COMMIT, UPSTREAM_REPO
from ospo_survey.ingest.harmonize import definitions, output_columns

RELEASE_CONFIG = PACKAGE_DIR / "release.yaml"
RELEASE_DIR = "data"  # under reports/: the site's index links it
PACKAGE_FILE = "datapackage.json"
RESPONDENTS = "respondents"
SAMPLE = "harmonized_sample"  # every row of the release is in it
FLAGS = ("publisher_sample", "harmonized_sample", "company_level")
KEY = "row_id"
WEIGHTS = ("weight", "weight_no_panel")
REPLICATES_DIR = "replicates"  # replicates/<year>.csv; replicates.parquet holds every year
REPLICATE_DECIMALS = 6  # replicate weights rounded alike in the CSV and the Parquet files
R_README = (
    'library(survey); d <- merge(read.csv("respondents.csv"), read.csv("replicates/{year}.csv"),'
    ' by = "row_id"); R <- {n_rep}; des <- {call}; svymean(~has_ospo, subset(des,'
    ' has_ospo != ""))'
)
CLOSED_KINDS = ("single", "multiple", "matrix")
KEPT_META = ("language",)  # meta columns of the answers that identify no one
MISSING = ""  # how a missing value is written in the CSV files
TRUE, FALSE = "true", "false"
UPSTREAM_URL = f"https://github.com/{UPSTREAM_REPO}"

Progress = Callable[[str], object]


def release_dir() -> Path:
    """Where ``make release`` writes: ``reports/data``, beside the pages that link it."""
    return reports_dir() / RELEASE_DIR


def settings() -> dict[str, Any]:
    """``release.yaml``: the package's name, title, licence and fixed field descriptions."""
    return load_yaml(RELEASE_CONFIG)


# --------------------------------------------------------------------------- tables


def respondents() -> pd.DataFrame:
    """The harmonised sample of every year, one row per respondent, with its weight: the
    rows and reference weights of the design (:func:`ospo_survey.survey` on every year), so
    the release and the API give the same estimates."""
    from ospo_survey.analysis.design import survey
    from ospo_survey.ingest.settings import available_years

    design = survey(available_years(), "harmonized", "reference")
    out = design.frame
    if out["weight"].isna().any():
        row = out.loc[out["weight"].isna(), KEY].iloc[0]
        raise ReleaseError(
            f"respondent {row} of the harmonised sample has no weight: the processed tables "
            "disagree; rebuild them with `make processed`"
        )
    no_panel = design.without_panel().frame
    panel_years = [y for y, k in design.without_panel().excluded.items() if k]
    no_panel = no_panel[no_panel["year"].isin(panel_years)].set_index(KEY)["weight"]
    out["weight_no_panel"] = out[KEY].map(no_panel).astype(float)  # the panel, other years: ""
    columns = ["year", KEY, *FLAGS, *WEIGHTS]
    columns += [c for var in definitions() for c in output_columns(var)]
    out = out[columns].reset_index(drop=True)
    out[KEY] = out[KEY].astype(object)  # plain Python strings, as the release has published
    infos = design.weight_info.values()
    out.attrs["weighting"] = _weighting_words(list(infos))
    return out


def _weighting_words(infos: list[Any]) -> str:
    """Which targets the weights reach and what the cap did, for the ``weight`` field."""
    first = infos[0]
    cap = first.trim.get("max_ratio")
    which = first.targets_sentence
    capped = sum(bool(i.capped) for i in infos)
    top = max(float(i.weights.max()) for i in infos)
    if capped:
        trim = f"weights are capped at {cap:g} times the mean, and some reached the cap"
    else:
        trim = (f"weights are capped at {cap:g} times the mean, but no weight reached the cap"
                f" (the largest is {top:.2f})")
    return f"Every year is {which}; {trim}."


def replicates(people: pd.DataFrame) -> pd.DataFrame:
    """Bootstrap replicate weights of the reference weights, one row per respondent of
    ``people`` (``year``, ``row_id``, ``rep_001`` ...), rounded to
    :data:`REPLICATE_DECIMALS`: the design's own replicates (``survey(..., se="replicate")``).
    """
    from ospo_survey.inference.estimate.replicates import replicate_names
    from ospo_survey.inference.schemes import replicate_weights_for

    parts = []
    for year, rows in people.groupby("year", sort=True):
        reps = replicate_weights_for(rows, int(year), "reference")
        frame = pd.DataFrame(reps.round(REPLICATE_DECIMALS), columns=replicate_names(
            reps.shape[1]))
        frame.insert(0, KEY, rows[KEY].to_numpy())
        frame.insert(0, "year", int(year))
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def year_answers(year: int, keep: pd.Series) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """One year's closed answers of the respondents in ``keep`` (row ids): the table, its
    leading columns (key, flags, kept meta) and the question rows describing the rest."""
    answers = processed.table(f"{year}/answers")
    questions = processed.table("questions")
    questions = questions[(questions["year"] == year) & questions["kind"].isin(CLOSED_KINDS)]
    questions = questions[questions["column"].isin(answers.columns)].reset_index(drop=True)
    head = ["year", KEY, *FLAGS, *[c for c in KEPT_META if c in answers.columns]]
    wanted = set(keep)  # (a set lookup per row: Arrow text's isin makes a scalar per value)
    answers = answers[np.fromiter((k in wanted for k in answers[KEY].to_numpy(dtype=object)),
                                  dtype=bool, count=len(answers))]
    return answers[[*head, *questions["column"]]].reset_index(drop=True), head, questions


# --------------------------------------------------------------------------- schema


def _bool_field(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "type": "boolean", "description": description,
            "trueValues": [TRUE], "falseValues": [FALSE]}


def _enum_field(name: str, description: str, levels: list[str]) -> dict[str, Any]:
    return {"name": name, "type": "string", "description": description,
            "constraints": {"enum": list(levels)}}


def _fixed_field(name: str, fixed: dict[str, str]) -> dict[str, Any]:
    """year, row_id, the flags, weight, language: described in ``release.yaml``."""
    text = " ".join(fixed[name].split())
    if name in FLAGS:
        return _bool_field(name, text)
    if name == "year":
        return {"name": name, "type": "integer", "description": text,
                "constraints": {"required": True}}
    if name in WEIGHTS:
        required = {"required": True} if name == "weight" else {}
        return {"name": name, "type": "number", "description": text,
                "constraints": {**required, "minimum": 0}}
    field = {"name": name, "type": "string", "description": text}
    if name == KEY:
        field["constraints"] = {"required": True, "unique": True}
    return field


def _variable_fields() -> Iterator[dict[str, Any]]:
    """One field per harmonised column: ``variables.yaml`` label, sub-label and description."""
    for var, spec in definitions().items():
        about = " ".join(str(spec.get("description", "")).split())
        if spec["type"] in ("multi", "matrix"):
            parts = spec["options"] if spec["type"] == "multi" else spec["rows"]
            for text, col in zip(parts.values(), output_columns(var), strict=True):
                description = " ".join(f"{spec['label']}: {text}. {about}".split())
                if spec["type"] == "multi":
                    yield _bool_field(col, description)
                else:
                    yield _enum_field(col, description, spec["levels"])
            continue
        yield _enum_field(var, " ".join(f"{spec['label']}. {about}".split()), spec["levels"])


def _question_fields(questions: pd.DataFrame, labels: pd.DataFrame) -> Iterator[dict]:
    """One field per closed-question column: its text, row and option, and its answers in
    questionnaire order (a one-hot column holds its option's label when ticked)."""
    by_column = labels.groupby("column", sort=False)["label"].agg(list).to_dict()
    for q in questions.itertuples(index=False):
        coded = by_column.get(q.column, [])
        levels = list(dict.fromkeys(coded)) if len(coded) else [q.option]
        parts = [f"{q.qid}: {q.question}"]
        parts += [str(p) for p in (q.row, q.option) if isinstance(p, str) and p]
        yield _enum_field(q.column, " ".join(" - ".join(parts).split()), levels)


def _schema(fields: list[dict[str, Any]], foreign: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {"fields": fields, "missingValues": [MISSING]}
    if foreign:
        schema["foreignKeys"] = [
            {"fields": KEY, "reference": {"resource": RESPONDENTS, "fields": KEY}}
        ]
    else:
        schema["primaryKey"] = [KEY]
    return schema


def _distinct(col: pd.Series) -> set[str]:
    """The column's distinct values as text, missing left out (Arrow-backed text: Arrow's
    ``unique``, ten times pandas' on these tables)."""
    arr = col.array
    if hasattr(arr, "__arrow_array__"):
        import pyarrow.compute as pc

        return {str(v) for v in pc.unique(arr.__arrow_array__()).to_pylist() if v is not None}
    return {str(v) for v in pd.unique(col.dropna())}


def _check_levels(frame: pd.DataFrame, fields: list[dict[str, Any]], where: str) -> None:
    """Every value of a column with declared levels is one of them (else the package lies)."""
    for field in fields:
        levels = field.get("constraints", {}).get("enum")
        if levels is None:
            continue
        values = _distinct(frame[field["name"]])
        stray = sorted(values - set(levels))
        if stray:
            raise ReleaseError(
                f"{where}: {field['name']} holds {stray[0]!r}, not one of its levels "
                f"{levels[:6]}; fix the codebook or variables.yaml, then `make processed`"
            )


# --------------------------------------------------------------------------- files


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV as the package describes it: booleans true/false, missing values empty, LF, a field
    quoted only when it holds a comma, a quote or a line break (what ``to_csv`` writes, built
    column by column: ``to_csv`` converted each Arrow text column value by value)."""
    cells = [_csv_cells(frame[c]) for c in frame.columns]
    header = ",".join(_quoted(str(c)) for c in frame.columns)
    rows = np.column_stack(cells).tolist() if cells and len(frame) else []
    return ("\n".join([header, *map(",".join, rows)]) + "\n").encode("utf-8")


_SPECIAL = re.compile(r'[,"\r\n]')


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if _SPECIAL.search(text) else text


def _csv_cells(col: pd.Series) -> np.ndarray:
    """One column's CSV fields (object array of text)."""
    missing = col.isna().to_numpy()
    if pd.api.types.is_bool_dtype(col.dtype) or str(col.dtype) == "boolean":
        values = col.fillna(False).to_numpy(dtype=bool)
        return np.where(missing, MISSING, np.where(values, TRUE, FALSE)).astype(object)
    if isinstance(col.dtype, pd.CategoricalDtype):
        labels = np.array([_quoted(str(c)) for c in col.cat.categories] + [MISSING],
                          dtype=object)
        return labels[col.cat.codes.to_numpy()]
    if pd.api.types.is_float_dtype(col.dtype):
        values = col.to_numpy(dtype=np.float64)
        return np.where(missing, MISSING, values.astype(str)).astype(object)
    if pd.api.types.is_integer_dtype(col.dtype) and not missing.any():
        return col.to_numpy().astype(str).astype(object)
    if isinstance(col.dtype, pd.StringDtype):
        # text: each distinct value quoted once (answers repeat their labels)
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        fields = np.array([_quoted(str(v)) for v in uniques] + [MISSING], dtype=object)
        return fields[np.where(missing, len(uniques), codes)]
    values = col.to_numpy(dtype=object)
    return np.array([MISSING if m else _quoted(str(v)) for v, m in zip(values, missing,
                                                                      strict=True)],
                    dtype=object)


def _replicate_csv(frame: pd.DataFrame) -> bytes:
    """Replicate weights as CSV: each number's shortest form (the values are already rounded,
    so the CSV reads back to the Parquet file's numbers), a whole number without ``.0``.
    Arrow's writer formats the 1.2 million numbers (Python's ``str`` per value took 2.4 s)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [c for c in frame.columns if c != KEY]
    table = pa.table({KEY: pa.array(frame[KEY].astype(str).to_numpy(dtype=object),
                                    type=pa.string()),
                      **{c: pa.array(frame[c].to_numpy(dtype=np.float64)) for c in names}})
    sink = io.BytesIO()
    sink.write((",".join([KEY, *names]) + "\n").encode("utf-8"))
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False,
                                                     quoting_style="none"))
    return sink.getvalue()


def _parquet_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        frame.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")

    return write


def _resource(name: str, path: str, title: str, description: str, schema: dict) -> dict:
    return {
        "name": name, "path": path, "title": title, "description": description,
        "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
        "encoding": "utf-8", "schema": schema,
    }


def _package(config: dict[str, Any], resources: list[dict], n: int, years: list[int]) -> dict:
    span = f"{years[0]}-{years[-1]}"
    return {
        "name": config["name"],
        "title": f"{config['title']}, {span}",
        "description": " ".join(
            f"{config['description']} {n:,} respondents, {span}; the respondents table is also "
            f"written as {RESPONDENTS}.parquet (same columns, categorical levels kept).".split()
        ),
        "version": VERSION,
        "licenses": config["licenses"],
        "attribution": " ".join(config["attribution"].split()),
        "contributors": [
            {**c, "path": UPSTREAM_URL} if c["title"] == "TODO Group" else dict(c)
            for c in config["contributors"]
        ],
        "sources": [
            {"title": f"{UPSTREAM_REPO} at commit {UPSTREAM_COMMIT}",
             "path": f"{UPSTREAM_URL}/tree/{UPSTREAM_COMMIT}"}
        ],
        "upstream": {"repository": UPSTREAM_REPO, "commit": UPSTREAM_COMMIT},
        "resources": resources,
    }


def _check_upstream() -> None:
    """The processed tables were built from the commit the package pins."""
    built = processed.manifest().get("upstream")
    if built != f"{UPSTREAM_REPO}@{UPSTREAM_COMMIT}":
        raise ReleaseError(
            f"data/processed was built from {built}, the package pins "
            f"{UPSTREAM_REPO}@{UPSTREAM_COMMIT[:7]}: rebuild it with `make processed`"
        )


STAGING_SUFFIX = ".part"  # folders a killed export left behind; the next export removes them


@contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A private folder beside ``dest``; on success it replaces ``dest`` whole, on failure it
    is removed and ``dest`` is left as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = dest.with_name(f".{dest.name}.old{STAGING_SUFFIX}")
    if old.is_dir() and not dest.exists():
        os.replace(old, dest)  # a run killed between the two moves: the old release is back
    for stale in dest.parent.glob(f".{dest.name}.*{STAGING_SUFFIX}"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=STAGING_SUFFIX, dir=dest.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if dest.exists():
            os.replace(dest, old)
        try:
            os.replace(tmp, dest)
        except BaseException:
            if old.is_dir() and not dest.exists():
                os.replace(old, dest)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _write_replicates(tmp: Path, people: pd.DataFrame, progress: Progress | None
                      ) -> list[dict[str, Any]]:
    """``replicates/<year>.csv`` and ``replicates.parquet``; their resources, each with the R
    call that reads them."""
    from ospo_survey.inference.estimate.replicates import R_CALL

    reps = replicates(people)
    names = [c for c in reps.columns if c not in ("year", KEY)]
    write_atomic(tmp / f"{REPLICATES_DIR}.parquet", _parquet_writer(reps))
    out = []
    for year, part in reps.groupby("year", sort=True):
        path = f"{REPLICATES_DIR}/{year}.csv"
        write_atomic(tmp / path, _replicate_csv(part.drop(columns="year")))
        key = {"name": KEY, "type": "string", "description": "The respondent (respondents.csv).",
               "constraints": {"required": True, "unique": True}}
        fields = [key] + [
            {"name": c, "type": "number", "constraints": {"required": True, "minimum": 0},
             "description": f"Bootstrap replicate weight {i} of {len(names)}."}
            for i, c in enumerate(names, start=1)
        ]
        call = R_README.format(year=year, n_rep=len(names), call=R_CALL)
        out.append(_resource(
            f"replicates-{year}", path, f"Bootstrap replicate weights, {year}",
            " ".join(
                f"{len(part):,} respondents of {year}, {len(names)} replicate weights of the"
                " reference weight (Rao-Wu rescaling bootstrap, years as strata: n - 1"
                " respondents drawn with replacement within the year; each replicate"
                " re-derives the pooled reference targets from its resample and re-rakes"
                f" every year), rounded to {REPLICATE_DECIMALS} decimals. In R: {call}".split()),
            _schema(fields, foreign=True),
        ))
        if progress:
            progress(f"[release] replicates {year}: {len(part)} rows, {len(names)} columns")
    return out


def export(out_dir: Path | str | None = None, *, progress: Progress | None = None) -> Path:
    """Write the release into ``out_dir`` (default ``reports/data``); returns the
    ``datapackage.json`` path. The folder is replaced whole, or left alone on failure."""
    dest = Path(out_dir) if out_dir else release_dir()
    config = settings()
    _check_upstream()
    people = respondents()
    fixed = config["fields"]
    fixed = {**fixed, "weight": f"{fixed['weight']} {people.attrs['weighting']}"}
    fields = [_fixed_field(c, fixed) for c in ["year", KEY, *FLAGS, *WEIGHTS]]
    fields += list(_variable_fields())
    _check_levels(people, fields, RESPONDENTS)
    years = sorted(int(y) for y in people["year"].unique())
    n = len(people)
    resources = [
        _resource(
            RESPONDENTS, f"{RESPONDENTS}.csv", "Respondents, harmonised across years",
            f"{n:,} respondents of the harmonised samples of {years[0]}-{years[-1]}: sample "
            "flags, reference weight and harmonised variables.",
            _schema(fields, foreign=False),
        )
    ]
    labels = processed.table("answer_labels")
    with _staging(dest) as tmp:
        write_atomic(tmp / f"{RESPONDENTS}.csv", _csv_bytes(people))
        write_atomic(tmp / f"{RESPONDENTS}.parquet", _parquet_writer(people))
        for year in years:
            answers, lead, questions = year_answers(year, people.loc[people["year"] == year, KEY])
            head = [_fixed_field(c, fixed) for c in lead]
            q_fields = list(_question_fields(questions, labels[labels["year"] == year]))
            _check_levels(answers, q_fields, f"answers {year}")
            path = f"answers/{year}.csv"
            write_atomic(tmp / path, _csv_bytes(answers))
            resources.append(
                _resource(
                    f"answers-{year}", path, f"Answers to the closed questions, {year}",
                    f"{len(answers):,} respondents of {year} (the respondents table's rows of "
                    f"that year), {len(questions):,} closed-question columns labelled as the "
                    "questionnaire labels them.",
                    _schema(head + q_fields, foreign=True),
                )
            )
            if progress:
                progress(f"[release] answers {year}: {len(answers)} rows, {len(questions)} columns")
        resources += _write_replicates(tmp, people, progress)
        package = _package(config, resources, n, years)
        text = json.dumps(package, indent=2, ensure_ascii=False) + "\n"
        write_atomic(tmp / PACKAGE_FILE, text)
    if progress:
        progress(f"[release] wrote {dest} ({n} respondents, {len(resources)} resources)")
    return dest / PACKAGE_FILE
