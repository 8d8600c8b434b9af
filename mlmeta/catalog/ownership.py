"""Which project a model in the catalog belongs to, and what this project may do with it.

Teams keep models in many repositories and publish them into one ML model service. mlmeta's
mark (``mlmeta:`` at the start of ``sourceHash``) says only "mlmeta published this", so each
project also has a **name**, recorded on every model it publishes as the ``mlmetaProject``
custom property (docs/publish.md#ownership says why there). The name is ``project`` in the
project file, else the git remote ``origin`` normalised to ``host/owner/name`` (the same for an
https and an ssh clone, and in CI), else the project folder's name; ``mlmeta doctor`` shows it
and where it came from. Names compare ignoring case (hosts and most forges do).

What that decides:
- ``drift``, ``prune``, ``retire`` and ``plan --prune`` act only on this project's models;
  the others' are counted in one line and never touched;
- a marked model with no recorded owner (published before owners were recorded) is never
  deleted; a publish of its spec, or ``mlmeta adopt FQN``, makes it this project's;
- a spec here for a model another project owns is finding O001 and the model is left alone:
  publish writes nothing to it (handing a model over is ``mlmeta adopt --from OWNER``).

A catalog that does not define the property (``mlmeta setup`` never run) records no owner, so
nothing there is ever this project's to delete: prune, retire and drift's D009 say so instead.

Models OpenMetadata's own MLflow connector ingested are recognised here too (``by_connector``):
how the two live together is in docs/publish.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROPERTY = "mlmetaProject"
MINE, OTHERS, UNOWNED = "mine", "others", "unowned"
SHOWN_NAMES = 10  # of the models left alone, this many are named in the run's line


@dataclass(frozen=True)
class Project:
    name: str
    source: str  # where the name came from, as doctor shows it


def identify(settings: Any, cwd: Path | None = None) -> Project:
    """This project's name: ``project`` in the project file, else the git remote origin, else the
    project folder's name (the project file's folder, else the git top level, else ``cwd``)."""
    from mlmeta import names
    from mlmeta.errors import ConfigError

    if settings.project:
        return Project(settings.project.strip(), settings.where("project"))
    start = Path(settings.project_file).parent if settings.project_file else (cwd or Path.cwd())
    top, remote = _git_origin(start)
    folder = Path(settings.project_file).parent if settings.project_file else (top or start)
    name = normalise_remote(remote) if remote else None
    if name:
        source = f"git remote origin of {top}"
    else:
        real = folder.resolve()
        name, source = real.name, f"the name of the project folder {real} (no git remote origin)"
    problem = names.problem(name, "a project name", "set project in mlmeta.toml")
    if problem or not name:
        raise ConfigError("project", f"cannot be derived from {source}: {problem or 'it is empty'}",
                          hint="set project = \"...\" in mlmeta.toml or [tool.mlmeta]")
    return Project(name, source)


def _git_origin(start: Path) -> tuple[Path | None, str | None]:
    """(the git top level holding ``start``, its remote origin's URL); None for what is not there."""
    import git  # gitpython costs ~0.1 s: only imported by the commands that need a project's name

    from mlmeta import secrets
    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None, None
    top = Path(repo.working_tree_dir) if repo.working_tree_dir else None
    try:
        url = repo.remote("origin").url
    except (ValueError, git.GitCommandError):
        return top, None
    secrets.register_url(url)  # a token in the remote's URL is a secret: never shown anywhere
    return top, url


_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!//).+)$")


def normalise_remote(url: str) -> str | None:
    """``host/owner/name`` of a git remote's URL - no scheme, credentials, port or ``.git``, the host
    in lower case - so that ``https://user:token@GitHub.com/acme/models.git`` and
    ``git@github.com:acme/models`` are one project. None for a remote with no host (a local path)."""
    text = url.strip()
    if "://" in text:
        parts = urlsplit(text)
        host, path = parts.hostname or "", parts.path
    else:
        match = _SCP_LIKE.match(text)
        if match is None or "/" in match.group("host"):
            return None  # a local path: machine-specific, not a name two clones share
        host, path = match.group("host").lower(), match.group("path")
    path = path.strip("/").removeprefix("~").strip("/")
    path = path[:-len(".git")] if path.endswith(".git") else path
    path = path.rstrip("/")
    if not host or not path:
        return None
    return f"{host.lower()}/{path}"


def owner(entity: dict[str, Any] | None) -> str | None:
    """The project recorded as the model's owner, or None."""
    value = ((entity or {}).get("extension") or {}).get(PROPERTY)
    return value.strip() if isinstance(value, str) and value.strip() else None


def same(left: str | None, right: str | None) -> bool:
    return left is not None and right is not None and left.casefold() == right.casefold()


def standing(entity: dict[str, Any] | None, project: str) -> str:
    """MINE, OTHERS or UNOWNED: whose the model is, as recorded on it."""
    recorded = owner(entity)
    if recorded is None:
        return UNOWNED
    return MINE if same(recorded, project) else OTHERS


def recorded(defined: frozenset[str]) -> bool:
    """Whether this catalog can record owners: it defines the property (``mlmeta setup``)."""
    return PROPERTY in defined


def claimed_elsewhere(model: str, other: str, project: str) -> str:
    """O001's message: a spec here for a model another project owns."""
    return (f"{model} belongs to project {other!r} (its {PROPERTY}); this project ({project}) has a spec for it too, "
            "so mlmeta leaves it alone: remove one of the two specs, or - once its team agrees - take it over with "
            f"mlmeta adopt --from {other} {model}")


@dataclass
class LeftAlone:
    """The models a run did not act on because they are not this project's: counted, never touched."""

    recording: bool  # the catalog defines the property: owners can be recorded
    others: list[str] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)

    def sort(self, model: str, entity: dict[str, Any], project: str) -> bool:
        """Count ``model`` when it is not this project's; True when it is."""
        where = standing(entity, project)
        if where == MINE:
            return True
        (self.others if where == OTHERS else self.unowned).append(model)
        return False

    def lines(self) -> list[str]:
        """One line each: other projects' models, and marked models nobody owns."""
        found = []
        if self.others:
            found.append(f"{len(self.others)} model(s) of other projects left alone")
        if self.unowned and self.recording:
            found.append(f"{len(self.unowned)} model(s) published by mlmeta with no recorded owner left alone "
                         "(published before owners were recorded; mlmeta adopt FQN makes one this project's): "
                         f"{_named(self.unowned)}")
        elif self.unowned:
            found.append(f"{len(self.unowned)} model(s) published by mlmeta left alone: this catalog records no owner "
                         f"(the {PROPERTY} custom property is not defined - run mlmeta setup, then publish): "
                         f"{_named(self.unowned)}")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {"others": len(self.others), "unowned": sorted(self.unowned), "owners_recorded": self.recording}


def _named(models: list[str]) -> str:
    shown = sorted(models)[:SHOWN_NAMES]
    more = len(models) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


# --- OpenMetadata's own MLflow connector -------------------------------------------------------------

CONNECTOR_ALGORITHM = "mlmodel"  # the constant the connector writes (MlflowSource._get_algorithm)
_CONNECTOR_HASH = re.compile(r"^[0-9a-f]{32}$")  # the ingestion framework's md5 of its create request


def by_connector(entity: dict[str, Any] | None) -> bool:
    """Whether OpenMetadata's MLflow connector wrote the model last: no mlmeta mark, and its source
    URL is the registered model's page (``<tracking URI>/#/models/<name>``, where mlmeta links a
    version), or its algorithm is the connector's constant beside a source hash of the
    ingestion framework's shape."""
    if not entity or str(entity.get("sourceHash") or "").startswith("mlmeta:"):
        return False
    url = str(entity.get("sourceUrl") or "")
    name = str(entity.get("name") or "")
    if url and re.search(r"#/models/[^/]+$", url) and url.rsplit("#/models/", 1)[-1] in (name, _quoted(name)):
        return True
    return entity.get("algorithm") == CONNECTOR_ALGORITHM and bool(_CONNECTOR_HASH.match(str(entity.get("sourceHash")
                                                                                              or "")))


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def connector_registered_model(entity: dict[str, Any]) -> str | None:
    """The registered model a connector-ingested model came from (its source URL names it)."""
    from urllib.parse import unquote

    url = str(entity.get("sourceUrl") or "")
    if "#/models/" not in url:
        return None
    tail = url.rsplit("#/models/", 1)[-1].split("/versions/")[0]
    return unquote(tail) or None
