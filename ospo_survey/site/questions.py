"""Writing ``reports/questions/``: one page per harmonised question and the list of them.

No notebook and no kernel: one process loads the survey design once
(:class:`ospo_survey.rendering.question_pages.QuestionSite`) and writes every page, each
chart's numbers beside it (``questions/<variable>/charts/<id>.csv``). The folder is replaced
whole, so a variable that left ``variables.yaml`` leaves no page behind.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ospo_survey.core.errors import ReportError
from ospo_survey.core.files import write_atomic
from ospo_survey.core.paths import SOURCE_ENV, reports_dir
from ospo_survey.site.charts import write_chart_files
from ospo_survey.site.pages import MAX_PAGE_BYTES, Progress, _standalone, print_progress


def questions_index_path(out_dir: Path | None = None) -> Path:
    return (Path(out_dir) if out_dir else reports_dir()) / "questions" / "index.html"


def build_questions(out_dir: Path | None = None, *, weights: str = "reference",
                    progress: Progress | None = print_progress) -> Path:
    """Write every question page and ``questions/index.html``; returns the index's path."""
    from ospo_survey.rendering import question_pages as Q

    index = questions_index_path(out_dir)
    folder = index.parent
    previous = os.environ.get(SOURCE_ENV)
    os.environ[SOURCE_ENV] = "processed"
    try:
        site = Q.QuestionSite(weights)
        pages, entries = {}, []
        for var in Q.question_variables():
            label, main = site.page(var)
            asked = Q.asked_by_year(var, site.years)
            words = " ".join(dict.fromkeys(q for a in asked for q in a.questions))
            pages[var] = _standalone(f"{label}: every year · OSPO survey", main,
                                     root="../../", description=f"{var} {words}")
            spec = Q.definitions()[var]
            entries.append((var, label, Q.years_asked(var),
                            " ".join(str(spec.get("description", "")).split())[:240]))
        body = _standalone("Questions across the years · OSPO survey", Q.index_main(entries),
                           root="../")
    finally:
        if previous is None:
            os.environ.pop(SOURCE_ENV, None)
        else:
            os.environ[SOURCE_ENV] = previous
    if folder.is_dir():
        shutil.rmtree(folder)
    total = 0
    for var, page in pages.items():
        out = folder / var / "index.html"
        page, count = write_chart_files(page, out.parent)
        total += count
        if len(page.encode("utf-8")) > MAX_PAGE_BYTES:
            raise ReportError(f"{out} would be over 3 MB: show fewer charts on it")
        write_atomic(out, page)
    write_atomic(index, body)
    if progress:
        progress(f"[questions] wrote {len(pages)} question page(s) and {total} chart CSVs "
                 f"under {folder}")
    return index
