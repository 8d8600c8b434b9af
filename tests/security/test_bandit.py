"""bandit, the security linter, over the package: no finding left, and each one silenced in place
(``# nosec Bnnn``) says why on the line above, naming the same check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mlmeta"
NOSEC = re.compile(r"#\s*nosec\b(.*)$")


def test_bandit_finds_nothing_left_in_the_package():
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", str(PACKAGE), "-f", "json"],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert not findings, "\n".join(findings)


def test_every_silenced_finding_names_its_check_and_says_why():
    unjustified = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            found = NOSEC.search(line)
            if not found:
                continue
            checks = re.findall(r"B\d{3}", found.group(1))
            above = lines[number - 2].strip() if number > 1 else ""
            if not checks or not above.startswith("#") or not all(f"({c})" in above for c in checks):
                unjustified.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not unjustified, "\n".join(unjustified)
