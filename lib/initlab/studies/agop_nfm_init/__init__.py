"""Study 03: NFM and AGOP initialization of VGG11 (docs/03_agop_nfm_init.md).

Modules: settings, design (which runs), sources, runs, signal, results, figures, work."""
