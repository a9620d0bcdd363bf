"""A small store run with fit_many then fit (dropout, so the global RNG matters).

Run as a script by tests/test_resume.py, which kills it mid-training and starts it again.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.utils import parameters_to_vector

from initlab import data, store
from initlab.models import build_model
from initlab.training.fit import fit
from initlab.training.fit_many import fit_many
from initlab.training.recipe import Recipe
from initlab.training.runtime import Runtime


@dataclass(frozen=True)
class Job:
    epochs: int = 8


def work(settings: Job, runtime: Runtime) -> dict:
    train, test = data.load("digits", "train"), data.load("digits", "test")
    torch.manual_seed(0)
    pair = [build_model("tiny_cnn", 10) for _ in range(2)]
    fit_many(pair, train.chunks(2, 600, seed=0), recipe=Recipe(epochs=3), runtime=runtime,
             seeds=[1, 2], name="pair")
    torch.manual_seed(1)
    model = build_model("simple_cnn", 10, width=0.25)
    history = fit(model, train, test, recipe=Recipe(epochs=settings.epochs), runtime=runtime,
                  seed=3, name="single")
    return {"history": history.frame,
            "single": parameters_to_vector(model.parameters()).detach(),
            "pair": parameters_to_vector(pair[1].parameters()).detach()}


if __name__ == "__main__":
    torch.set_num_threads(1)
    store.run("job", Job(), work, runtime=Runtime("cpu", progress="off"),
              root=Path(sys.argv[1]))
