"""The exit codes of ``python -m client`` (every command)."""

from typing import Final

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1  # API or network error; for ingest also a job that failed, stopped or lost documents
EXIT_USAGE: Final = 2  # bad option or missing setup (no URL or stack output, no credentials, no region)
EXIT_STILL_RUNNING: Final = 3  # ingest: the wait ended (--wait-timeout) while the job still runs
EXIT_INTERRUPTED: Final = 130  # Ctrl-C
