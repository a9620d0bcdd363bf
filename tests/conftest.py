"""Every test writes to a temporary store and figures folder, never the user's data/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("INITLAB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("INITLAB_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("INITLAB_PROGRESS", "off")
    return tmp_path
