"""``mlmeta doctor``: is everything mlmeta needs in place? One run, every check, each problem with its fix.

The configuration found and where each value came from; both servers reached, with their
versions; the token's user and whether its roles let it write; the ML model service; the
provenance properties; git and the spec folders. A check that cannot run because an earlier one
failed says so instead of failing again; a server failing a check after the retries is that
check's problem, and the others still run. Nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mlmeta.errors import MlmetaError

OK, WARN, FAIL, SKIP = "ok", "warning", "problem", "skipped"
READ_ONLY_ROLES = {"DataConsumer"}  # OpenMetadata's default role: it may view, not create or edit
QUICK_TIMEOUT, QUICK_DEADLINE = 10.0, 20.0  # a server that does not answer is reported after 20 s, not 60
DOCTORS_DEFAULT = "doctor's default"


@dataclass
class Check:
    name: str
    status: str  # ok, warning, problem, skipped
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    checks: list[Check]
    settings: dict[str, dict[str, str]]  # setting -> {"value", "from"}

    @property
    def problems(self) -> int:
        return sum(1 for c in self.checks if c.status == FAIL)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def quick(settings: Any) -> Any:
    """The settings with doctor's shorter waits where nobody chose one (no flag, variable or project
    setting): a doctor answers quickly, and says the value is its own default, not a flag's."""
    chosen = settings.sources
    timeout = settings.timeout if "timeout" in chosen else QUICK_TIMEOUT
    deadline = settings.deadline if "deadline" in chosen else max(QUICK_DEADLINE, timeout)
    sources = {**chosen, **{key: DOCTORS_DEFAULT for key in ("timeout", "deadline") if key not in chosen}}
    return replace(settings, timeout=timeout, deadline=deadline, sources=sources)


def run(settings: Any) -> Report:
    checks: list[Check] = []
    catalog = _openmetadata(settings, checks)
    if catalog is None:
        checks += [Check(name, SKIP, "OpenMetadata was not reached") for name in
                   ("token's user", "ML model service", "provenance properties")]
    elif _token_user(catalog, checks):
        _unless_failing("ML model service", checks, lambda: _service(catalog, settings, checks))
        _unless_failing("provenance properties", checks, lambda: _properties(catalog, checks))
    else:
        checks += [Check(name, SKIP, "the token cannot read the catalog") for name in
                   ("ML model service", "provenance properties")]
    _registry(settings, checks)
    _specs(settings, checks)
    return Report(checks, _shown_settings(settings))


def _shown_settings(settings: Any) -> dict[str, dict[str, str]]:
    """Each setting that matters, and where its value came from (never a token's value)."""
    shown = {}
    for key in ("openmetadata_host", "mlflow_tracking_uri", "mlflow_registry_uri", "service", "alias", "spec_paths",
                "training_data", "timeout", "deadline"):
        value = getattr(settings, key)
        if value in (None, "", ()):
            continue
        text = ", ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
        shown[key] = {"value": text, "from": settings.sources.get(key, "default")}
    used, ignored = settings.sources.get("token", "nowhere"), settings.sources.get("token_ignored")
    shown["token"] = {"value": "set" if settings.token else "not set",
                      "from": f"{used}; {ignored} is set too, and ignored: a token file wins" if ignored else used}
    if settings.project_file:
        shown["project file"] = {"value": str(settings.project_file), "from": "found from the working directory"}
    shown["project"] = _project(settings)
    return shown


def _project(settings: Any) -> dict[str, str]:
    """This project's name - the owner it records on its models - and where it came from."""
    from mlmeta.catalog import ownership
    try:
        project = ownership.identify(settings)
    except MlmetaError as error:
        return {"value": "(none)", "from": str(error)}
    return {"value": project.name, "from": project.source}


def _openmetadata(settings: Any, checks: list[Check]) -> Any:
    from mlmeta.catalog.openmetadata import OpenMetadataCatalog

    try:
        catalog = OpenMetadataCatalog(settings)
    except MlmetaError as error:
        checks.append(Check("OpenMetadata", FAIL, str(error), error.hint or "check OPENMETADATA_HOST and the token"))
        return None
    checks.append(Check("OpenMetadata", OK, f"{settings.api_url()} answers: {catalog.release.summary()}"))
    return catalog


def _token_user(catalog: Any, checks: list[Check]) -> bool:
    """Who the token speaks for, and whether its roles let it write; False when it cannot even read."""
    from mlmeta.catalog.records import CatalogError

    if not catalog.user:
        checks.append(Check("token's user", FAIL, "the token is not a JWT: no user can be read from it",
                            "set OPENMETADATA_JWT_TOKEN to a bot's JWT (Settings > Bots in OpenMetadata)"))
        return False
    try:
        user = catalog.user_entity(catalog.user)
    except MlmetaError as error:
        checks.append(Check("token's user", FAIL, str(error), error.hint))
        return False
    except CatalogError as error:
        checks.append(Check("token's user", FAIL, f"OpenMetadata could not say who {catalog.user} is: {error.message}"))
        return False
    if user is None:
        checks.append(Check("token's user", FAIL, f"the token speaks for {catalog.user!r}, a user OpenMetadata does not "
                                                   "have", "create the bot in Settings > Bots and use its token"))
        return False
    roles = sorted(r.get("name", "") for r in user.get("roles") or [])
    kind = "admin" if user.get("isAdmin") else "bot" if user.get("isBot") else "user"
    if roles and set(roles) <= READ_ONLY_ROLES and not user.get("isAdmin"):
        checks.append(Check("token's user", FAIL, f"{catalog.user} ({kind}, roles: {', '.join(roles)}) may read but not "
                                                   "create or edit ML models and lineage",
                            "give it a role whose policy allows Create and EditAll on mlmodel and EditLineage "
                            "(e.g. DataSteward, or the IngestionBotRole)"))
        return True
    checks.append(Check("token's user", OK, f"{catalog.user} ({kind}, roles: {', '.join(roles) or 'the default'}): "
                                            "may read, create and edit ML models and lineage"))
    return True


def _unless_failing(name: str, checks: list[Check], check: Callable[[], None]) -> None:
    """Run a check that asks the catalog; a server failing it after the retries is that check's problem
    (the others still run), never a crash."""
    from mlmeta.catalog.records import CatalogError

    try:
        check()
    except CatalogError as error:
        checks.append(Check(name, FAIL, f"OpenMetadata could not answer: {error.message}",
                            "the server is failing (its logs say why); rerun when it is healthy, -v shows every "
                            "retry"))


def _service(catalog: Any, settings: Any, checks: list[Check]) -> None:
    service = settings.service
    if not service:
        checks.append(Check("ML model service", WARN, "no default service: every spec must name its own",
                            "set service = \"...\" in mlmeta.toml or [tool.mlmeta]"))
    elif catalog.reference("mlmodelService", service) is None:
        checks.append(Check("ML model service", FAIL, f"{service!r} ({settings.where('service')}) is not in "
                                                      "OpenMetadata",
                            f"create the ML model service {service!r}, or publish once with --create-service"))
    else:
        checks.append(Check("ML model service", OK, f"{service!r} exists"))


def _properties(catalog: Any, checks: list[Check]) -> None:
    from mlmeta.catalog import provenance
    defined = provenance.defined(catalog)
    missing = [p.name for p in provenance.PROPERTIES if p.name not in defined]
    if missing:
        from mlmeta.catalog.ownership import PROPERTY

        owners = (f"; without {PROPERTY} no owner is recorded, so prune, retire and drift's D009 act on no model"
                  if PROPERTY in missing else "")
        checks.append(Check("provenance properties", WARN, f"{len(missing)} of {len(provenance.PROPERTIES)} are not "
                                                           f"defined on mlmodel: {', '.join(missing)}{owners}",
                            "run mlmeta setup (once per catalog): publish fills them in from then on"))
    else:
        checks.append(Check("provenance properties", OK, f"all {len(provenance.PROPERTIES)} defined on mlmodel"))


def _registry(settings: Any, checks: list[Check]) -> None:
    """The project's registry, whichever it is: its address set, its server answering."""
    from mlmeta.registry.table import kind_of
    from mlmeta.registry.types import RegistryError

    kind = kind_of(settings.registry)
    name, setting = kind.label, kind.address_setting
    if not settings.registry_address:
        checks.append(Check(name, FAIL, f"{setting} is not set",
                            f"export {setting}={kind.address_example} or set {kind.address_key}"))
        return
    try:
        registry = kind.open(settings)
        summary = registry.server_summary()
    except MlmetaError as error:
        checks.append(Check(name, FAIL, str(error), error.hint or f"check {setting}"))
        return
    except RegistryError as error:
        checks.append(Check(name, FAIL, str(error), f"check {setting} and that the server is up"))
        return
    checks.append(Check(name, OK, f"{registry.public_uri} answers: {summary}"))


def _specs(settings: Any, checks: list[Check]) -> None:
    from mlmeta.spec.discovery import find_spec_files
    from mlmeta.commands.validate import validate_files

    missing = [str(p) for p in settings.spec_paths if not Path(p).exists()]
    if missing:
        checks.append(Check("spec folders", FAIL, f"not found: {', '.join(missing)}",
                            "create the folder, or set spec_paths in mlmeta.toml or [tool.mlmeta]"))
    else:
        files = find_spec_files(list(settings.spec_paths))
        report = validate_files(files, default_service=settings.service, policy=settings.card_policy)
        invalid = sum(1 for f in report.files if not f.valid)
        status, fix = (WARN, "mlmeta validate shows each finding at its line") if invalid else (OK, None)
        checks.append(Check("spec folders", status, f"{len(files)} spec(s) in {', '.join(map(str, settings.spec_paths))}"
                                                    + (f", {invalid} invalid" if invalid else ", all valid"), fix))
    try:
        import git

        repo = git.Repo(Path.cwd(), search_parent_directories=True)
        checks.append(Check("git", OK, f"repository at {repo.working_tree_dir}: each spec's last commit is recorded"))
    except Exception:  # noqa: BLE001 - gitpython raises several kinds for "not a repository" and "no git"
        checks.append(Check("git", WARN, "not inside a git repository: --changed-since and the specs' commits are "
                                         "unavailable", "run mlmeta from the repository that holds the specs"))
