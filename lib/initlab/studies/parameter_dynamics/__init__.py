"""Study 05, parameter dynamics (docs/05_parameter_dynamics.md): `settings` (the grid and its
profiles), `sources` (data, models, pretrained checkpoints), `runs` (one grid cell), `results`
(tables from the stored runs) and `figures` (the notebook's plots)."""
