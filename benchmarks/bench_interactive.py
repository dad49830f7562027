"""Benchmark a researcher's first question in a fresh process against a bare pandas floor.

- **ours**: a new Python process that imports the package and asks
  ``ospo_survey.survey(range(2018, 2025)).trend("has_ospo")``.
- **floor**: a new Python process running the bare pandas script below (``--floor``): read
  the processed harmonised table and the reference weights from ``data/processed``, keep the
  harmonised sample, and compute each year's weighted shares of ``has_ospo`` with linearised
  SEs. Nothing that answers the same question from the same tables can do less.

Both answer the same question: the script checks that the floor's shares equal ours before it
times anything (the SEs differ only where the design's Kish floor binds). The two commands
alternate for ``--repeats`` rounds (so that background load hits them alike); medians and
ours / floor are printed. ``data/processed`` must be fresh (``make processed``), as it is after
``make reports``. A benchmark, not a test.

    python benchmarks/bench_interactive.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("import ospo_survey; "
        "t = ospo_survey.survey(range(2018, 2025)).trend('has_ospo'); "
        "print(t[['year', 'level', 'estimate', 'se']].to_csv(index=False))")


def floor(processed: Path) -> str:
    """The bare pandas answer: weighted shares and linearised SEs per year (CSV text)."""
    import numpy as np
    import pandas as pd

    h = pd.read_parquet(processed / "harmonized.parquet",
                        columns=["year", "row_id", "harmonized_sample", "has_ospo"])
    w = pd.read_parquet(processed / "weights.parquet")
    d = h[h["harmonized_sample"]].merge(w, on=["year", "row_id"])
    rows = []
    for year, part in d.groupby("year"):
        wt = part["weight"].to_numpy()
        known = part["has_ospo"].notna().to_numpy()
        n = len(part)
        for level in ("has", "planning", "none"):
            y = (part["has_ospo"] == level).to_numpy()
            total = wt[known].sum()
            p = wt[known & y].sum() / total
            z = wt * known * (y - p) / total
            z -= z.mean()
            rows.append((year, level, p, np.sqrt(n / (n - 1) * (z @ z))))
    return pd.DataFrame(rows, columns=["year", "level", "estimate", "se"]).to_csv(index=False)


def _time(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--floor", action="store_true", help="run the floor once and print it")
    args = ap.parse_args(argv)
    processed = ROOT / "data" / "processed"
    if args.floor:
        print(floor(processed), end="")
        return 0
    import pandas as pd

    ours_cmd = [sys.executable, "-c", OURS]
    floor_cmd = [sys.executable, str(Path(__file__).resolve()), "--floor"]
    _, ours_out = _time(ours_cmd)  # warm the file cache; checks the answers agree
    _, floor_out = _time(floor_cmd)
    a = pd.read_csv(pd.io.common.StringIO(ours_out)).sort_values(["year", "level"])
    b = pd.read_csv(pd.io.common.StringIO(floor_out)).sort_values(["year", "level"])
    # the same shares (the SEs differ only by the design's Kish floor, which costs nothing)
    pd.testing.assert_series_equal(a["estimate"].reset_index(drop=True),
                                   b["estimate"].reset_index(drop=True), rtol=1e-9)
    times: dict[str, list[float]] = {"ours": [], "floor": []}
    for _ in range(args.repeats):
        times["floor"].append(_time(floor_cmd)[0])
        times["ours"].append(_time(ours_cmd)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:5s} median {med[k]:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in v)})")
    print(f"ours / floor: {med['ours'] / med['floor']:.2f}x (same answers, checked)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
