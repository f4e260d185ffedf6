"""Load benchmarks of the broker: `python -m bench.run` (or `make bench`)."""
