"""Does the Production model's signature agree with the spec's features? (pure)

A feature the signature lacks, or a signature input no feature covers, is a warning (an error
with --strict): the documentation describes a model other than the one serving.
"""

from __future__ import annotations

from mlmeta.diagnostics import Diagnostic, Severity
from mlmeta.registry.types import ProductionVersion
from mlmeta.spec.load import LoadedSpec

TEXT_TYPES = {"string", "binary"}


def check(loaded: LoadedSpec, facts: ProductionVersion) -> list[Diagnostic]:
    spec = loaded.spec
    if "features" not in spec.model_fields_set:
        return []
    where = f"version {facts.version} of {facts.registered_model!r}"
    if facts.signature is None:
        return [loaded.diagnostic(("features",), "R006", f"{where} has no signature; features were not checked",
                                  severity=Severity.NOTICE, at_key=True)]
    inputs = {i.name: i.type for i in facts.signature}
    findings = []
    for i, feature in enumerate(spec.features):
        kind = inputs.get(feature.name)
        if kind is None:
            findings.append(loaded.diagnostic(("features", i, "name"), "R006",
                                              f"feature {feature.name!r} is not an input of {where}",
                                              severity=Severity.WARNING))
        elif feature.type == "numerical" and kind in TEXT_TYPES:
            findings.append(loaded.diagnostic(("features", i, "type"), "R006",
                                              f"feature {feature.name!r} is numerical but {where} takes it as {kind}",
                                              severity=Severity.WARNING))
    uncovered = sorted(set(inputs) - {f.name for f in spec.features})
    if uncovered:
        findings.append(loaded.diagnostic(("features",), "R007",
                                          f"signature inputs of {where} not covered by a feature: {', '.join(uncovered)}",
                                          severity=Severity.WARNING, at_key=True))
    return findings
