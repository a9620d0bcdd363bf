"""Training: the recipe (what to train with), the runtime (where and how), `fit` and `fit_many`
over one shared epoch/checkpoint/resume loop, and progress reporting."""
