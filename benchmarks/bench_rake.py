"""Benchmark ospo_survey.inference.weights.rake against a bare numpy IPF (floor), svy, balance.

Synthetic respondents on four weighting variables with 7, 22, 6 and 9 levels, drawn from
shares that are skewed against the targets. Every method rakes to the same targets with an
absolute tolerance of 1e-6 on the margins; the script checks that each one reached them and
prints the median of ``--repeats`` timings (``time.perf_counter``) per method and size.

    python benchmarks/bench_rake.py --sizes 10000 100000 1000000 --repeats 5
    python benchmarks/bench_rake.py --balance   # also time balance, in its own venv
    python benchmarks/bench_rake.py --int-codes # also time int64-coded columns

``--int-codes`` also rakes the same respondents given as int64 codes ``0..k-1`` with margins
keyed by those ints, against a floor that starts from the codes (no factorising), interleaved
with the categorical runs.

``--balance`` creates ``benchmarks/.balance-venv`` (git-ignored; never the project venv), pip
installs ``balance`` there (with numpy<2 and scipy<1.14 on Python < 3.12, as balance requires),
writes the data to a temporary .npz and times balance in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ospo_survey.inference.weights import rake  # noqa: E402

LEVELS = (7, 22, 6, 9)
TOL = 1e-6
BALANCE_VENV = HERE / ".balance-venv"


# -- data ----------------------------------------------------------------------------------------


def _round_shares(p: np.ndarray, decimals: int = 4) -> np.ndarray:
    """Shares on a 1e-4 grid summing to 1 (balance realises margins as a finite target frame)."""
    unit = 10**decimals
    raw = p / p.sum() * unit
    base = np.maximum(np.floor(raw).astype(np.int64), 1)
    rest = unit - int(base.sum())
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    for i in order[: max(rest, 0)]:
        base[i] += 1
    while base.sum() > unit:
        base[int(np.argmax(base))] -= 1
    return base / unit


def make_data(n: int, seed: int) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Respondents whose level shares differ clearly from the targets (raking has work to do)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, pd.Categorical] = {}
    margins: dict[str, dict[str, float]] = {}
    for j, size in enumerate(LEVELS):
        names = [f"v{j}_l{i:02d}" for i in range(size)]
        sample_p = rng.dirichlet(np.full(size, 1.5))
        sample_p = 0.9 * sample_p + 0.1 / size  # every level well populated
        target = _round_shares(rng.dirichlet(np.full(size, 3.0)))
        codes = rng.choice(size, n, p=sample_p)
        cols[f"v{j}"] = pd.Categorical.from_codes(codes, categories=names)
        margins[f"v{j}"] = dict(zip(names, target.tolist(), strict=True))
    return pd.DataFrame(cols), margins


def as_int_codes(
    df: pd.DataFrame, margins: dict[str, dict[str, float]]
) -> tuple[pd.DataFrame, dict[str, dict[int, float]]]:
    """The same respondents as int64 codes 0..k-1, with margins keyed by those ints."""
    data = pd.DataFrame({v: df[v].cat.codes.to_numpy().astype(np.int64) for v in margins})
    keyed = {v: dict(enumerate(m.values())) for v, m in margins.items()}
    return data, keyed


def _codes(col: pd.Series) -> np.ndarray:
    """Level positions of a categorical column, or the values of an int-coded one."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy()
    return col.to_numpy()


def margin_error(df: pd.DataFrame, margins: dict, w: np.ndarray) -> float:
    """Largest |achieved share - target| over every level of every margin."""
    worst = 0.0
    total = w.sum()
    for var, target in margins.items():
        codes = _codes(df[var])
        got = np.bincount(codes, weights=w, minlength=len(target)) / total
        worst = max(worst, float(np.max(np.abs(got - np.fromiter(target.values(), float)))))
    return worst


# -- methods -------------------------------------------------------------------------------------


def run_ours(df: pd.DataFrame, margins: dict) -> np.ndarray:
    return rake(df, margins, tol=TOL).to_numpy()


def run_floor(df: pd.DataFrame, margins: dict) -> np.ndarray:
    """Bare IPF on the collapsed cell table: factorise, bincount, iterate, map back."""
    return _floor_ipf([df[v].cat.codes.to_numpy() for v in margins], margins)


def run_floor_int(df: pd.DataFrame, margins: dict) -> np.ndarray:
    """The floor on int64 columns that already are codes 0..k-1: nothing to factorise."""
    return _floor_ipf([df[v].to_numpy() for v in margins], margins)


def _floor_ipf(codes: list[np.ndarray], margins: dict) -> np.ndarray:
    """Joint cell index from the codes, ``np.bincount`` into cells, IPF, map back to rows."""
    sizes = [len(m) for m in margins.values()]
    targets = [np.fromiter(m.values(), float) for m in margins.values()]
    key = codes[0].astype(np.int64)
    for c, size in zip(codes[1:], sizes[1:], strict=True):
        key *= size
        key += c
    space = math.prod(sizes)
    counts = np.bincount(key, minlength=space)
    occ = np.flatnonzero(counts)
    lut = np.empty(space, dtype=np.int64)
    lut[occ] = np.arange(occ.size)
    cell = lut[key]
    levels, rest = [], occ.copy()
    for size in reversed(sizes):
        levels.append(rest % size)
        rest //= size
    levels.reverse()
    w0 = counts[occ].astype(float)
    w = w0.copy()
    n = w.sum()
    for _ in range(100):
        for lev, t in zip(levels, targets, strict=True):
            w *= (t * n / np.bincount(lev, weights=w, minlength=t.size))[lev]
        err = max(
            np.max(np.abs(np.bincount(lev, weights=w, minlength=t.size) / n - t))
            for lev, t in zip(levels, targets, strict=True)
        )
        if err <= TOL:
            break
    return (w / w0)[cell]


def svy_runner() -> Callable[[pd.DataFrame, dict], Callable[[], np.ndarray]] | None:
    try:
        import polars as pl
        import svy
    except ImportError:
        return None

    def prepare(df: pd.DataFrame, margins: dict) -> Callable[[], np.ndarray]:
        frame = pl.from_pandas(df.astype(str)).with_columns(pl.lit(1.0).alias("w"))
        sample = svy.Sample(frame, svy.Design(wgt="w"))

        def go() -> np.ndarray:
            # svy's tol is relative to each target; relative <= 1e-6 implies absolute <= 1e-6.
            out = sample.weighting.rake(shares=margins, tol=TOL, max_iter=100)
            return out.data[out.design.wgt].to_numpy()

        return go

    return prepare


def timed(
    fns: dict[str, Callable[[], np.ndarray]], repeats: int, min_batch: float = 0.05
) -> dict[str, tuple[float, Any]]:
    """Median wall time per call for each method.

    Methods are interleaved within each repeat so that a busy machine slows them all alike.
    As with ``timeit``, a fast method is called several times in a row per repeat (enough
    calls to fill ``min_batch`` seconds, fixed per method from one warm-up call) and the batch
    time divided by the count: one 2 ms call right after another library has run measures
    cache state more than the method.
    """
    outs: dict[str, Any] = {}
    number: dict[str, int] = {}
    for name, fn in fns.items():  # warm-up, and how many calls make a batch
        t0 = time.perf_counter()
        outs[name] = fn()
        number[name] = max(1, math.ceil(min_batch / max(time.perf_counter() - t0, 1e-9)))
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(repeats):
        names = list(fns)
        names = names[r % len(names) :] + names[: r % len(names)]  # rotate the order
        for name in names:
            fn, k = fns[name], number[name]
            t0 = time.perf_counter()
            for _ in range(k):
                outs[name] = fn()
            times[name].append((time.perf_counter() - t0) / k)
    return {k: (statistics.median(v), outs[k]) for k, v in times.items()}


# -- balance, in its own venv ------------------------------------------------------------------

BALANCE_SCRIPT = r"""
import json, statistics, sys, time, warnings, logging
import numpy as np, pandas as pd
logging.disable(logging.WARNING)
warnings.simplefilter("ignore")
from balance.weighting_methods.rake import rake
npz = np.load(sys.argv[1], allow_pickle=True)
repeats = int(sys.argv[2])
names = list(npz["names"])
df = pd.DataFrame({
    v: pd.Categorical.from_codes(npz[f"codes_{v}"], categories=list(npz[f"levels_{v}"]))
    for v in names
})
margins = {v: dict(zip(list(npz[f"levels_{v}"]), npz[f"target_{v}"].tolist())) for v in names}
ones = pd.Series(np.ones(len(df)))
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    res = rake(df, ones, None, None, variables=names, transformations=None, na_action="drop",
               target_margins=margins, max_iteration=1000, convergence_rate=1e-6,
               rate_tolerance=0.0)
    times.append(time.perf_counter() - t0)
w = np.asarray(res["weight"], dtype=float)
err = 0.0
for v in names:
    got = np.bincount(df[v].cat.codes.to_numpy(), weights=w, minlength=len(margins[v])) / w.sum()
    err = max(err, float(np.max(np.abs(got - np.array(list(margins[v].values()))))))
import balance
print(json.dumps({"median": statistics.median(times), "error": err,
                  "converged": int(res["model"].get("converged", -1)),
                  "version": balance.__version__}))
"""


def balance_python() -> Path:
    """The balance venv's interpreter, creating the venv on first use."""
    py = BALANCE_VENV / "bin" / "python"
    if py.exists():
        return py
    print(f"creating {BALANCE_VENV} and installing balance (first run only) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(BALANCE_VENV)], check=True)
    pins = ["numpy<2", "scipy<1.14"] if sys.version_info < (3, 12) else []
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "balance", *pins], check=True)
    return py


def run_balance(df: pd.DataFrame, margins: dict, repeats: int) -> dict:
    py = balance_python()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "data.npz"
        arrays = {"names": np.array(list(margins), dtype=object)}
        for v, target in margins.items():
            arrays[f"codes_{v}"] = df[v].cat.codes.to_numpy()
            arrays[f"levels_{v}"] = np.array(list(df[v].cat.categories), dtype=object)
            arrays[f"target_{v}"] = np.fromiter(target.values(), float)
        np.savez(npz, **arrays)
        script = Path(tmp) / "bench_balance.py"
        script.write_text(BALANCE_SCRIPT)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        out = subprocess.run(
            [str(py), str(script), str(npz), str(repeats)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--balance", action="store_true", help="also time balance (own venv)")
    ap.add_argument("--balance-repeats", type=int, default=None, help="default: --repeats")
    ap.add_argument("--no-svy", action="store_true", help="skip svy even if installed")
    ap.add_argument(
        "--int-codes", action="store_true", help="also time int64-coded columns (and their floor)"
    )
    args = ap.parse_args(argv)

    prepare_svy = None if args.no_svy else svy_runner()
    rows = []
    for n in args.sizes:
        df, margins = make_data(n, args.seed)
        fns: dict[str, Callable[[], np.ndarray]] = {
            "ours": lambda df=df, m=margins: run_ours(df, m),
            "floor": lambda df=df, m=margins: run_floor(df, m),
        }
        if args.int_codes:
            di, mi = as_int_codes(df, margins)
            fns["ours_int"] = lambda di=di, m=mi: run_ours(di, m)
            fns["floor_int"] = lambda di=di, m=mi: run_floor_int(di, m)
        if prepare_svy is not None:
            fns["svy"] = prepare_svy(df, margins)
        for fn in fns.values():  # warm-up (imports, allocator, svy's first call)
            fn()
        res = timed(fns, args.repeats)
        (t_ours, w_ours), (t_floor, w_floor) = res["ours"], res["floor"]
        row = {
            "n": n,
            "ours_ms": 1e3 * t_ours,
            "floor_ms": 1e3 * t_floor,
            "ours/floor": t_ours / t_floor,
            "err_ours": margin_error(df, margins, w_ours),
            "err_floor": margin_error(df, margins, w_floor),
            "max|w-floor|": float(np.max(np.abs(w_ours - w_floor))),
        }
        if args.int_codes:
            (t_oi, w_oi), (t_fi, w_fi) = res["ours_int"], res["floor_int"]
            row.update(
                {
                    "ours_int_ms": 1e3 * t_oi,
                    "floor_int_ms": 1e3 * t_fi,
                    "int ours/floor": t_oi / t_fi,
                    "err_ours_int": margin_error(di, mi, w_oi),
                    "err_floor_int": margin_error(di, mi, w_fi),
                    "max|w_int-w|": float(np.max(np.abs(w_oi - w_ours))),
                }
            )
        if "svy" in res:
            t_svy, w_svy = res["svy"]
            w_svy = w_svy / w_svy.mean()
            row.update(
                {
                    "svy_ms": 1e3 * t_svy,
                    "svy/ours": t_svy / t_ours,
                    "err_svy": margin_error(df, margins, w_svy),
                    "max|w-svy|": float(np.max(np.abs(w_ours - w_svy))),
                }
            )
        if args.balance:
            res = run_balance(df, margins, args.balance_repeats or args.repeats)
            row.update(
                {
                    "balance_ms": 1e3 * res["median"],
                    "balance/ours": res["median"] / t_ours,
                    "err_balance": res["error"],
                    "balance_version": res["version"],
                }
            )
        for key in ("err_ours", "err_floor", "err_ours_int", "err_floor_int", "err_svy"):
            if key in row and row[key] > TOL:
                print(f"WARNING: {key} = {row[key]:.2e} exceeds tol {TOL}", file=sys.stderr)
        rows.append(row)
        print(json.dumps(row), flush=True)

    table = pd.DataFrame(rows).set_index("n")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print()
        print(table.to_string(float_format=lambda x: f"{x:.3g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
