"""Look at what people look at: render Mermaid with the mermaid library itself in Debian's headless
chromium (both installed by ``make test``), and read back the SVG it drew."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MERMAID_JS = Path(os.environ.get("MLMETA_MERMAID_JS")
                  or REPO / ".mlmeta-work" / "tools" / "mermaid-11.17.2" / "package" / "dist" / "mermaid.min.js")
RENDER_BUDGET_MS = 20000


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)"
    assert MERMAID_JS.is_file(), f"{MERMAID_JS} is missing: `make test` fetches it (npm pack mermaid)"
    return found


@dataclass
class Rendered:
    title: str  # "rendered", or "error: <mermaid's message>"
    dom: str

    @property
    def nodes(self) -> dict[str, str]:
        """Node id (as in the source) -> its label's text."""
        found = {}
        for match in re.finditer(r'<g class="node ([^"]*)" id="[^"]*?flowchart-(.+?)-\d+"[^>]*>(.*?)</g>\s*</g>',
                                 self.dom, re.S):
            found[match.group(2)] = html.unescape(re.sub(r"<[^>]+>", "", match.group(3))).strip()
        return found

    def node_classes(self, node: str) -> set[str]:
        match = re.search(rf'<g class="node ([^"]*)" id="[^"]*?flowchart-{re.escape(node)}-\d+"', self.dom)
        return set(match.group(1).split()) if match else set()

    @property
    def edges(self) -> set[tuple[str, str]]:
        return {(m.group(1), m.group(2)) for m in re.finditer(r'id="(?:[\w-]*-)?L_(\w+?)_(\w+?)_\d+"', self.dom)}

    @property
    def clusters(self) -> dict[str, str]:
        """Subgraph id -> its title's text."""
        found = {}
        for match in re.finditer(r'<g class="cluster[^"]*" id="(?:mermaid-\d+-)?([^"]+)"[^>]*>(.*?)</g>\s*</g>',
                                 self.dom, re.S):
            label = re.search(r'class="cluster-label"[^>]*>(.*)', match.group(2), re.S)
            found[match.group(1)] = html.unescape(re.sub(r"<[^>]+>", "", label.group(1) if label else "")).strip()
        return found


def _page(source: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><script src="{MERMAID_JS.as_uri()}"></script></head>'
            f'<body><pre class="mermaid">{html.escape(source)}</pre><script>'
            "mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});"
            "mermaid.run().then(() => { document.title = 'rendered'; })"
            ".catch(e => { document.title = 'error: ' + e.message; });</script></body></html>")


def render(source: str, screenshot: Path | None = None) -> Rendered:
    """The DOM after mermaid drew ``source`` (and, given a path, a PNG screenshot of it)."""
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="mlmeta-render-") as folder:
        page = Path(folder) / "page.html"
        page.write_text(_page(source), encoding="utf-8")
        flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                 f"--virtual-time-budget={RENDER_BUDGET_MS}", f"--user-data-dir={folder}/profile"]
        done = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        if screenshot is not None:
            subprocess.run([*flags, "--hide-scrollbars", "--window-size=1600,1000", f"--screenshot={screenshot}",
                            page.as_uri()], capture_output=True, timeout=120, check=True)
    title = re.search(r"<title>(.*?)</title>", done.stdout, re.S)
    return Rendered(html.unescape(title.group(1)) if title else f"no page (chromium: {done.stderr[-300:]})",
                    done.stdout)
