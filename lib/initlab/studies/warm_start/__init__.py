"""Study 01: warm start from similar filters (docs/01_warm_start.md).

Modules: settings, design (which runs), runs (one run), results, figures."""
