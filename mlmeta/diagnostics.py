"""The one finding record every check produces and every output format renders.

A Diagnostic says where (file, line, column: 1-based, as editors and GitHub count), what (a
stable code and a message) and how bad (severity). Checks never print; renderers in
``mlmeta.output`` turn the same records into text, JSON or GitHub annotations.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    column: int
    code: str
    message: str
    severity: Severity = Severity.ERROR
    end_line: int | None = None
    end_column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_dict(self) -> dict:
        record = asdict(self)
        record["severity"] = self.severity.value
        return record

    def promoted(self) -> Diagnostic:
        """The same finding as an error (``--strict`` turns warnings into errors)."""
        return Diagnostic(**{**asdict(self), "severity": Severity.ERROR})


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


# Codes are stable: tests, CI annotations and users' suppressions refer to them. The documentation's
# finding-code page is generated from this table.
CODES: dict[str, str] = {
    # files and YAML
    "F001": "file cannot be read",
    "F002": "file is empty",
    "F003": "file is not UTF-8",
    "F004": "file larger than 1 MiB",
    "F005": "a path that leaves the repository, a symlink loop, or not a regular file (nothing is read)",
    "Y001": "YAML syntax error",
    "Y002": "duplicate key",
    "Y003": "YAML alias expansion (> 100,000 values) or nesting (> 64) over the limit",
    "Y004": "unsupported YAML tag (`!!python/...`, `!include`)",
    "Y005": "mapping key is not a string",
    # spec structure
    "S001": "unknown key (with a \"did you mean\")",
    "S002": "missing required key",
    "S003": "wrong type",
    "S004": "invalid value (enum, empty name, URL)",
    "S005": "malformed fully qualified name",
    "S006": "duplicate name (feature, source, tag, model)",
    "S007": "conflicting or incomplete keys",
    "S008": "unsupported spec format version",
    "S009": "`description_file` not found",
    "S010": "a model-card section the policy requires for one of the spec's tags is missing",
    "S011": "a name (model, feature, FQN, column, owner, tag, service, registered model, alias ...) holds a "
            "bidirectional control, an invisible or a control character, named by its code point",
    "S012": "free text (a description, a model-card section) holds a bidirectional embedding, override or "
            "isolate, a tag character or a control character other than tab and line breaks (warning)",
    # online references (OpenMetadata, MLflow)
    "R001": "source asset (table, topic, ...) not found in OpenMetadata",
    "R002": "column or field not found in its asset",
    "R003": "source asset is deleted",
    "R004": "registered model not found in the registry (MLflow or Kubeflow Model Registry)",
    "R005": "no version in Production (notice; an error with --require-production)",
    "R006": "feature not in the model's signature (warning)",
    "R007": "signature input not covered by a feature (warning)",
    "R008": "ML model service not found (a notice with --create-service)",
    "R009": "user, team, tag, glossary term, dashboard or domain not found",
    "R010": "trained on a dataset whose asset no source of the spec names (warning)",
    "R011": "a source no logged training dataset covers (notice)",
    "R012": "a training dataset maps to no asset in the catalog (notice)",
    "R013": "the Kubeflow Production rule cannot tell: two versions match, or the property is not a string",
    "R014": "an alias no version of the registered model carries, close to one a version does, or named by the "
            "spec while its versions carry others (with a \"did you mean\")",
    # publishing
    "P001": "the server refused the model, or kept failing",
    "P002": "the server accepted a write but does not hold it (read back after the write)",
    "P003": "a saved plan no longer holds: the catalog, the registry or the spec changed since it was made "
            "(`publish --plan` writes nothing)",
    # ownership (one service, many projects: mlmeta.catalog.ownership)
    "O001": "a spec here for a model another project owns (named): publish leaves it alone, exit 1",
    "O002": "the model was written last by OpenMetadata's MLflow connector: publish takes it over (warning)",
    "O003": "a model of the spec with no recorded owner yet: the next publish records this project (notice)",
    # drift (mlmeta drift)
    "D001": "a managed field edited in the catalog since mlmeta's last write (who, when)",
    "D002": "a source asset deleted or gone",
    "D003": "a source column or field dropped",
    "D004": "a source column or field retyped",
    "D005": "a lineage edge from a source (or to an output) of the spec missing",
    "D006": "a lineage edge nobody manages added (mlmeta leaves it alone)",
    "D007": "a Production version not published yet",
    "D008": "no Production version any more, but the catalog still shows one",
    "D009": "a model mlmeta published whose spec is gone (only when every spec is checked)",
    "D010": "the spec changed since it was last published",
    "D011": "an edge's column-level lineage, or what it stands for, differs from the spec's",
    "D012": "an edge mlmeta drew that the spec no longer asks for",
}
