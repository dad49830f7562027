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
        table = survey.question(args.qid)
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
    if args.page == "trends":
        build_page("trends", out=out, weights=args.weights)
    else:
        build_page("year", _years([args.page])[0], out=out, weights=args.weights)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ospo_survey.site.pages import build_index

    build_index(Path(args.out) if args.out else None)
    return 0


def cmd_trend(args: argparse.Namespace) -> int:
    from ospo_survey.inference.schemes import trend

    table = trend(args.variable, scheme=args.weights, sample=args.sample)
    table.to_csv(sys.stdout, index=False, lineterminator="\n")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from ospo_survey.inference.schemes import diagnostics_table

    table = diagnostics_table(args.scheme, args.sample)
    table.to_csv(sys.stdout, index=False, lineterminator="\n")
    return 0


def cmd_targets(args: argparse.Namespace) -> int:
    from ospo_survey.inference import weights
    from ospo_survey.inference.schemes import TARGETS_DIR, derive_reference

    spec = derive_reference()
    path = weights.write_targets(spec, args.out or TARGETS_DIR / "reference.yaml")
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


def _add_common(p: argparse.ArgumentParser, default: object = False) -> None:
    p.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks on errors"
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
    p.add_argument("qid", nargs="?", help="only this publisher question id")
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
        help="add weighted columns pct_w, ci_low, ci_high, n_eff (reference, unweighted, FILE)",
    )
    p.set_defaults(func=cmd_freq)

    p = sub.add_parser("trend", help="a harmonised variable per year, unweighted and weighted")
    p.add_argument("variable", help="harmonised variable, e.g. has_ospo")
    p.add_argument("--weights", default="reference", metavar="SCHEME")
    p.add_argument("--sample", choices=["publisher", "harmonized"], default="harmonized")
    p.set_defaults(func=cmd_trend)

    p = sub.add_parser("weights", help="weighting diagnostics per year (deff, n_eff, fit)")
    p.add_argument("--scheme", default="reference")
    p.add_argument("--sample", choices=["publisher", "harmonized"], default="harmonized")
    p.set_defaults(func=cmd_weights)

    p = sub.add_parser("targets", help="re-derive the reference targets from the data")
    p.add_argument("--out", help="where to write (default: the package's reference.yaml)")
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("digest", help="sha256 of each key published table (drift check)")
    p.add_argument("--update", metavar="FILE", help="write the digests as JSON to FILE")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("scan", help="fail if published files hold identifying data")
    p.add_argument("paths", nargs="*", help="files or folders (default: data/processed, reports)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("report", help="build one research report page (a year, or trends)")
    p.add_argument("page", help="a survey year (e.g. 2024) or 'trends'")
    p.add_argument(
        "--weights", default="reference",
        help="weighting scheme: a targets file name in ospo_survey/targets, or 'none'",
    )
    p.add_argument("--out", help="output HTML file (default: reports/<year|trends>/index.html)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("index", help="write reports/index.html from the built pages")
    p.add_argument("--out", help="the reports folder (default: reports/)")
    p.set_defaults(func=cmd_index)

    for extra in _EXTRA_COMMANDS:
        extra(sub)
    for action in sub.choices.values():
        # SUPPRESS: a --debug given before the subcommand must survive the subparser's default
        _add_common(action, default=argparse.SUPPRESS)
    return parser


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


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
