"""Runs with different full settings have different names, so checkouts whose defaults differ
can share one store (issue 23): neither sets the other's runs aside, also when both compute at
the same moment."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import pandas as pd

from initlab import store


def _checkout(perturb: float) -> type:
    """The settings class as a checkout whose default `perturb` is `perturb` defines it."""
    return dataclasses.make_dataclass(
        "Shared", [("width", int, dataclasses.field(default=4)),
                   ("perturb", float, dataclasses.field(default=perturb))], frozen=True)


def test_settings_differing_only_in_a_default_have_their_own_runs(tmp_path, capsys):
    ours, theirs = _checkout(0.1), _checkout(0.2)
    assert store.hashed_settings(ours()) == store.hashed_settings(theirs()) == {}
    assert store.run_name(ours()) != store.run_name(theirs())
    calls = []

    def compute(settings, runtime=None):
        calls.append(settings.perturb)
        return {"values": pd.DataFrame({"perturb": [settings.perturb]})}

    for cls in (ours, theirs, ours, theirs):  # one checkout after the other, twice
        result = store.run("toy", cls(), compute, root=tmp_path)
        assert result["values"].perturb.tolist() == [cls().perturb]
    assert calls == [0.1, 0.2]
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == sorted(
        store.run_name(c()) for c in (ours, theirs))
    assert "moved it to" not in capsys.readouterr().err


CHECKOUT = '''
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from initlab import store


@dataclass(frozen=True)
class Shared:
    width: int = 4
    perturb: float = {perturb}


def compute(settings, runtime=None):
    """Say this checkout is computing, then wait until the other one is too: both at once."""
    meeting = Path(sys.argv[2])
    (meeting / "started-{perturb}").write_text("")
    deadline = time.monotonic() + 90
    while not (meeting / "started-{other}").exists():
        if time.monotonic() > deadline:
            sys.exit("the other checkout never started computing its run")
        time.sleep(0.02)
    return {{"values": pd.DataFrame({{"perturb": [settings.perturb]}})}}


if __name__ == "__main__":
    result = store.run("toy", Shared(), compute, root=Path(sys.argv[1]))
    print(result["values"].perturb.iloc[0])
'''


def test_two_checkouts_computing_at_once_both_store_their_runs(tmp_path):
    root, meeting = tmp_path / "store", tmp_path / "meeting"
    meeting.mkdir()
    scripts = []
    for perturb, other in ((0.1, 0.2), (0.2, 0.1)):
        script = tmp_path / f"checkout_{perturb}.py"
        script.write_text(textwrap.dedent(CHECKOUT.format(perturb=perturb, other=other)))
        scripts.append(script)
    jobs = [subprocess.Popen([sys.executable, str(s), str(root), str(meeting)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ)) for s in scripts]
    outputs = [job.communicate(timeout=300) for job in jobs]
    for job, (_, err) in zip(jobs, outputs):
        assert job.returncode == 0, err[-2000:]
    assert [out.strip() for out, _ in outputs] == ["0.1", "0.2"]
    stored = sorted(p.name for p in (root / "toy").iterdir())
    assert len(stored) == 2 and not any(name.startswith(".") for name in stored), stored
    for perturb in (0.1, 0.2):  # each checkout finds its own run again, the other's untouched
        cls = _checkout(perturb)
        assert store.is_done("toy", cls(), root)
        result = store.run("toy", cls(), lambda s, r: 1 / 0, root=root)
        assert result["values"].perturb.tolist() == [perturb]
    assert not (root / "toy" / ".set-aside").exists()
