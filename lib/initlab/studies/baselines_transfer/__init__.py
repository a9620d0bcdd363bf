"""Study 04: CNN baselines and transfer learning (docs/04_baselines_transfer.md).

Modules: settings, runs, transfer, results, figures."""
