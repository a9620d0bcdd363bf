"""`figures/<profile>/README.md`: one page a reader opens to see every study that has run.

Built only from what the runs wrote (each study folder's tables, figures, executed notebook and
`run.json`), so it can be rebuilt at any time without a kernel or a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

from initlab import paths, profiles

FIRST_TABLES = ("reported_vs_ours",)  # shown first: what a reader looks for
INLINE_ROWS = 30  # a longer table is linked, not inlined: the page stays a page to read


def _settings_table(study: str, profile: str, overrides: dict) -> str:
    try:
        values = vars(profiles.load(study, profile, **overrides))
    except (ValueError, TypeError) as error:
        return f"_settings could not be rebuilt: {error}_\n"
    rows = [f"| `{k}` | {v} |" for k, v in values.items()]
    return "\n".join(["| setting | value |", "| --- | --- |", *rows]) + "\n"


def _record(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else {}


def _table_body(table: Path, study: str) -> list[str]:
    """A short table inlined with a link to its CSV; a long one (more than `INLINE_ROWS` rows:
    study 05's histograms run to thousands) only linked, with its row count. The tables a
    reader looks for first (`FIRST_TABLES`) are inlined whatever their length."""
    text = table.read_text().strip()
    rows = _table_rows(text)
    csv = f"[CSV]({study}/{table.stem}.csv)"
    if rows <= INLINE_ROWS or table.stem in FIRST_TABLES:
        return [text, "", csv]
    return [f"{rows} rows, too many to show here: [Markdown]({study}/{table.name}) · {csv}"]


def _table_rows(text: str) -> int:
    """The body rows of the first Markdown table in `text` (header and rule not counted)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return max(0, len(lines) - 2)


def _study_section(folder: Path, profile: str) -> list[str]:
    study = folder.name
    meta = _record(folder)
    status = meta.get("status", "unknown")
    lines = [f"## {study}", ""]
    lines.append(f"Status: **{status}**"
                 + (f" ({meta['error']})" if meta.get("error") else "")
                 + (f", {meta['seconds']:.0f} s" if "seconds" in meta else "")
                 + (f", finished {meta['finished']}" if "finished" in meta else "")
                 + f". Executed notebook: [{study}.ipynb]({study}/{study}.ipynb)"
                 + (f", its log: [{study}.log]({study}/{study}.log)"
                    if (folder / f"{study}.log").exists() else ""))
    failed = _record(folder.with_name(f"{study}.failed"))
    if failed and failed.get("finished", "") >= meta.get("finished", ""):
        lines += ["", f"The last attempt failed ({failed['finished']}: {failed.get('error')}); "
                  f"these outputs are from the run before it. Partial notebook: "
                  f"[{study}.failed/{study}.ipynb]({study}.failed/{study}.ipynb)"]
    lines += ["", "<details><summary>Settings</summary>", "",
              _settings_table(study, meta.get("profile", profile), meta.get("overrides", {})),
              "</details>", ""]
    tables = sorted(folder.glob("*.md"), key=lambda p: (p.stem not in FIRST_TABLES, p.stem))
    for table in tables:
        lines += [f"### {table.stem.replace('_', ' ')}", "", *_table_body(table, study), ""]
    for figure in sorted(folder.glob("*.png")):
        title = figure.stem.replace("_", " ")
        lines += [f"### {title}", "", f"![{figure.stem}]({study}/{figure.name})",
                  f"[PDF]({study}/{figure.stem}.pdf)", ""]
    return lines


def _compare_link(base: Path, output: str) -> list[str]:
    """A link to compare.md (every init across the studies; `initlab compare`), and a warning
    when a study wrote its init scores after the page was built."""
    if not (base / "compare.md").exists():
        return []
    newer = newer_scores(base)
    line = "Every initializer across these studies, paired against Kaiming normal: " \
           "[compare.md](compare.md)."
    if newer:
        line += (f" It is older than the init scores of {', '.join(sorted(newer))}: "
                 f"`initlab compare --profile {output.split('+', 1)[0]}`"
                 f"{' (with the same -p values)' if '+' in output else ''} rebuilds it.")
    return [line, ""]


def newer_scores(base: Path) -> list[str]:
    """The studies whose `init_scores.csv` is newer than `compare.md` (every study that has
    one, when there is no page)."""
    page = base / "compare.md"
    made = page.stat().st_mtime if page.exists() else float("-inf")
    return sorted(p.parent.name for p in base.glob("*/init_scores.csv")
                  if p.stat().st_mtime > made)


def write_pages(output: str, executed: bool) -> None:
    """What `initlab run/render` rebuilds at the end: this page always; the compare page when
    a notebook was executed or some study's init scores are newer than it (so a render where
    every study was up to date skips compare's plotting)."""
    if executed or newer_scores(paths.figures_dir(output)):
        from initlab import compare

        if compare.has_scores(output):  # keep the page this one links in step with the runs
            print(f"compare: {compare.write(output)}", flush=True)
    print(f"report: {write(output)}", flush=True)


def write(output: str = "smoke") -> Path:
    """Write the index page of an output folder (a profile, or a variant with overrides named
    by `paths.output_name`) and return its path."""
    profile = output.split("+", 1)[0]
    if profile not in profiles.PROFILES:
        choices = ", ".join(profiles.PROFILES)
        raise ValueError(f"unknown profile {profile!r}; choose one of {choices}")
    base = paths.figures_dir(output)
    studies = sorted(p for p in base.iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").exists())
    lines = [f"# initlab results: `{output}`", "", *_compare_link(base, output)]
    if not studies:
        lines.append(f"No study has run with this profile yet: `initlab run --profile {profile}`.")
    else:
        lines.append("Studies: " + ", ".join(f"[{s.name}](#{s.name})" for s in studies) + ".")
        lines.append("")
        for folder in studies:
            lines += _study_section(folder, profile)
    page = base / "README.md"
    page.write_text("\n".join(lines) + "\n")
    return page
