"""The pip cache of the interpreter running the tests, lent to the virtualenvs tests create."""

from __future__ import annotations

import subprocess
import sys


def outer_pip_cache() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True).stdout.strip()
