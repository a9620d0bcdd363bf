"""`initlab reference`: a finished profile's results copied into `figures/reference/`, the
committed folder that `initlab verify` compares a user's run with and that the README links.

What is copied from each study folder of `figures/<profile>*/` whose run ended well: its
tables (CSV and Markdown), figures (PNG, scaled down to at most `MAX_WIDTH` pixels wide, so
the repository stays small) and the profile's report and compare pages (links to what is not
shipped, executed notebooks, logs and PDFs, become plain text). What is recorded beside them
(`ABOUT.md`): when and from which commit they were made, the torch build, the machine, and
each study's wall time, so a reader knows what the numbers came from and how long they took.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path

MAX_WIDTH = 1000  # pixels: a figure in the shipped folder
KEPT = ("*.csv", "*.md")


def finished_outputs(profile: str, figures: Path) -> list[Path]:
    """The output folders of `profile` (`quick`, `quick+dataset=...`) under `figures`."""
    return sorted(p for p in figures.glob(f"{profile}*") if p.is_dir()
                  and (p.name == profile or p.name.startswith(f"{profile}+")))


def study_folders(output: Path) -> list[Path]:
    """The study folders of one output whose notebook ran to the end (`run.json` ok)."""
    found = []
    for folder in sorted(output.iterdir()):
        record = folder / "run.json"
        if folder.is_dir() and record.exists() and json.loads(record.read_text()).get(
                "status") == "ok":
            found.append(folder)
    return found


def copy_study(source: Path, target: Path) -> int:
    """The study's tables and scaled-down figures into `target` (replaced); files copied."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    count = 0
    for pattern in KEPT:
        for path in sorted(source.glob(pattern)):
            shutil.copy2(path, target / path.name)
            count += 1
    for path in sorted(source.glob("*.png")):
        _small_png(path, target / path.name)
        count += 1
    return count


def _copy_page(output: Path, target: Path) -> None:
    """The profile's report page and compare page, with links to what is not shipped (executed
    notebooks, logs, PDFs) turned into plain text, and a lone `[PDF](...)` line dropped."""
    for path in sorted(output.glob("*.csv")):
        shutil.copy2(path, target / path.name)
    for path in sorted(output.glob("*.png")):
        _small_png(path, target / path.name)
    for path in sorted(output.glob("*.md")):
        lines = [_unlink_missing(line, target) for line in path.read_text().splitlines()]
        (target / path.name).write_text("\n".join(line for line in lines if line.strip() != "PDF")
                                        + "\n")


def _unlink_missing(line: str, folder: Path) -> str:
    """`[text](target)` kept where `folder/target` exists, else just `text`."""
    def keep(match: re.Match) -> str:
        text, where = match.group(1), match.group(2)
        if "://" in where or (folder / where.split("#")[0]).exists():
            return match.group(0)
        return text

    return _LINK.sub(keep, line)


_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)")


def _small_png(source: Path, target: Path) -> None:
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > MAX_WIDTH:
            height = round(image.height * MAX_WIDTH / image.width)
            image = image.resize((MAX_WIDTH, height), Image.LANCZOS)
        # 256 colours: a chart's lines and a heatmap's colour map survive; 2-3x fewer bytes
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                               dither=Image.Dither.NONE)
        image.save(target, optimize=True)


def provenance(profile: str, studies: list[Path]) -> list[str]:
    """ABOUT.md's lines: date, commit, torch, machine, and each study's wall time."""
    import torch

    from initlab import paths

    root = paths.project_root()
    commit = _git(root, "rev-parse", "HEAD") or "unknown"
    changed = [line[3:] for line in _git(root, "status", "--porcelain",
                                         "--untracked-files=no").splitlines()]
    dirty = f" (uncommitted changes: {', '.join(changed[:5])}{', ...' * (len(changed) > 5)})" \
        if changed else ""
    lines = [f"# Shipped `{profile}` results", "",
             f"- made: {time.strftime('%Y-%m-%d %H:%M %Z')}, by `initlab reference --profile "
             f"{profile}` from the finished runs" + (" (`make reference-quick`: the quick runs "
                                                     "of every study, then this)"
                                                     if profile == "quick" else ""),
             f"- commit: `{commit}`{dirty}",
             f"- torch: {torch.__version__}; {_how(studies)}",
             f"- machine: {_cpu()}, {os.cpu_count()} cores, {_memory()}, "
             f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
             "", "| output | study | wall time | finished |", "| --- | --- | --- | --- |"]
    total = 0.0
    for folder in studies:
        record = json.loads((folder / "run.json").read_text())
        total += record.get("seconds", 0.0)
        lines.append(f"| {folder.parent.name} | {folder.name} | "
                     f"{record.get('seconds', 0) / 60:.1f} min | {record.get('finished', '')} |")
    lines += [f"| all | | {total / 60:.1f} min | |", ""]
    return lines


def ship(profile: str, figures: Path, reference: Path) -> list[str]:
    """Copy every finished study of `profile` into `reference`; return what was done."""
    outputs = finished_outputs(profile, figures)
    studies = sorted((s for output in outputs for s in study_folders(output)),
                     key=lambda folder: folder.name)
    if not studies:
        raise ValueError(f"no finished {profile} study in {figures}: run `initlab run "
                         f"--profile {profile}` first")
    lines = []
    for output in outputs:
        target_output = reference / output.name
        for folder in study_folders(output):
            count = copy_study(folder, target_output / folder.name)
            lines.append(f"{folder.parent.name}/{folder.name}: {count} files")
        _copy_page(output, target_output)
    about = reference / f"ABOUT-{profile}.md"
    about.write_text("\n".join(provenance(profile, studies)))
    lines.append(f"wrote {about}")
    return lines


def _how(studies: list[Path]) -> str:
    """Threads per run and runs at once, from the studies' run records (the CLI's values)."""
    from initlab import machine

    records = [json.loads((folder / "run.json").read_text()) for folder in studies]
    threads = {r.get("threads") or 1 for r in records}
    jobs = {(r.get("cluster") or {}).get("jobs") or machine.cores() for r in records}
    return (f"{'/'.join(map(str, sorted(threads)))} CPU thread(s) per run, "
            f"{'/'.join(map(str, sorted(jobs)))} runs at once on {_device(records)}")


def _device(records: list[dict]) -> str:
    """The device the runs asked for; "auto" on a machine without a GPU is its CPU."""
    from initlab.training.runtime import pick_device

    asked = sorted({r.get("device", "auto") for r in records})
    return "/".join(pick_device(d).type if d == "auto" else d for d in asked)


def _git(root: Path, *args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return f"{pages * size / 2**30:.0f} GiB memory"
    except (ValueError, OSError, AttributeError):
        return "memory unknown"
