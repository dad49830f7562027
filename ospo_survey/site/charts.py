"""Each chart's numbers as a CSV file beside its page, and every chart id unique on its page.

A chart (:class:`ospo_survey.rendering.plotting.Chart`) carries its CSV as a ``data:`` link, so
that it downloads from a notebook too; the site writes it as ``charts/<figure-id>.csv`` in the
page's folder and points the link there, which keeps the page small and gives every chart's
numbers an address. The folder is replaced whole, so a chart that left the page leaves no file.
"""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

from ospo_survey.core.files import write_atomic

CHARTS_DIR = "charts"
# attributes in alphabetical order: as plotting writes them and nbconvert rewrites them
_CSV_LINK = re.compile(
    r'download="([^"]+)\.csv" href="data:text/csv;charset=utf-8;base64,([A-Za-z0-9+/=]*)"')
_FIGURE_ID = re.compile(r'<figure class="chart" data-title="[^"]*" id="([^"]+)"')


def unique_chart_ids(body: str) -> str:
    """Every chart's id once on the page: a repeated id (two charts with one title) gets
    ``-2``, ``-3``... in page order, in the figure and in its links."""
    seen: dict[str, int] = {}
    out, last = [], 0
    for m in _FIGURE_ID.finditer(body):
        fid = m.group(1)
        seen[fid] = seen.get(fid, 0) + 1
        if seen[fid] == 1:
            continue
        new = f"{fid}-{seen[fid]}"
        end = body.find("</figure>", m.end())
        out.append(body[last:m.start()])
        out.append(body[m.start():end].replace(f'"{fid}"', f'"{new}"')
                   .replace(f'"#{fid}"', f'"#{new}"').replace(f'"{fid}.csv"', f'"{new}.csv"'))
        last = end
    out.append(body[last:])
    return "".join(out)


def write_chart_files(body: str, page_dir: Path) -> tuple[str, int]:
    """The page with every chart's CSV written to ``page_dir/charts/<id>.csv`` and linked there;
    returns the page and the number of files written."""
    body = unique_chart_ids(body)
    folder = Path(page_dir) / CHARTS_DIR
    if folder.is_dir():
        shutil.rmtree(folder)
    count = 0

    def write(m: re.Match[str]) -> str:
        nonlocal count
        name = f"{m.group(1)}.csv"
        write_atomic(folder / name, base64.b64decode(m.group(2)))
        count += 1
        return f'download="{name}" href="{CHARTS_DIR}/{name}"'

    return _CSV_LINK.sub(write, body), count
