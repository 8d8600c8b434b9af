"""The documentation site: built strictly (a broken link or a missing page fails), its generated
pages filled from the code, and looked at in Debian's headless chromium - home, spec reference,
search - with no console errors. (A generated cell's escaping: tests/unit/tooling/test_docs_site.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mlmeta.demo.services import free_port
from tests.helpers.browser import Browser
from tests.helpers.files import REPO

MKDOCS = [sys.executable, "-m", "mkdocs"]


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*MKDOCS, "build", "--strict", "-f", str(config), "-d", str(site)], capture_output=True,
                          text=True, timeout=300, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"}, cwd=REPO)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    done = build(REPO / "mkdocs.yml", folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_the_site_builds_strictly_with_its_generated_pages_filled(site):
    pages = {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    assert not [name for name, text in pages.items() if "<!-- mlmeta:" in text]
    assert "model_card.human_oversight" in pages["spec/index.html"]
    assert "features[].sources[].column" in pages["spec/index.html"]
    assert "mlmeta doctor" in pages["commands/index.html"] and "--changed-since" in pages["commands/index.html"]
    assert "D012" in pages["findings/index.html"] and "0.1.0" in pages["changelog/index.html"]
    assert "https://github.com/your-org/mlmeta/blob/main/examples/streaming/bot_detector.yaml" in pages[
        "getting-started/index.html"]


def test_no_page_shows_the_backslash_of_an_escaped_pipe(site):
    """Seen: ``mlmeta publish PATHS... \\| --all \\| --changed-since REF`` on the site - GitHub drops the
    backslash of a pipe escaped in a table's code span, Python-Markdown shows it."""
    import html

    pages = {p.relative_to(site).as_posix(): p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    assert [name for name, text in pages.items() if "\\|" in text] == []
    commands = html.unescape(pages["commands/index.html"])
    assert "<code>mlmeta publish PATHS... | --all | --changed-since REF</code>" in commands
    assert "<code>--stage Production|Staging</code>" in commands


def _copy(tmp_path: Path) -> Path:
    """The site's sources in a scratch folder, so a test can break them."""
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("docs_dir: docs", f"docs_dir: {tmp_path / 'docs'}")
    config = config.replace("  - mlmeta/tooling/docs_site.py", f"  - {REPO / 'mlmeta' / 'tooling' / 'docs_site.py'}")
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    return tmp_path / "mkdocs.yml"


@pytest.mark.parametrize(("breakage", "said"), [
    (("speed.md", "See [the missing page](nowhere.md)."), "nowhere.md"),
    (("speed.md", "See [a missing file](../examples/nowhere.py)."), "examples/nowhere.py"),
    (("speed.md", "See [a missing anchor](publish.md#no-such-heading)."), "no-such-heading"),
])
def test_a_broken_link_fails_the_build(tmp_path, breakage, said):
    config = _copy(tmp_path)
    page = tmp_path / "docs" / breakage[0]
    page.write_text(page.read_text(encoding="utf-8") + "\n" + breakage[1] + "\n", encoding="utf-8")
    done = build(config, tmp_path / "site")
    assert done.returncode != 0 and said in done.stderr, done.stderr


def test_a_page_missing_from_the_navigation_or_the_folder_fails_the_build(tmp_path):
    config = _copy(tmp_path)
    (tmp_path / "docs" / "speed.md").unlink()
    done = build(config, tmp_path / "site")
    assert done.returncode != 0 and "speed.md" in done.stderr


@pytest.fixture(scope="module")
def served(site):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                              "--directory", str(site)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_home_spec_reference_and_search_render_in_a_browser_without_console_errors(served, tmp_path):
    with Browser() as browser:
        page = browser.page()
        page.goto(served + "/")
        assert "mlmeta" in page.evaluate("document.title")
        assert page.evaluate("document.querySelector('article h1').firstChild.textContent") == "mlmeta"
        page.screenshot(tmp_path / "home.png")

        page.goto(served + "/spec/")
        rows = page.wait_for("Array.from(document.querySelectorAll('article table td code')).map(c => c.innerText)")
        assert {"mlmeta", "features[].sources[].column", "model_card.limitations", "outputs[].features"} <= set(rows)
        page.screenshot(tmp_path / "spec.png")

        page.goto(served + "/?q=D007")
        page.wait_for("document.querySelectorAll('.md-search-result__item').length > 0")
        first = page.evaluate("document.querySelector('.md-search-result__item a').href")
        assert first.startswith(served + "/findings/"), first
        assert "D007" in page.evaluate("document.querySelector('.md-search-result__item').innerText")
        page.screenshot(tmp_path / "search.png")
        assert page.errors == []
    assert all((tmp_path / name).stat().st_size > 10_000 for name in ("home.png", "spec.png", "search.png"))
