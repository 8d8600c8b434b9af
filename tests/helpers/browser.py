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

from tests.helpers.files import REPO

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


class Page:
    """One tab of a headless chromium, driven over the DevTools protocol: navigate, wait for what
    the page's scripts draw, read it, and collect what the page logs as errors."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.errors: list[str] = []  # console errors, uncaught exceptions, failed loads
        self._id = 0
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params):
        import json

        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(f"{params['entry'].get('text')} ({params['entry'].get('url', '')})")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 20.0):
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout:.0f} s for: {expression}")

    def screenshot(self, path: Path) -> None:
        import base64

        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


class Browser:
    """A headless chromium with its DevTools port on 127.0.0.1, stopped with everything it started."""

    def __enter__(self) -> Browser:
        import tempfile

        self._folder = tempfile.TemporaryDirectory(prefix="mlmeta-browser-", ignore_cleanup_errors=True)
        self.process = subprocess.Popen(
            [chromium_only(), "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1400,900",
             f"--user-data-dir={self._folder.name}", "about:blank"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True)
        for line in self.process.stderr:
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                self.port = int(re.search(r":(\d+)/", match.group(1)).group(1))
                break
        else:
            raise AssertionError("chromium did not open its DevTools port")
        self.pages: list = []
        return self

    def page(self) -> Page:
        import json
        import urllib.request

        import websocket

        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as answer:
            target = json.load(answer)
        socket = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.pages.append(socket)
        return Page(socket)

    def __exit__(self, *exc) -> None:
        import signal

        for socket in self.pages:
            socket.close()
        os.killpg(self.process.pid, signal.SIGTERM)  # chromium and every helper process it started
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process.stderr.close()
        self._folder.cleanup()


def chromium_only() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)"
    return found
