"""Measures of what networks learned: filter similarity, matching (alignment) across networks,
AGOP/NFM and the ansatz, parameter dynamics, and feature probes."""
