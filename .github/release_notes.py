"""Print one version's section of CHANGELOG.md (Keep a Changelog): the GitHub release's notes.

    python .github/release_notes.py 0.1.0 > notes.md

Exit 1, saying so, when the changelog has no section for that version: a release is not cut
without its notes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def section(changelog: str, version: str) -> str | None:
    match = re.search(rf"^## \[{re.escape(version)}\][^\n]*\n(.*?)(?=^## \[|^\[[^\]]+\]: |\Z)", changelog, re.S | re.M)
    return match.group(1).strip() if match else None


def main() -> int:
    version = sys.argv[1].removeprefix("v")
    notes = section((Path(__file__).resolve().parent.parent / "CHANGELOG.md").read_text(encoding="utf-8"), version)
    if not notes:
        print(f"CHANGELOG.md has no section for {version}", file=sys.stderr)
        return 1
    print(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
