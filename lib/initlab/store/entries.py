"""One stored run on disk: how it is written, checked and, when damaged, set aside.

A run folder holds one CSV per table, `tensors.pt`, `settings.json` (every hashed setting,
defaults included, and the study's protocol version), `manifest.json` (each file's size and
sha256) and a `DONE` marker written last. It is written into a temporary sibling folder and
renamed into place, so a kill leaves no half entry behind. On load the manifest and the
settings are checked: a stored run never stands in for other settings, and a damaged one is
never read silently.

The checks (`stored_settings`, `damage`, `problem`) need JSON and sha256 only; pandas and torch
load where a run's tables and tensors are written or read (`write`, `read`), so counting
stored runs (`names.is_done`) stays light.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

from initlab.tempfiles import is_disk_full, no_space, sha256_of, temp_path
from initlab.training.recipe import effective_precision

Result = dict[str, Any]  # table name -> DataFrame, or tensor name -> Tensor
DONE = "DONE"
MANIFEST = "manifest.json"
SETTINGS = "settings.json"
RUNTIME = "runtime.json"
TENSORS = "tensors.pt"
ASIDE = ".set-aside"  # damaged or outdated entries are moved here, never deleted


def stored_settings(settings) -> dict[str, Any]:
    """What a run folder records of its settings, and what its name hashes: every hashed field
    (defaults included; nested settings dataclasses alike), as JSON values, with the settings
    class's name and protocol version."""
    record = {"type": type(settings).__name__, "protocol": getattr(settings, "PROTOCOL", 1),
              "settings": _plain(settings)}
    return json.loads(json.dumps(record, default=list))


def _plain(value: Any) -> Any:
    """A settings value as JSON-ready data; a dataclass by its hashed fields only."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("hash", True)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def write(folder: Path, settings, result: Result, runtime=None, seconds: float = 0.0) -> None:
    """Write `result` atomically: into a sibling temp folder, then rename into place.

    `runtime.json` records how it ran (device, CPU threads, torch; these can move CPU float
    results in their last digits) and its wall time in this process (less when it resumed
    from a checkpoint); kept for the record, never in a table (tables must not depend on
    the machine's load) and not compared on load."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_files(tmp, settings, result, runtime, seconds)
    except (OSError, RuntimeError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(error):
            raise no_space(folder.parent) from None
        raise
    if folder.exists():  # an unfinished or damaged entry: keep it for inspection
        set_aside(folder, "replaced")
    os.replace(tmp, folder)


def _write_files(tmp: Path, settings, result: Result, runtime, seconds: float) -> None:
    import pandas as pd
    import torch

    tmp.mkdir()
    tensors = {}
    for key, value in result.items():
        if isinstance(value, pd.DataFrame):
            value.to_csv(tmp / f"{key}.csv", index=False)
        elif isinstance(value, torch.Tensor):
            tensors[key] = value.detach().cpu()
        else:
            raise TypeError(f"result {key!r} is a {type(value).__name__}; store DataFrames/tensors")
    if tensors:
        torch.save(tensors, tmp / TENSORS)
    (tmp / SETTINGS).write_text(json.dumps(stored_settings(settings), indent=1))
    ran = dict(device=str(runtime.torch_device) if runtime else "", torch=torch.__version__,
               cpu_threads=torch.get_num_threads(), seconds=round(seconds, 3),
               runtime=dataclasses.asdict(runtime) if runtime else {})
    if runtime and hasattr(settings, "precision"):  # what "auto" became on this device
        ran["precision"] = effective_precision(runtime.torch_device, settings.precision)
    (tmp / RUNTIME).write_text(json.dumps(ran, indent=1))
    files = {p.name: {"size": p.stat().st_size, "sha256": sha256_of(p)}
             for p in sorted(tmp.iterdir())}
    (tmp / MANIFEST).write_text(json.dumps(files, indent=1))
    (tmp / DONE).write_text("")


def damage(folder: Path) -> str | None:
    """What is wrong with the files of a run folder (unfinished, missing, altered), or None."""
    if not (folder / DONE).exists():
        return "is unfinished (no DONE marker)"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        return f"has no readable manifest ({error.__class__.__name__})"
    for name, expected in manifest.items():
        path = folder / name
        if not path.exists():
            return f"lacks {name}"
        if path.stat().st_size != expected["size"] or sha256_of(path) != expected["sha256"]:
            return f"has a damaged {name} (its size or sha256 differs from the manifest)"
    return None


def problem(folder: Path, settings) -> str | None:
    """Why the stored run in `folder` cannot stand for `settings`, or None when it can."""
    if (why := damage(folder)) is not None:
        return why
    try:
        stored = json.loads((folder / SETTINGS).read_text())
    except (OSError, ValueError) as error:
        return f"has no readable settings ({error.__class__.__name__})"
    return _settings_difference(stored, stored_settings(settings))


def _settings_difference(stored: dict, wanted: dict) -> str | None:
    if stored.get("protocol") != wanted["protocol"] or stored.get("type") != wanted["type"]:
        return (f"was computed by protocol {stored.get('type')} v{stored.get('protocol')}, "
                f"not {wanted['type']} v{wanted['protocol']}")
    old, new = stored.get("settings", {}), wanted["settings"]
    differ = [f"{k}: stored {old.get(k)!r}, wanted {new.get(k)!r}"
              for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return f"was computed with other settings ({'; '.join(differ[:3])})" if differ else None


class Unreadable(Exception):
    """A run folder that passed its checks but whose files do not load as tables and tensors:
    altered together with its manifest (a forged `tensors.pt`, say). The message names the
    file and torch's or pandas' error class, never their advice (torch's suggests
    `weights_only=False`, which would run the forged file's code)."""


def read(folder: Path) -> Result:
    """The tables and tensors of a checked run folder (`Unreadable` if they do not load)."""
    import pandas as pd
    import torch

    try:
        result: Result = {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}
    except ValueError as error:  # pandas' parser and decoding errors
        raise Unreadable(f"has a table that does not load ({type(error).__name__})") from None
    if (folder / TENSORS).exists():
        try:
            with warnings.catch_warnings():  # torch's remarks on a foreign pickle's protocol
                warnings.simplefilter("ignore")
                tensors = torch.load(folder / TENSORS, weights_only=True)
        except Exception as error:  # torch reports these in many ways (pickle, zip, EOF)
            tensors = error
        if not isinstance(tensors, dict) or not all(
                isinstance(v, torch.Tensor) for v in tensors.values()):
            what = type(tensors).__name__
            raise Unreadable(f"has a {TENSORS} that does not load as tensors ({what}); it was "
                             "altered together with its manifest") from None
        result.update(tensors)
    return result


def set_aside(folder: Path, why: str) -> Path:
    """Move a run folder into the study's `.set-aside/` (kept, never deleted); return where."""
    target = folder.parent / ASIDE / f"{folder.name}-{why}-{time.strftime('%Y%m%d-%H%M%S')}"
    target.parent.mkdir(parents=True, exist_ok=True)
    while target.exists():
        target = target.with_name(target.name + "x")
    os.replace(folder, target)
    return target
