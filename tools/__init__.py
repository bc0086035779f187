"""Benchmark and soak commands: real processes on loopback, figures printed as tables."""
