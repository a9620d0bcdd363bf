"""Study 02: clustered filter initialization of ResNet-18 (docs/02_clustered_init.md).

`settings` holds the settings and their profiles; `specs` what names one stored run (a source
model or a target run) and its training recipe; `design` which runs the settings ask for;
`runs` what one run computes and `run_all`, the notebook's entry point; `results` the tables;
`figures` the plots; `tasks` the superclass-pair tasks.
"""
