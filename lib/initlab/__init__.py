"""initlab: how convolutional networks are initialized from what other networks learned.

A map of the package: docs/ARCHITECTURE.md."""
