"""A run whose `tensors.pt` was replaced by a pickle, with a manifest forged to match, runs no
code; it is named, set aside and computed again, and torch's advice to load it with
`weights_only=False` is never passed on (issue 23)."""

from __future__ import annotations

import builtins
import hashlib
import json
import pickle
from dataclasses import dataclass

import pandas as pd
import pytest
import torch

from initlab import store


@dataclass(frozen=True)
class Plain:
    width: int = 3


calls: list = []


def compute(settings: Plain, runtime=None) -> dict:
    calls.append(settings)
    return {"metrics": pd.DataFrame({"value": [1.0, 2.0]}),
            "weights": torch.arange(settings.width, dtype=torch.float32)}


class Payload:
    """Unpickling this runs code: it would write `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').write('ran')",)


def _forge(folder, marker, kind: str) -> None:
    """Replace tensors.pt by a pickle (plain, or inside torch's zip) and reseal the manifest."""
    path = folder / "tensors.pt"
    if kind == "pickle":
        path.write_bytes(pickle.dumps({"weights": Payload(marker)}))
    else:
        torch.save({"weights": Payload(marker)}, path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tensors.pt"] = {"size": path.stat().st_size,
                              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_a_forged_tensors_file_is_named_set_aside_and_redone(tmp_path, capsys, kind):
    root, marker = tmp_path / "store", tmp_path / "code-ran"
    store.run("toy", Plain(), compute, root=root)
    folder = store.run_dir("toy", Plain(), root)
    _forge(folder, marker, kind)
    assert store.is_done("toy", Plain(), root)  # its checksums match: only loading tells

    with pytest.raises(store.MissingRunError) as error:  # render only: names it, runs nothing
        store.run_many("toy", [Plain()], compute, train=False, root=root)
    message = str(error.value)
    assert str(folder) in message and "tensors.pt that does not load as tensors" in message
    assert "weights_only" not in message and "\n" not in message

    calls.clear()
    capsys.readouterr()
    result = store.run_many("toy", [Plain()], compute, root=root)[0]
    assert len(calls) == 1 and torch.equal(result["weights"], torch.arange(3.0))
    err = capsys.readouterr().err
    assert f"store: run {folder} has a tensors.pt that does not load" in err
    assert "moved it to" in err and "weights_only" not in err
    kept = list((root / "toy" / ".set-aside").iterdir())
    assert len(kept) == 1 and (kept[0] / "tensors.pt").read_bytes()[:2] in (b"\x80\x04", b"PK")
    assert not marker.exists(), "the forged pickle ran code"
    assert store.run("toy", Plain(), compute, root=root)["metrics"].value.tolist() == [1.0, 2.0]
    assert len(calls) == 1
