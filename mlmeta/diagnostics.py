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


# Codes are stable: tests, CI annotations and users' suppressions refer to them. The README
# lists them; keep both in step.
CODES: dict[str, str] = {
    # files and YAML
    "F001": "file cannot be read",
    "F002": "file is empty",
    "F003": "file is not UTF-8",
    "F004": "file is too large",
    "Y001": "YAML syntax error",
    "Y002": "duplicate key",
    "Y003": "YAML alias expansion or nesting over the limit",
    "Y004": "unsupported YAML tag",
    "Y005": "mapping key is not a string",
    # spec structure
    "S001": "unknown key",
    "S002": "missing required key",
    "S003": "wrong type",
    "S004": "invalid value",
    "S005": "malformed fully qualified name",
    "S006": "duplicate name",
    "S007": "conflicting or incomplete keys",
    "S008": "unsupported spec format version",
    "S009": "referenced file missing",
    "S010": "model-card section required by the model-card policy missing",
    # online references (OpenMetadata, MLflow)
    "R001": "table not found",
    "R002": "column not found",
    "R003": "referenced entity is deleted",
    "R004": "registered model not found in MLflow",
    "R005": "no Production version in MLflow",
    "R006": "feature not in the model signature",
    "R007": "signature input not covered by a feature",
    "R008": "ML model service not found",
    "R009": "reference not found in OpenMetadata",
    "R010": "trained on a dataset whose asset no source of the spec names",
    "R011": "source not among the datasets the Production version logged for training",
    "R012": "training dataset maps to no asset in the catalog",
    # publishing
    "P001": "publishing failed",
}
