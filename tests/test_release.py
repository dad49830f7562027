"""The open data release: a valid Frictionless Data Package of de-identified respondents."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import frictionless
import pandas as pd
import pytest
from _site import ensure_processed

from ospo_survey import cli
from ospo_survey.ingest import fetch, processed
from ospo_survey.ingest.harmonize import definitions, output_columns
from ospo_survey.site import release
from ospo_survey.site.pages import build_index
from ospo_survey.site.privacy import identifying_columns, scan

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    ensure_processed()
    return release.export(tmp_path_factory.mktemp("release") / "data")


@pytest.fixture(scope="module")
def meta(package: Path) -> dict:
    return json.loads(package.read_text(encoding="utf-8"))


def _resource(meta: dict, name: str) -> dict:
    return next(r for r in meta["resources"] if r["name"] == name)


def _csv(package: Path, path: str) -> pd.DataFrame:
    return pd.read_csv(package.parent / path, dtype=str, keep_default_na=False)


def test_the_package_is_valid_frictionless(package: Path) -> None:
    report = frictionless.validate(package)
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    assert report.stats["tasks"] == len(json.loads(package.read_text())["resources"])


def test_validation_catches_a_stray_level_and_an_unknown_respondent(package, tmp_path) -> None:
    """The enum and foreign-key declarations are checked, not decoration."""
    broken = tmp_path / "broken"
    shutil.copytree(package.parent, broken)
    people = broken / "respondents.csv"
    rows = list(csv.reader(people.open(encoding="utf-8", newline="")))
    at = rows[0].index("has_ospo")
    rows[1][at] = "maybe"
    with people.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    answers = broken / "answers" / "2024.csv"
    text = answers.read_text(encoding="utf-8").splitlines()
    text[1] = text[1].replace("2024-", "2099-", 1)
    answers.write_text("\n".join(text) + "\n", encoding="utf-8")
    described = json.loads((broken / "datapackage.json").read_text(encoding="utf-8"))
    described["resources"] = [  # the two broken tables only, to keep the test quick
        r for r in described["resources"] if r["name"] in ("respondents", "answers-2024")
    ]
    (broken / "datapackage.json").write_text(json.dumps(described), encoding="utf-8")
    report = frictionless.validate(broken / "datapackage.json")
    errors = {(e[0], e[1]) for e in report.flatten(["type", "fieldName"])}
    assert ("constraint-error", "has_ospo") in errors
    assert any(kind == "foreign-key" for kind, _ in errors), errors


def test_one_row_per_respondent_of_the_harmonised_sample(package: Path) -> None:
    """6,102 respondents: the funnel's last harmonised row of every year, added up, and the
    processed weights table (one weight per respondent) agree with the release."""
    people = _csv(package, "respondents.csv")
    funnel = processed.table("funnel")
    kept = funnel[funnel["screen"] == "harmonized"].groupby("year")["rows_out"].last()
    assert len(people) == int(kept.sum()) == len(processed.table("weights")) == 6102
    assert people["row_id"].is_unique
    assert people.groupby("year").size().astype(int).to_dict() == {
        str(y): int(n) for y, n in kept.items()
    }
    assert set(people["harmonized_sample"]) == {"true"}
    weights = people["weight"].astype(float)
    assert (weights > 0).all()
    assert weights.groupby(people["year"]).mean().round(9).eq(1).all()


def test_nothing_identifying_and_closed_questions_only(package: Path) -> None:
    assert scan([package.parent]) == []
    known = identifying_columns()
    questions = processed.table("questions")
    people = _csv(package, "respondents.csv")
    assert not known & {c.lower() for c in people.columns}
    for path in sorted((package.parent / "answers").glob("*.csv")):
        year = int(path.stem)
        answers = _csv(package, f"answers/{path.name}")
        assert not known & {c.lower() for c in answers.columns}
        kinds = questions[questions["year"] == year].set_index("column")["kind"]
        lead = ["year", "row_id", *release.FLAGS, *release.KEPT_META]
        asked = [c for c in answers.columns if c not in lead]
        assert set(kinds[asked]) <= {"single", "multiple", "matrix"}  # KeyError if not a question
        assert set(answers.columns) - set(asked) <= set(lead)
        assert "text" in set(kinds) and not any(c.endswith("_wrote") for c in answers.columns)
        assert set(answers["row_id"]) == set(people.loc[people["year"] == str(year), "row_id"])


def test_levels_in_order_and_descriptions_from_variables_yaml(meta: dict) -> None:
    fields = {f["name"]: f for f in _resource(meta, "respondents")["schema"]["fields"]}
    for var, spec in definitions().items():
        for col in output_columns(var):
            field = fields[col]
            assert spec["label"] in field["description"], col
            if spec["type"] == "multi":
                assert field["type"] == "boolean"
            else:
                assert field["constraints"]["enum"] == list(spec["levels"]), col
    assert fields["weight"]["type"] == "number" and fields["year"]["type"] == "integer"
    schema = _resource(meta, "respondents")["schema"]
    assert schema["missingValues"] == [""] and schema["primaryKey"] == ["row_id"]
    q51 = next(f for f in _resource(meta, "answers-2022")["schema"]["fields"] if f["name"] == "Q51")
    assert sum("know" in level for level in q51["constraints"]["enum"]) == 1


def test_parquet_holds_the_csv_rows_with_ordered_levels(package: Path) -> None:
    table = pd.read_parquet(package.parent / "respondents.parquet")
    people = _csv(package, "respondents.csv")
    assert list(table.columns) == list(people.columns) and len(table) == len(people)
    assert table["row_id"].tolist() == people["row_id"].tolist()
    assert list(table["org_size"].cat.categories) == definitions()["org_size"]["levels"]
    assert table["ospo_status"].astype(object).fillna("").tolist() == people["ospo_status"].tolist()


def test_licence_attribution_and_upstream_commit(meta: dict) -> None:
    assert [lic["name"] for lic in meta["licenses"]] == ["CC-BY-SA-4.0"]
    assert "TODO Group" in meta["attribution"]
    assert "TODO Group" in {c["title"] for c in meta["contributors"]}
    commit = processed.manifest()["upstream"].split("@")[1]
    assert commit == fetch.UPSTREAM_COMMIT and len(commit) == 40
    assert meta["upstream"] == {"repository": "todogroup/osposurvey", "commit": commit}
    assert meta["sources"][0]["path"] == f"https://github.com/todogroup/osposurvey/tree/{commit}"


def test_same_bytes_again_from_the_cli(package: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert cli.main(["export", str(again)]) == 0
    first = {p.relative_to(package.parent): p.read_bytes()
             for p in sorted(package.parent.rglob("*")) if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in sorted(again.rglob("*")) if p.is_file()}
    assert first.keys() == second.keys() and len(first) == 2 + 1 + 7 + 1 + 7  # + replicates
    assert first == second


def test_a_failed_export_leaves_the_previous_release_whole(package, tmp_path, monkeypatch) -> None:
    dest = tmp_path / "data"
    shutil.copytree(package.parent, dest)
    before = {p: p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
    (tmp_path / ".data.killed.part").mkdir()  # what a killed export leaves: cleared next time
    calls = []
    real = release._csv_bytes

    def fail_on_the_fourth_table(frame: pd.DataFrame) -> bytes:
        calls.append(len(frame))
        if len(calls) == 4:
            raise OSError("disk full")
        return real(frame)

    monkeypatch.setattr(release, "_csv_bytes", fail_on_the_fourth_table)
    with pytest.raises(OSError, match="disk full"):
        release.export(dest)
    assert len(calls) == 4  # three tables were written before the failure
    after = {p: p.read_bytes() for p in sorted(dest.rglob("*")) if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temporary folder left


def test_the_site_index_links_the_release(package: Path, tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(package.parent, root / release.RELEASE_DIR)
    page = build_index(root, progress=None).read_text(encoding="utf-8")
    links = {href for href in pd.Series(page.split('href="')[1:]).str.split('"').str[0]}
    local = {h for h in links if not h.startswith(("https://", "#"))}  # files, not anchors
    assert {"data/datapackage.json", "data/respondents.csv", "data/respondents.parquet"} <= local
    assert "data/answers/2022.csv" in local
    assert all((root / h).is_file() for h in local), local
    assert "CC-BY-SA-4.0" in page
