"""`python -m bench` (or `make bench`): the project's benchmarks, printed as one table.

Plain timed scripts, not pytest-benchmark: every measurement runs in a fresh interpreter started by
`bench.__main__` (the orchestrator stays light), is repeated, and is reported as its median and its
spread (min-max over the runs) next to its target. See docs/benchmarks.md for what each row means.
"""
