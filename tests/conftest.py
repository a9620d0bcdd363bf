"""Every test writes to a temporary store and figures folder, never the user's data/."""

from __future__ import annotations

import pytest

from slurm import slurm_cluster  # noqa: F401  (the real one-node SLURM cluster fixture)


@pytest.fixture(scope="session")
def shared_outputs(tmp_path_factory) -> dict[str, str]:
    """A store and figures folder shared by the notebook tests of one session: the papermill
    smoke runs train into it, and the JupyterLab test then finds those runs finished."""
    base = tmp_path_factory.mktemp("shared")
    return {"INITLAB_STORE": str(base / "store"), "INITLAB_FIGURES": str(base / "figures")}


@pytest.fixture(autouse=True)
def isolated_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("INITLAB_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("INITLAB_FIGURES", str(tmp_path / "figures"))
    return tmp_path
