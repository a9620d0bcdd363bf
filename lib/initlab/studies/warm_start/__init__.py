"""Study 01: warm start from similar filters (docs/01_warm_start.md).

Modules: settings, runs, results, figures."""
