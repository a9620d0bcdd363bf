"""Study 05, parameter dynamics (docs/05_parameter_dynamics.md): `settings` (the grid and its
profiles), `design` (the grid's cells and the checkpoints they load, torch-free), `sources`
(data, models, pretrained checkpoints), `runs` (one grid cell), `results`
(measures from the stored runs), `scores` (statistics, the comparison page's scores and the
notebook's generated text), `reported` (the original's numbers) and `figures` (the plots)."""
