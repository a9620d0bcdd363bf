"""Study 04: CNN baselines and transfer learning (docs/04_baselines_transfer.md).

Modules: settings, design (which runs), variants (how they train), runs, transfer, results,
figures, work."""
