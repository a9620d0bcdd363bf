"""Study 02 against the original code: which settings of a run behave as the original's did
(`ClusteredInitSettings.AS_RUN`, docs/02_clustered_init.md "Differences from the original
code"), for the notebook's line and the reported-vs-ours table's `as_run` column.
"""

from __future__ import annotations

import pandas as pd

from initlab.studies.clustered_init.settings import ClusteredInitSettings


def differences(cfg: ClusteredInitSettings) -> pd.DataFrame:
    """Each setting with an original-code value: this run's value, the original's, and
    whether they agree."""
    return pd.DataFrame([dict(setting=name, this_run=getattr(cfg, name), original=value,
                              as_original=getattr(cfg, name) == value)
                         for name, value in ClusteredInitSettings.AS_RUN.items()])


def as_original(cfg: ClusteredInitSettings) -> bool:
    """True when every such setting has the original's value (`as_run=True` with no override
    of them): the runs then differ from the original's only by the bugs no setting brings
    back (carry-over between target tasks, Tiny ImageNet's head)."""
    return bool(differences(cfg).as_original.all())


def differences_text(cfg: ClusteredInitSettings) -> str:
    """One Markdown line: the `as_run` switch and the settings that differ from the original."""
    table = differences(cfg)
    off = [f"`{r.setting}={r.this_run}` (original `{r.original}`)"
           for r in table.itertuples() if not r.as_original]
    return (f"`as_run: {cfg.as_run}`; " + ("every setting as the original code ran." if not off
            else "differing from the original code: " + ", ".join(off) + "."))
