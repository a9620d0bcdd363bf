"""`initlab verify`: a finished run's tables against shipped reference tables, number by number.

Two runs of the same code and settings on a CPU give the same numbers; another machine, BLAS or
torch build moves them a little, and that is still a reproduction as long as the move is far
inside the spread the study itself shows between seeds. So each number of a table gets the
tolerance of its own spread:

- a row with an `sd` column (the between-seed or between-task sd of that row's mean): its
  value columns (mean, interval bounds, differences, min/max) may move by `SPREADS` x sd;
- a table with a `seed` column and no `sd`: each number may move by `SPREADS` x the sd of
  that column over the seeds of the same row in the reference;
- otherwise no spread is known and the number must be equal up to float rounding.

`sd` and p-value columns are functions of the compared numbers and are not compared
themselves; text and integer columns (names, counts, seeds) identify a row and must match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SPREADS = 2.0  # a number further than this many sds from the reference is "different"
ROUNDING = 1e-6  # relative difference still called equal (CSV round trip, summation order)
NOT_COMPARED = ("sd", "std")


@dataclass
class TableCheck:
    """One table's outcome: how many numbers are equal, within tolerance or different."""

    table: str
    equal: int = 0
    within: int = 0
    different: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.different


def _compared(column: str) -> bool:
    name = column.lower()
    return not (name in NOT_COMPARED or name == "p" or name.startswith("p_")
                or name.endswith("_p") or name.endswith("_sd"))


def _keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])]


def _seed_spread(reference: pd.DataFrame, keys: list[str]) -> pd.DataFrame | None:
    """Per row of `reference`, each float column's sd over the seeds of the same other keys."""
    if "seed" not in keys:
        return None
    others = [k for k in keys if k != "seed"]
    floats = [c for c in reference.columns if c not in keys]
    if not others:
        return pd.DataFrame({c: [reference[c].std()] * len(reference) for c in floats},
                            index=reference.index)
    return reference.groupby(others, dropna=False)[floats].transform("std")


def compare_table(name: str, ours: pd.DataFrame, reference: pd.DataFrame) -> TableCheck:
    """Every float of `reference` against the same row and column of `ours` (see module doc)."""
    check = TableCheck(name)
    keys = _keys(reference)
    spread = _seed_spread(reference, keys)
    ours_by_key = _rows_by_key(ours, keys) if set(keys) <= set(ours.columns) else {}
    # keys from itertuples, not from `row`: iterrows upcasts a row's ints to float (0 -> 0.0)
    key_rows = list(reference[keys].itertuples(index=False))
    seen: dict[tuple, int] = {}
    for (index, row), key in zip(reference.iterrows(), key_rows):
        key = tuple(map(str, key))
        nth = seen[key] = seen.get(key, -1) + 1  # rows sharing their text keys match in order
        found = ours_by_key.get(key, [])
        where = found[nth] if nth < len(found) else None
        label = (", ".join(f"{k}={v}" for k, v in zip(keys, key)) or f"row {index}") + (
            f" (row {nth + 1} of these)" if nth else "")
        if where is None:
            check.different.append(f"{name}: row {label} is missing")
            continue
        for column in reference.columns:
            if column in keys or not _compared(column):
                continue
            tolerance = _tolerance(row, column, spread, index)
            mine = float(ours.at[where, column]) if column in ours else math.nan
            outcome = _compare(mine, float(row[column]), tolerance)
            if outcome == "equal":
                check.equal += 1
            elif outcome == "within":
                check.within += 1
            else:
                check.different.append(
                    f"{name}: {column} at {label} is {mine:g}"
                    f" (reference {float(row[column]):g}, tolerance {tolerance:.3g})")
    return check


def _rows_by_key(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, list]:
    """Each text key of `frame` -> its rows' indices in order (a key may recur when a float
    column, a tolerance or a threshold, tells the rows apart)."""
    rows: dict[tuple, list] = {}
    for index, key in zip(frame.index, frame[keys].itertuples(index=False)):
        rows.setdefault(tuple(map(str, key)), []).append(index)
    return rows


def _tolerance(row: pd.Series, column: str, spread: pd.DataFrame | None, index) -> float:
    if "sd" in row.index and pd.notna(row["sd"]):
        return SPREADS * float(row["sd"])
    if spread is not None and column in spread and pd.notna(spread.at[index, column]):
        return SPREADS * float(spread.at[index, column])
    return 0.0


def _compare(ours: float, reference: float, tolerance: float) -> str:
    if pd.isna(ours) and pd.isna(reference):
        return "equal"
    if pd.isna(ours) or pd.isna(reference):
        return "different"
    gap = abs(float(ours) - float(reference))
    if gap <= ROUNDING * max(1.0, abs(float(reference))):
        return "equal"
    return "within" if gap <= tolerance else "different"


def compare_study(ours: Path, reference: Path) -> list[TableCheck]:
    """Every CSV table of the reference study folder against the same file in `ours`."""
    checks = []
    for path in sorted(reference.glob("*.csv")):
        mine = ours / path.name
        if not mine.exists():
            checks.append(TableCheck(path.stem, different=[f"{path.stem}: table not in {ours}"]))
            continue
        checks.append(compare_table(path.stem, pd.read_csv(mine), pd.read_csv(path)))
    return checks


def summary(study: str, checks: list[TableCheck]) -> str:
    """One line per study: tables, and numbers equal / within tolerance / different."""
    equal = sum(c.equal for c in checks)
    within = sum(c.within for c in checks)
    different = sum(len(c.different) for c in checks)
    verdict = "reproduced" if not different else "DIFFERENT"
    return (f"{verdict} {study}: {len(checks)} tables, {equal} numbers equal, {within} within "
            f"the seed spread, {different} different")


def reference_root() -> Path:
    """The shipped reference results: `figures/reference/` of the checkout (committed, never
    written by a run, whatever `INITLAB_FIGURES` says)."""
    from initlab import paths

    return paths.project_root() / "figures" / "reference"


def study_folders(profile: str, reference: Path) -> list[tuple[str, str]]:
    """(output folder, study) pairs the reference holds for `profile`: `quick/03_x`, and
    variants such as `quick+dataset=fashion_mnist/01_x` for data sets swapped in."""
    found = []
    for folder in sorted(reference.glob(f"{profile}*/*/")):
        output = folder.parent.name
        if (output == profile or output.startswith(f"{profile}+")) and any(folder.glob("*.csv")):
            found.append((output, folder.name))
    return sorted(found, key=lambda pair: (pair[1], pair[0]))  # in study order


def verify(profile: str, figures: Path, reference: Path) -> list[tuple[str, list[TableCheck]]]:
    """Each reference study folder of `profile` against the same folder under `figures`."""
    return [(f"{study} ({output})", compare_study(figures / output / study,
                                                  reference / output / study))
            for output, study in study_folders(profile, reference)]


def report(profile: str, figures: Path, reference: str = "") -> tuple[list[str], bool]:
    """`initlab verify`'s lines (a summary per study, then up to 20 numbers outside their
    tolerance) and whether every number reproduced."""
    root = Path(reference) if reference else reference_root()
    results = verify(profile, figures, root)
    if not results:
        raise ValueError(f"no reference results for profile {profile!r} in {root}")
    lines = []
    for study, checks in results:
        lines.append(summary(study, checks))
        lines += [f"   {line}" for line in [d for c in checks for d in c.different][:20]]
    return lines, all(c.ok for _, checks in results for c in checks)
