"""The documentation site's generated pages, and the MkDocs hook that puts them in (``mkdocs.yml``).

What the code already says is never written twice: the spec reference comes from the JSON Schema,
the commands from the CLI's own help, the finding codes from ``diagnostics.CODES`` and what each means
from ``explanations.EXPLANATIONS`` (as ``mlmeta explain`` prints it), the
compatibility table from ``releases.RULES``, the module map of docs/contributing.md from each
module's docstring. A page holds a marker (``<!-- mlmeta:spec-reference -->`` ...) where the generated
Markdown goes; a page read on GitHub too holds the generated text itself, between a start and an end
marker, rewritten by ``python -m mlmeta.tooling.docs_site`` (a test fails while it differs). Links from a page to a file of the repository (an
example, the schema) become links to the repository, and a link to a file that does not exist
fails the strict build like any broken link.
"""

from __future__ import annotations

import ast
import html
import logging
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
REPO_URL = "https://github.com/your-org/mlmeta/blob/main"
log = logging.getLogger("mkdocs.plugins.mlmeta")
_LINK = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)(#[^)\s]*)?\)")


# --- the spec reference, from the JSON Schema -------------------------------------------------------


def spec_reference() -> str:
    from mlmeta.spec.model import ModelSpec

    schema = ModelSpec.model_json_schema()
    rows = ["| key | type | required | meaning |", "| --- | --- | --- | --- |"]
    rows += _rows(schema, schema["$defs"], "", set())
    return "\n".join(rows)


def _rows(node: dict[str, Any], defs: dict[str, Any], prefix: str, seen: set[str]) -> list[str]:
    rows = []
    required = set(node.get("required") or [])
    for key, value in (node.get("properties") or {}).items():
        path = f"{prefix}{key}"
        target, kind = _resolve(value, defs)
        meaning = value.get("description") or target.get("description") or ""
        rows.append(f"| `{path}` | {kind} | {'yes' if key in required else ''} | {_cell(meaning)} |")
        nested = target
        if "items" in target:
            nested, _ = _resolve(target["items"], defs)
            path += "[]"
        if "properties" in nested and nested.get("title") not in seen:
            rows += _rows(nested, defs, f"{path}.", seen | {nested.get("title", "")})
        elif isinstance(nested.get("additionalProperties"), dict):
            inner, _ = _resolve(nested["additionalProperties"], defs)
            if "properties" in inner:
                rows += _rows(inner, defs, f"{path}.<name>.", seen | {inner.get("title", "")})
    return rows


def _resolve(value: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The schema a property stands for (through $ref and "or null"), and its type in words."""
    options = [v for v in value.get("anyOf", [value]) if v.get("type") != "null"]
    target = options[0] if options else value
    if "$ref" in target:
        target = defs[target["$ref"].split("/")[-1]]
    return target, _kind(target, defs)


def _kind(target: dict[str, Any], defs: dict[str, Any]) -> str:
    if "enum" in target:
        return " \\| ".join(f"`{v}`" for v in target["enum"])
    if "const" in target:
        return f"`{target['const']}`"
    kind = target.get("type", "object")
    if kind == "array":
        inner, inner_kind = _resolve(target.get("items", {}), defs)
        return f"list of {inner.get('title', inner_kind)}" if "properties" in inner else f"list of {inner_kind}"
    if kind == "object" and "properties" not in target and isinstance(target.get("additionalProperties"), dict):
        inner, inner_kind = _resolve(target["additionalProperties"], defs)
        return f"map of name to {inner.get('title', inner_kind)}"
    return kind


# --- the commands, from the CLI's own help --------------------------------------------------------


def commands_reference() -> str:
    import click
    import typer.main

    from mlmeta.cli import app

    group = typer.main.get_command(app)
    context = click.Context(group, info_name="mlmeta")
    parts = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        usage = " ".join(command.collect_usage_pieces(click.Context(command, info_name=name)))
        parts.append(f"## mlmeta {name}\n\n```\nmlmeta {name} {usage}\n```\n\n{_help(command.help)}\n")
        rows = ["| option | meaning |", "| --- | --- |"]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                names = ", ".join(f"`{o}`" for o in param.opts + param.secondary_opts)
                rows.append(f"| {names} | {_cell(param.help or '')} |")
        if len(rows) > 2:
            parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def _help(text: str | None) -> str:
    return " ".join((text or "").split("\b")[0].split())


# --- finding codes and compatibility, from the code's tables --------------------------------------


def finding_codes() -> str:
    from mlmeta.diagnostics import CODES
    from mlmeta.explanations import KINDS

    rows = ["| code | kind | meaning |", "| --- | --- | --- |"]
    rows += [f"| <span id=\"{code.lower()}\"></span>[{code}](#{code.lower()}-explained) | {KINDS.get(code[0], '')} | "
             f"{_cell(meaning)} |" for code, meaning in CODES.items()]
    return "\n".join(rows)


def finding_explanations() -> str:
    """Each code's why, fix and example - what ``mlmeta explain CODE`` prints - from ``explanations``."""
    from mlmeta.diagnostics import CODES
    from mlmeta.explanations import explain

    parts = []
    for code in CODES:
        said = explain(code)
        parts.append(f"### <span id=\"{code.lower()}-explained\"></span>{code}: {said['meaning']}\n\n"
                     f"**Why.** {said['why']}\n\n**Fix.** {said['fix']}\n\n```\n{said['example']}\n```\n")
    return "\n".join(parts)


def compatibility() -> str:
    from mlmeta.catalog.releases import markdown_table

    return markdown_table()


# --- the module map, from each module's docstring ---------------------------------------------------

PACKAGE = REPO / "mlmeta"
# the tiers in the order the map shows them; a package not named here comes after them, by name
TIERS = ("kernel", "cli", "commands", "registry", "catalog", "plan", "spec", "triggers", "events", "output",
         "standins", "tooling", "demo")
# the role of a tier that is not a package (a package's role is its docstring's)
ROLES = {"kernel": "the modules at the top of the package, which the tiers share",
         "cli": "the command line: the typer app, and ``python -m mlmeta``",
         "shims": "old public paths, kept: each re-exports the module that moved"}


def module_map(package: Path = PACKAGE) -> str:
    """Each tier's role (its package's docstring), then each of its modules and what it is (the first
    sentence of the module's docstring)."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(package.rglob("*.py")):
        groups.setdefault(_tier(path, package), []).append(path)
    order = [t for t in TIERS if t in groups] + sorted(set(groups) - set(TIERS) - {"shims"})
    order += ["shims"] if "shims" in groups else []
    parts = []
    for tier in order:
        init = package / tier / "__init__.py"
        modules = [p for p in groups[tier] if p != init]
        if init.exists():
            heading = f"**`{tier}/`** - {_markdown(summary(init))}"
        else:
            heading = f"**{tier}** - {_markdown(ROLES.get(tier, ''))}"
        rows = ["| module | what it is |", "| --- | --- |"]
        rows += [f"| `{p.relative_to(package).as_posix()}` | {_cell(_markdown(summary(p)))} |" for p in modules]
        parts.append(heading + ("\n\n" + "\n".join(rows) if modules else ""))
    return "\n\n".join(parts)


def summary(module: Path) -> str:
    """The first sentence of a module's docstring: what the module is (empty when it has none)."""
    docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(docstring.split("\n\n")[0].split())
    end = re.search(r"(?<=[.?!])\s+(?=[A-Z`(])", paragraph)
    return paragraph[:end.start()] if end else paragraph


def _tier(path: Path, package: Path) -> str:
    parts = path.relative_to(package).parts
    if len(parts) > 1:
        return parts[0]
    if path.stem in ("cli", "__main__"):
        return "cli"
    return "shims" if summary(path).startswith("Shim:") else "kernel"


def _markdown(text: str) -> str:
    return text.replace("``", "`")


GENERATED = {"spec-reference": spec_reference, "commands": commands_reference, "finding-codes": finding_codes,
             "finding-explanations": finding_explanations, "compatibility": compatibility}
# generated text kept in the page itself, between <!-- mlmeta:NAME --> and <!-- /mlmeta:NAME -->
BLOCKS = {"module-map": module_map}
BLOCK_PAGES = {"module-map": REPO / "docs" / "contributing.md"}


def _block(name: str) -> re.Pattern:
    return re.compile(rf"<!-- mlmeta:{name} -->\n.*?<!-- /mlmeta:{name} -->", re.DOTALL)


def with_blocks(markdown: str, *, markers: bool = True) -> str:
    """The page with every generated block as the code says it now: between its markers (the page
    kept in git), or in their place (the site)."""
    for name, generate in BLOCKS.items():
        text = generate()
        block = f"<!-- mlmeta:{name} -->\n\n{text}\n\n<!-- /mlmeta:{name} -->" if markers else text
        markdown = _block(name).sub(lambda match: block, markdown)
    return markdown


def write_blocks() -> list[Path]:
    """Rewrite the pages whose generated blocks differ from what the code says; the pages changed."""
    changed = []
    for page in sorted(set(BLOCK_PAGES.values())):
        text = page.read_text(encoding="utf-8")
        if with_blocks(text) != text:
            page.write_text(with_blocks(text), encoding="utf-8")
            changed.append(page)
    return changed


def _cell(text: str) -> str:
    """Text for a table cell. A pipe is escaped (``\\|``) - except in a code span, where Python-Markdown
    (the site) would show the backslash: a code span holding a pipe becomes ``<code>`` with ``&#124;``,
    which neither the site's tables nor GitHub's split on."""
    parts = re.split(r"(`[^`]*`)", " ".join(str(text).split()))
    return "".join(_code_cell(part[1:-1]) if part.startswith("`") and part.endswith("`") and len(part) > 1
                   else part.replace("|", "\\|") for part in parts)


def _code_cell(code: str) -> str:
    if "|" not in code:
        return f"`{code}`"
    return "<code>" + html.escape(code, quote=False).replace("|", "&#124;") + "</code>"


# --- the MkDocs hook ----------------------------------------------------------------------------------


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    markdown = with_blocks(markdown, markers=False)
    for name, generate in GENERATED.items():
        marker = f"<!-- mlmeta:{name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return _LINK.sub(lambda match: _repository_link(match, page), markdown)


def _repository_link(match: re.Match, page: Any) -> str:
    """A link to a file outside docs/ goes to the repository; one to nothing is a (strict) warning."""
    target, anchor = match.group(1), match.group(2) or ""
    docs = Path(page.file.abs_src_path).parent
    if (docs / target).exists() and (docs / target).resolve().is_relative_to(REPO / "docs"):
        return match.group(0)  # a page or image of the site: MkDocs checks it
    in_repo = (docs / target).resolve()
    if not in_repo.is_relative_to(REPO) or not in_repo.exists():
        log.warning("%s links to %s, which is not a file of the repository", page.file.src_path, target)
        return match.group(0)
    return f"]({REPO_URL}/{in_repo.relative_to(REPO).as_posix()}{anchor})"


if __name__ == "__main__":  # python -m mlmeta.tooling.docs_site: the generated blocks, rewritten
    for written in write_blocks():
        print(f"rewrote {written.relative_to(REPO)}")
