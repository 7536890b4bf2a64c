"""`python -m offline preview [--stack dev] [--json FILE]` — see offline/preview.py."""

from __future__ import annotations

import sys

from offline.preview import main

USAGE = "usage: python -m offline preview [--stack STACK] [--stack-config-dir DIR] [--json FILE]"

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "preview":
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
