"""Benchmarks of Switchboard, run with `make bench`; results in bench/results/."""
