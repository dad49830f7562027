"""The ``ospo-survey`` command line: the project's verbs (fetch, questions, build, freq, ...).

Errors the user can cause print one line to stderr and exit non-zero; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ospo_survey.core.errors import OspoSurveyError
from ospo_survey.core.paths import processed_dir, raw_dir


def _years(values: Sequence[str] | None) -> list[int] | None:
    if not values:
        return None
    from ospo_survey.ingest.settings import year_settings

    out = []
    for v in values:
        year_settings(v)  # raises UnknownYearError with a clear line
        out.append(int(v))
    return out


def cmd_fetch(args: argparse.Namespace) -> int:
    from ospo_survey.ingest import fetch

    written = fetch.fetch(
        _years(args.years), force=args.force, progress=lambda msg: print(msg, file=sys.stderr)
    )
    print(f"fetched {len(written)} file(s) into {raw_dir()}", file=sys.stderr)
    return 0


def cmd_questions(args: argparse.Namespace) -> int:
    from ospo_survey.ingest.read import read_raw

    survey = read_raw(int(_years([args.year])[0]), path=args.file)
    table = survey.questions
    if args.qid:
        table = survey.question_options(args.qid)
    table.to_csv(sys.stdout, index=False, lineterminator="\n")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from ospo_survey.processing.build import build

    written = build(_years(args.years), progress=lambda msg: print(msg, file=sys.stderr))
    print(f"wrote {len(written)} file(s) under {processed_dir()}", file=sys.stderr)
    return 0


def cmd_freq(args: argparse.Namespace) -> int:
    from ospo_survey.analysis.tables import frequencies

    year = _years([args.year])[0]
    table = frequencies(
        year, args.question, by=args.by, sample=args.sample, weights=args.weights
    )
    print(f"# {year} {table.attrs['qid']}: {table.attrs['question_text']}", file=sys.stderr)
    table.to_csv(sys.stdout, index=False, lineterminator="\n")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ospo_survey.core.paths import reports_dir
    from ospo_survey.site.privacy import scan

    targets = [Path(p) for p in args.paths] or [processed_dir(), reports_dir()]
    findings = scan([t for t in targets if t.exists()])
    for finding in findings:
        print(finding)
    if findings:
        print(f"ospo-survey: {len(findings)} identifying item(s) found", file=sys.stderr)
        return 1
    print(f"no identifying data in {', '.join(str(t) for t in targets)}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ospo_survey.site.pages import build_page

    out = Path(args.out) if args.out else None
    if args.page == "codebook":
        from ospo_survey.site.pages import build_codebook

        build_codebook(out.parent.parent if out else None)
    elif args.page == "questions":
        from ospo_survey.site.questions import build_questions

        build_questions(out.parent.parent if out else None, weights=args.weights)
    elif args.page == "trends":
        build_page("trends", out=out, weights=args.weights)
    else:
        build_page("year", _years([args.page])[0], out=out, weights=args.weights)
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ospo_survey.site.batch import build_site, make_jobs, ordered, read_queue
    from ospo_survey.site.pages import settle_builder

    settle_builder()  # this process builds the pages, then exits
    queue = Path(args.queue) if args.queue else None
    names = ordered(args.pages) if args.pages else None
    if queue is not None:
        names = ordered([*(names or []), *read_queue(queue)])
    jobs = args.jobs if args.jobs else make_jobs()
    build_site(names, out_dir=Path(args.out) if args.out else None, jobs=jobs,
               weights=args.weights)
    if queue is not None:
        queue.unlink(missing_ok=True)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ospo_survey.site.pages import build_index

    build_index(Path(args.out) if args.out else None)
    return 0


def cmd_trend(args: argparse.Namespace) -> int:
    from ospo_survey.analysis.design import survey
    from ospo_survey.ingest.settings import available_years

    design = survey(available_years(), args.sample, args.weights)
    if args.exclude_panel:
        design = design.without_panel()
    table = design.trend(args.variable)
    table.to_csv(sys.stdout, index=False, lineterminator="\n")
    for note in table.attrs.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from ospo_survey.analysis.design import survey
    from ospo_survey.ingest.settings import available_years

    table = survey(available_years(), args.sample, args.scheme).diagnostics()
    table.to_csv(sys.stdout, index=False, lineterminator="\n")
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from ospo_survey.inference import weights
    from ospo_survey.inference.schemes import derive_reference, reference_path

    spec = derive_reference()
    path = weights.write_targets(spec, args.out or reference_path(spec["version"]))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ospo_survey.analysis import drift

    if args.update:
        print(f"wrote {drift.write(Path(args.update))}", file=sys.stderr)
        return 0
    for name, digest in drift.digests().items():
        print(f"{digest}  {name}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ospo_survey.analysis.compare import dropped_line
    from ospo_survey.analysis.design import compare

    adjust = [v.strip() for v in (args.adjust or "").split(",") if v.strip()]
    table = compare(
        args.outcome, args.by, years=_years(args.years), sample=args.sample,
        weights=args.weights, adjust=adjust, pooled=args.pooled,
    )
    table.to_csv(sys.stdout, index=False, lineterminator="\n", float_format="%.6g")
    print(f"ospo-survey compare: {dropped_line(table)}", file=sys.stderr)
    for note in table.attrs.get("notes", []):
        print(f"ospo-survey compare: note: {note}", file=sys.stderr)
    return 0


def _add_common(p: argparse.ArgumentParser, default: object = False) -> None:
    p.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks on errors"
    )


def _add_sample_and_weights(p: argparse.ArgumentParser) -> None:
    """--sample and --weights with the design's defaults (``policy.DEFAULTS``: the harmonised
    sample, reference weights), the same as ``ospo_survey.survey()``."""
    from ospo_survey.analysis.policy import DEFAULTS

    p.add_argument("--sample", choices=["publisher", "harmonized"], default=DEFAULTS["sample"])
    p.add_argument(
        "--weights", default=DEFAULTS["weights"], metavar="SCHEME",
        help="reference (the default), unweighted (or none), or a targets YAML file",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ospo-survey",
        description="Read, screen, weight and report the TODO Group OSPO survey (2018-2024).",
    )
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fetch", help="fetch and verify the raw files into data/raw")
    p.add_argument("years", nargs="*", help="years to fetch (default: all)")
    p.add_argument("--force", action="store_true", help="fetch again even if present")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("questions", help="print a year's question table as CSV")
    p.add_argument("year")
    p.add_argument(
        "qid", nargs="?",
        help="only this publisher question id, one row per answer option with its code",
    )
    p.add_argument("--file", help="read this CSV instead of the fetched raw file (checks it)")
    p.set_defaults(func=cmd_questions)

    p = sub.add_parser("build", help="write the processed tables into data/processed")
    p.add_argument("years", nargs="*", help="years to build (default: all)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("freq", help="frequency table of one question as CSV")
    p.add_argument("year")
    p.add_argument("question", help="the publisher's question id for that year, e.g. Q6 or q12")
    p.add_argument("--by", help="group by a single-choice question id or harmonised variable")
    p.add_argument(
        "--sample", choices=["publisher", "harmonized", "all"], default="publisher",
        help="which respondents (default: the publisher's analysed sample)",
    )
    p.add_argument(
        "--weights", metavar="SCHEME",
        help="add weighted columns pct_w, ci_low, ci_high, n_eff"
        " (reference, unweighted or none, FILE)",
    )
    p.set_defaults(func=cmd_freq)

    p = sub.add_parser("trend", help="a harmonised variable's shares per year, with notes")
    p.add_argument("variable", help="harmonised variable, e.g. has_ospo")
    p.add_argument("--weights", default="reference", metavar="SCHEME")
    p.add_argument("--sample", choices=["publisher", "harmonized"], default="harmonized")
    p.add_argument("--exclude-panel", action="store_true",
                   help="leave the 2023 paid panel out and re-weight that year without it")
    p.set_defaults(func=cmd_trend)

    p = sub.add_parser("weights", help="weighting diagnostics per year (deff, n_eff, fit)")
    p.add_argument("--scheme", default="reference")
    p.add_argument("--sample", choices=["publisher", "harmonized"], default="harmonized")
    p.set_defaults(func=cmd_weights)

    p = sub.add_parser("targets", help="re-derive the reference targets from the data")
    p.add_argument("--out", help="where to write (default: the package's targets/<version>.yaml)")
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("digest", help="sha256 of each key published table (drift check)")
    p.add_argument("--update", metavar="FILE", help="write the digests as JSON to FILE")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("scan", help="fail if published files hold identifying data")
    p.add_argument("paths", nargs="*", help="files or folders (default: data/processed, reports)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("report", help="build one report page (a year, trends, codebook or "
                       "questions)")
    p.add_argument("page", help="a survey year (e.g. 2024), 'trends', 'codebook' or 'questions' "
                   "(the question pages)")
    p.add_argument(
        "--weights", default="reference",
        help="weighting scheme: a targets file name in ospo_survey/targets, or 'none'",
    )
    p.add_argument("--out", help="output HTML file (default: reports/<year|trends>/index.html)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "site", help="build pages in one process, several at a time, then the index",
        description="Build report pages (years, trends, codebook, the open data release) in "
        "one process, JOBS at a time, then reports/index.html. Without pages or --queue: "
        "all of them. `make reports` queues its stale pages and runs this.",
    )
    p.add_argument("pages", nargs="*", help="years, 'trends', 'codebook', 'release'")
    p.add_argument("--queue", help="also build the pages listed in this file, then delete it")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="pages at a time (default: make's -j when run by make, else 1)")
    p.add_argument("--weights", default="reference", help="weighting scheme of the pages")
    p.add_argument("--out", help="the reports folder (default: reports/)")
    p.set_defaults(func=cmd_site)

    p = sub.add_parser("index", help="write reports/index.html from the built pages")
    p.add_argument("--out", help="the reports folder (default: reports/)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "compare", help="shares of an outcome by group, raw and adjusted, with differences"
    )
    p.add_argument("outcome", help="harmonised variable, e.g. activity_contribute")
    p.add_argument("--by", required=True, metavar="GROUP", help="group variable, e.g. has_ospo")
    p.add_argument("--years", nargs="+", metavar="Y", help="survey years (default: all)")
    _add_sample_and_weights(p)
    p.add_argument("--adjust", metavar="VAR,VAR", help="adjust for these variables")
    p.add_argument(
        "--pooled", action="store_true", help="pool the years (year a fixed effect when adjusting)"
    )
    p.set_defaults(func=cmd_compare)

    for extra in _EXTRA_COMMANDS:
        extra(sub)
    for action in sub.choices.values():
        # SUPPRESS: a --debug given before the subcommand must survive the subparser's default
        _add_common(action, default=argparse.SUPPRESS)
    return parser


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


# --------------------------------------------------------------------------- maturity models


def cmd_maturity(args: argparse.Namespace) -> int:
    from ospo_survey.analysis.design import maturity, survey
    from ospo_survey.analysis.maturity import MaturityError, reproducibility, scalability
    from ospo_survey.ingest.settings import available_years

    years = _years(args.years)
    every = years or available_years()  # the design of the scale table: the years asked for
    if args.reproducibility or args.scale:
        what = "--reproducibility" if args.reproducibility else "--scale"
        if args.by:
            raise MaturityError(f"--by does not apply to {what} (one row per year)")
        if args.reproducibility and args.scale:
            raise MaturityError("--reproducibility and --scale are two tables: ask for one")
        if args.reproducibility:
            table = reproducibility(years, args.model, sample=args.sample)
            note = ("Guttman CR = 1 - errors/(respondents x items), unweighted, secondary to "
                    "Loevinger's H (--scale)")
        else:
            table = scalability(survey(every, sample=args.sample), args.model)
            note = ("Loevinger's H per year and stage (item_H), unweighted; bootstrap 95% "
                    "intervals; verdict and thresholds: maturity.yaml scaling")
        table.to_csv(sys.stdout, index=False, lineterminator="\n", float_format="%.4f")
        print(f"note: {note}", file=sys.stderr)
        return 0
    table = maturity(years, args.model, sample=args.sample, weights=args.weights, by=args.by)
    table.to_csv(sys.stdout, index=False, lineterminator="\n", float_format="%.4f")
    scale = scalability(survey(every, sample=args.sample), args.model)
    for note in table.attrs.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    for _, row in scale.drop_duplicates("year").iterrows():
        if row["item"] is None or row["measured_stages"] == 0:
            print(f"note: {row.year} {row.model}: {row.reason}", file=sys.stderr)
            continue
        verdict = row["verdict"] or f"no verdict: {row['reason']}"
        misfit = scale[(scale["year"] == row["year"]) & (scale["item_fit"] == "does not fit")]
        items = "".join(f"; {r.item} does not fit (item H {r.item_H:.3f})"
                        for r in misfit.itertuples())
        print(f"note: {row.year} {row.model}: Loevinger's H {row.H:.3f} (95% interval "
              f"{row.H_low:.3f}-{row.H_high:.3f}) over {row.measured_stages} measured stages: "
              f"{verdict}{items}", file=sys.stderr)
    return 0


def _maturity_parser(sub: argparse._SubParsersAction) -> None:
    from ospo_survey.core.paths import PACKAGE_DIR
    from ospo_survey.core.yamlio import load_yaml

    names = ", ".join(load_yaml(PACKAGE_DIR / "maturity.yaml")["models"])
    p = sub.add_parser(
        "maturity", help="share of respondents at each stage of an OSPO maturity model, as CSV"
    )
    p.add_argument("years", nargs="*", help="survey years (default: all)")
    p.add_argument("--model", default="haddad", help=f"maturity.yaml model: {names}")
    _add_sample_and_weights(p)
    p.add_argument("--by", metavar="VAR", help="a harmonised variable, e.g. has_ospo")
    p.add_argument(
        "--scale", action="store_true",
        help="print Loevinger's H per year and stage (Mokken scaling) instead",
    )
    p.add_argument(
        "--reproducibility", action="store_true",
        help="print Guttman's coefficient of reproducibility per year instead (secondary)",
    )
    p.set_defaults(func=cmd_maturity)


_EXTRA_COMMANDS.append(_maturity_parser)

# --- export: the open data release ---------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from ospo_survey.site.release import export

    path = export(args.dir, progress=lambda msg: print(msg, file=sys.stderr))
    print(f"wrote the data package {path}", file=sys.stderr)
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write the open data release (CSV, Parquet, datapackage.json)"
    )
    p.add_argument("dir", nargs="?", help="output folder (default: reports/data)")
    p.set_defaults(func=cmd_export)


_EXTRA_COMMANDS.append(_add_export)


# --- benchmark: organisations like mine --------------------------------------------------


def cmd_benchmark(args: argparse.Namespace) -> int:
    if args.page:
        from pathlib import Path

        from ospo_survey.site.benchmark import build_benchmark

        build_benchmark(Path(args.out) if args.out else None)
        return 0
    from ospo_survey.analysis.benchmark import benchmark

    table = benchmark(size=args.size, industry=args.industry, region=args.region,
                      has_ospo=args.has_ospo)
    table.to_csv(sys.stdout, index=False, lineterminator="\n", float_format="%.6g")
    for note in table.attrs.get("notes", []):
        print(f"ospo-survey benchmark: note: {note}", file=sys.stderr)
    return 0


def _benchmark_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark", help="a profile's peers beside all organisations, pooled 2022-2024, as CSV",
        description="Organisations like mine: the share with an OSPO, practices, policies, "
        "journey stage and challenges of the organisations matching a profile (each part "
        "optional), beside all organisations, pooled over 2022-2024 (2023 without its paid "
        "panel). --page writes the benchmark page instead.",
    )
    p.add_argument("--size", help="organisation size band, e.g. '1-50' or 'over 10,000'")
    p.add_argument("--industry", help="industry, e.g. 'technology'")
    p.add_argument("--region", help="headquarters region, e.g. 'Europe'")
    p.add_argument("--has-ospo", dest="has_ospo", help="'yes', 'planning one' or 'no'")
    p.add_argument("--page", action="store_true",
                   help="write reports/benchmark/index.html (every profile precomputed)")
    p.add_argument("--out", help="with --page: the output HTML file")
    p.set_defaults(func=cmd_benchmark)


_EXTRA_COMMANDS.append(_benchmark_parser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OspoSurveyError as exc:
        if args.debug:
            raise
        print(f"ospo-survey: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ospo-survey: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
