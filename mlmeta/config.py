"""Settings: command-line flags over environment variables over the project file over defaults.

The project file is ``mlmeta.toml`` (top-level keys) or ``[tool.mlmeta]`` in ``pyproject.toml``,
found by walking up from the working directory. Secrets never come from it: the JWT token is
read from ``OPENMETADATA_JWT_TOKEN`` or from a file named by ``OPENMETADATA_JWT_TOKEN_FILE`` /
``token_file`` / ``--token-file``, and registered for redaction as soon as it is read.
Every problem is a ConfigError naming the setting and where it came from (exit code 2).
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlmeta import secrets
from mlmeta.errors import ConfigError
from mlmeta.registry.table import kind_of, names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_SPEC_PATHS = ("model_specs",)
DEFAULT_ALIAS = "champion"
DEFAULT_CONCURRENCY = 8

# key in the project file -> (type, description) - docs/configuration.md's table mirrors this
FILE_KEYS: dict[str, tuple[type, str]] = {
    "spec_paths": (list, "folders or files with specs"),
    "project": (str, "this project's name in the catalog, recorded as the owner of the models it publishes "
                     "(default: the git remote origin as host/owner/name, else the project folder's name)"),
    "service": (str, "default OpenMetadata ML model service"),
    "alias": (str, "MLflow alias that marks Production"),
    "openmetadata_host": (str, "OpenMetadata URL, e.g. https://catalog.example.com"),
    "token_file": (str, "file holding the OpenMetadata JWT token"),
    "ca_bundle": (str, "CA bundle to verify OpenMetadata's TLS certificate"),
    "verify_tls": (bool, "verify TLS certificates (default true)"),
    "mlflow_tracking_uri": (str, "MLflow tracking server"),
    "mlflow_registry_uri": (str, "MLflow registry, when not the tracking server"),
    "registry": (str, "where models live: mlflow (default) or kubeflow (Kubeflow Model Registry)"),
    "kubeflow_url": (str, "Kubeflow Model Registry REST URL, e.g. https://model-registry.example.com:8443"),
    "kubeflow_token_file": (str, "file holding the Kubeflow Model Registry token (else MODEL_REGISTRY_TOKEN)"),
    "kubeflow_ui_url": (str, "the KF MR UI's page of this registry, for links: https://.../model-registry/NAME"),
    "concurrency": (int, "models published at once"),
    "timeout": (float, "seconds to wait for one answer from a server"),
    "deadline": (float, "seconds to keep retrying a server that does not answer, in all"),
    "event_sinks": (list, "where promotion events go: -, jsonl:FILE, http(s)://..., kafka://host:port/topic"),
    "when_not_in_production": (str, "keep, mark or delete the catalog's model once nothing is in Production"),
    "not_in_production_tag": (str, "the tag 'mark' adds while a model is not in Production (Classification.Tag)"),
    "training_data": (str, "what to do with the datasets MLflow logged: check (default), lineage or ignore"),
    "datasets": (dict, "rules mapping logged datasets to catalog assets: [datasets.tables] and [datasets.storage]"),
    "policy": (dict, "the model-card sections a model must document, per tag: [policy] \"Tier.Tier1\" = [...]"),
}
# the command-line flags whose name is not the setting's (messages name the flag that was given)
FLAGS = {"openmetadata_host": "--host", "mlflow_tracking_uri": "--mlflow-uri"}
NOT_IN_PRODUCTION_POLICIES = ("keep", "mark", "delete")
DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE = 60.0


@dataclass(frozen=True)
class Settings:
    spec_paths: tuple[Path, ...] = tuple(Path(p) for p in DEFAULT_SPEC_PATHS)
    project: str | None = None  # None: derived from git or the folder (mlmeta.catalog.ownership.identify)
    service: str | None = None
    alias: str = DEFAULT_ALIAS
    openmetadata_host: str | None = None
    token: str | None = field(default=None, repr=False)
    ca_bundle: Path | None = None
    verify_tls: bool = True
    mlflow_tracking_uri: str | None = None
    mlflow_registry_uri: str | None = None
    registry: str = "mlflow"
    kubeflow_url: str | None = None
    kubeflow_token: str | None = field(default=None, repr=False)
    kubeflow_ui_url: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    event_sinks: tuple[str, ...] = ()
    when_not_in_production: str = "keep"
    not_in_production_tag: str | None = None
    training_data: str = "check"
    datasets: Any = None  # mlmeta.catalog.datasets.DatasetRules (None: no rules)
    policy: Any = None  # mlmeta.spec.policy.Policy: tag -> required model-card sections (None: no policy)
    project_file: Path | None = None
    sources: dict[str, str] = field(default_factory=dict, repr=False)  # setting -> where it came from

    def where(self, setting: str) -> str:
        return self.sources.get(setting, setting)

    def api_url(self) -> str:
        """The OpenMetadata API base (``.../api``), or a ConfigError saying how to set it."""
        if not self.openmetadata_host:
            raise ConfigError("OPENMETADATA_HOST", "not set",
                              hint="export OPENMETADATA_HOST=https://your-openmetadata:8585 or pass --host")
        return normalize_host(self.openmetadata_host, self.where("openmetadata_host"))

    def tls_verify(self) -> bool | str:
        """What an HTTP client's ``verify`` takes: a CA bundle path, or True/False."""
        if self.ca_bundle is not None:
            if not Path(self.ca_bundle).is_file():
                raise ConfigError(self.where("ca_bundle"), f"CA bundle {self.ca_bundle} not found")
            return str(self.ca_bundle)
        return self.verify_tls

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError("OPENMETADATA_JWT_TOKEN", "not set",
                              hint="set OPENMETADATA_JWT_TOKEN or OPENMETADATA_JWT_TOKEN_FILE to a bot's JWT")
        return self.token

    def require_tracking_uri(self) -> str:
        """The MLflow tracking server's http(s) URL, or a ConfigError naming the setting."""
        from mlmeta.http import check_http_url

        if not self.mlflow_tracking_uri:
            raise ConfigError("MLFLOW_TRACKING_URI", "not set",
                              hint="export MLFLOW_TRACKING_URI=http://your-mlflow:5000 or pass --mlflow-uri")
        return check_http_url(self.mlflow_tracking_uri, self.where("mlflow_tracking_uri"),
                              what="an MLflow tracking server")

    def registry_uri(self) -> str:
        """Where the model registry is: MLFLOW_REGISTRY_URI when set, else the tracking server."""
        from mlmeta.http import check_http_url

        if self.mlflow_registry_uri:
            return check_http_url(self.mlflow_registry_uri, self.where("mlflow_registry_uri"),
                                  what="an MLflow model registry")
        return self.require_tracking_uri()

    def require_kubeflow_url(self) -> str:
        """The Kubeflow Model Registry's http(s) URL, or a ConfigError naming the setting."""
        from mlmeta.http import check_http_url

        if not self.kubeflow_url:
            raise ConfigError("MODEL_REGISTRY_URL", "not set", hint="export MODEL_REGISTRY_URL=https://your-model-"
                                                                    "registry:8443 or set kubeflow_url")
        return check_http_url(self.kubeflow_url, self.where("kubeflow_url"), what="a Kubeflow Model Registry")

    @property
    def registry_address(self) -> str | None:
        """Where the run's registry is, as the published fingerprint records it."""
        return kind_of(self.registry).address(self)

    @property
    def card_policy(self) -> tuple[dict, str] | None:
        """The model-card policy and where it is written, for ``validate_files``."""
        return (self.policy, self.where("policy")) if self.policy else None

    def limits(self):
        """How long to wait for servers (mlmeta.http.Limits)."""
        from mlmeta.http import Limits

        return Limits(timeout=self.timeout, deadline=self.deadline)


def event_sinks(settings: Settings) -> list[str]:
    """The configured event sinks (flags aside): MLMETA_EVENT_SINKS, else event_sinks in the project file."""
    return list(settings.event_sinks)


def normalize_host(host: str, setting: str) -> str:
    parsed = urlparse(host.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(setting, f"expected an http(s) URL such as https://host:8585, got {host!r}")
    path = parsed.path.rstrip("/")
    if not path.endswith("/api"):
        path += "/api"
    return f"{parsed.scheme}://{parsed.netloc}{path}"


def find_project_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest mlmeta.toml, or pyproject.toml with a [tool.mlmeta] table, from ``start`` up."""
    for folder in (start, *start.parents):
        candidate = folder / "mlmeta.toml"
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            table = _read_toml(candidate).get("tool", {}).get("mlmeta")
            if table is not None:
                return candidate, table
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"invalid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(str(path), f"cannot read: {error.strerror}") from None


def _file_settings(path: Path, table: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    prefix = "[tool.mlmeta] " if path.name == "pyproject.toml" else ""
    values, sources = {}, {}
    for key, value in table.items():
        where = f"{prefix}{key} in {path}"
        if key in ("token", "jwt_token"):
            raise ConfigError(where, "tokens never go in a project file; use OPENMETADATA_JWT_TOKEN or token_file")
        if key not in FILE_KEYS:
            close = difflib.get_close_matches(key, FILE_KEYS, n=1)
            raise ConfigError(where, "unknown setting"
                              + (f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(FILE_KEYS)}"))
        kind = FILE_KEYS[key][0]
        if not _has_type(value, kind):
            expected = {list: "a list of strings", dict: "a table", str: "a string", bool: "true or false",
                        int: "a whole number", float: "a number"}[kind]
            raise ConfigError(where, f"expected {expected}, got {value!r}")
        if key == "spec_paths":
            value = tuple(path.parent / v for v in value)
        elif key == "event_sinks":
            value = tuple(value)
        elif key in ("ca_bundle", "token_file", "kubeflow_token_file"):
            value = path.parent / value
        elif key == "datasets":
            from mlmeta.catalog.datasets import rules_from

            value = rules_from(value, lambda key, shown=f"{prefix}{{}} in {path}": shown.format(key), path.name)
        elif key == "policy":
            from mlmeta.spec.policy import policy_from

            value = policy_from(value, lambda key, shown=f"{prefix}{{}} in {path}": shown.format(key))
        values[key] = value
        sources[key] = where
    if "datasets" not in values:  # none yet: a hint still names the section as this file spells it
        from mlmeta.catalog.datasets import DatasetRules

        values["datasets"] = DatasetRules(spelled_in=path.name)
    return values, sources


def _has_type(value: Any, kind: type) -> bool:
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is dict:
        return isinstance(value, dict)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def load_settings(overrides: dict[str, Any] | None = None, *, environ: dict[str, str] | None = None,
                  cwd: Path | None = None) -> Settings:
    """Build Settings from defaults, the project file, the environment and ``overrides`` (flags).

    ``overrides`` holds only the flags the user actually passed (None values are ignored).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    project = find_project_file((cwd or Path.cwd()).resolve())
    if project:
        values, sources = _file_settings(*project)
        values["project_file"] = project[0]
        # the default is relative to the project file too: the same specs from any of its folders
        values.setdefault("spec_paths", tuple(project[0].parent / p for p in DEFAULT_SPEC_PATHS))

    for var, key in (("OPENMETADATA_HOST", "openmetadata_host"), ("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
                     ("MLFLOW_REGISTRY_URI", "mlflow_registry_uri"), ("OPENMETADATA_CA_BUNDLE", "ca_bundle"),
                     ("OPENMETADATA_JWT_TOKEN_FILE", "token_file"), ("MLMETA_REGISTRY", "registry"),
                     ("MODEL_REGISTRY_URL", "kubeflow_url"), ("MODEL_REGISTRY_TOKEN_FILE", "kubeflow_token_file")):
        if env.get(var):
            values[key] = Path(env[var]) if key in ("ca_bundle", "token_file", "kubeflow_token_file") else env[var]
            sources[key] = var
    if env.get("MLMETA_EVENT_SINKS"):
        values["event_sinks"] = tuple(part.strip() for part in env["MLMETA_EVENT_SINKS"].split(",") if part.strip())
        sources["event_sinks"] = "MLMETA_EVENT_SINKS"
    for var, key in (("MLMETA_TIMEOUT", "timeout"), ("MLMETA_DEADLINE", "deadline")):
        if env.get(var):
            values[key] = _parse_seconds(env[var], var)
            sources[key] = var
    if env.get("OPENMETADATA_VERIFY_SSL"):
        values["verify_tls"] = _parse_bool(env["OPENMETADATA_VERIFY_SSL"], "OPENMETADATA_VERIFY_SSL")
        sources["verify_tls"] = "OPENMETADATA_VERIFY_SSL"

    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
            sources[key] = FLAGS.get(key, "--" + key.replace("_", "-"))

    token_file = values.pop("token_file", None)
    token = _read_token(token_file, sources.get("token_file"), env.get("OPENMETADATA_JWT_TOKEN"))
    _token_sources(sources, token_file, env)
    kubeflow_token = _read_token(values.pop("kubeflow_token_file", None), sources.get("kubeflow_token_file"),
                                 env.get("MODEL_REGISTRY_TOKEN"))  # the variable the KF MR MLflow plugin reads
    for url in (values.get("openmetadata_host"), values.get("mlflow_tracking_uri"), values.get("mlflow_registry_uri"),
                values.get("kubeflow_url"), *values.get("event_sinks", ())):
        secrets.register_url(url if isinstance(url, str) else None)  # credentials in a URL are secrets too
    settings = replace(Settings(), **values, token=token, kubeflow_token=kubeflow_token, sources=sources)
    _check(settings)
    return settings


def _token_sources(sources: dict[str, str], token_file: Path | None, env: Any) -> None:
    """Which token is used (``token``), and the one set but ignored (``token_ignored``): a token
    file - flag, variable or project file - wins over OPENMETADATA_JWT_TOKEN (docs/configuration.md)."""
    variable = "OPENMETADATA_JWT_TOKEN"
    if token_file is not None:
        sources["token"] = sources.get("token_file", "token_file")
        if env.get(variable):
            sources["token_ignored"] = variable
    elif env.get(variable):
        sources["token"] = variable


def _read_token(token_file: Path | None, where: str | None, token: str | None) -> str | None:
    """A token from its file when one is set, else from its variable; registered as a secret."""
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(where or "token_file", f"cannot read token file {token_file}: {error.strerror}") from None
        if not token:
            raise ConfigError(where or "token_file", f"token file {token_file} is empty")
    if token is not None:
        token = token.strip()
        secrets.register(token)
    return token or None


def _parse_seconds(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(where, f"expected a number of seconds, got {text!r}") from None


def _parse_bool(text: str, where: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(where, f"expected true or false, got {text!r}")


def _check(settings: Settings) -> None:
    if settings.concurrency < 1 or settings.concurrency > 64:
        raise ConfigError(settings.where("concurrency"), f"must be between 1 and 64, got {settings.concurrency}")
    if not settings.alias.strip():
        raise ConfigError(settings.where("alias"), "cannot be empty")
    if settings.project is not None and not settings.project.strip():
        raise ConfigError(settings.where("project"), "cannot be empty; leave it out to use the git remote origin")
    _check_names(settings)
    if settings.when_not_in_production not in NOT_IN_PRODUCTION_POLICIES:
        raise ConfigError(settings.where("when_not_in_production"),
                          f"must be one of {', '.join(NOT_IN_PRODUCTION_POLICIES)}, got {settings.when_not_in_production!r}")
    if settings.registry not in names():
        *others, last = names()
        raise ConfigError(settings.where("registry"), f"must be {', '.join(others)} or {last}, got {settings.registry!r}")
    if settings.training_data not in ("check", "lineage", "ignore"):
        raise ConfigError(settings.where("training_data"),
                          f"must be one of check, lineage, ignore, got {settings.training_data!r}")
    for key, low, high in (("timeout", 0.5, 600.0), ("deadline", 1.0, 3600.0)):
        value = getattr(settings, key)
        if not low <= value <= high:
            raise ConfigError(settings.where(key), f"must be between {low:g} and {high:g} seconds, got {value:g}")


def _check_names(settings: Settings) -> None:
    """The names a project file (a pull request can change it) gives every spec: readable, as a
    spec's own must be (mlmeta.names)."""
    from mlmeta import names
    for key in ("project", "service", "alias", "not_in_production_tag"):
        value = getattr(settings, key)
        problem = names.problem(value) if isinstance(value, str) else None
        if problem:
            raise ConfigError(settings.where(key), problem)
