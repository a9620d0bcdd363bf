"""The five studies, one package each, all of one shape: settings, runs, results, figures."""
