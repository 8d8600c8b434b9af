"""Model-card policy: the sections a model must document, per tag (pure).

```toml
[tool.mlmeta.policy]                 # a tag -> the model-card sections a model carrying it must have
"Tier.Tier1" = ["intended_use", "limitations", "ethical_considerations", "evaluation"]
"PII.Sensitive" = ["ethical_considerations"]
```

A spec tagged with a key's tag that leaves one of its sections out (or empty) is invalid: S010
at the ``model_card`` line (the ``tags`` entry when there is no card), naming the tag and where
the policy is written. The policy is checked by every command that reads specs, offline.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from mlmeta.catalog import fqn
from mlmeta.errors import ConfigError
from mlmeta.plan.describe import CARD_TITLES
from mlmeta.spec.load import LoadedSpec

Policy = dict[str, tuple[str, ...]]  # normalised tag FQN -> required section keys


def policy_from(table: Any, setting: Callable[[str], str] = str) -> Policy:
    """``[tool.mlmeta.policy]`` as data; a tag or section that cannot be is a ConfigError naming it."""
    if not isinstance(table, dict):
        raise ConfigError(setting("policy"), "expected a table of tag = [model-card sections]")
    policy: Policy = {}
    for tag, sections in table.items():
        where = setting(f'policy."{tag}"')
        try:
            name = fqn.normalize(fqn.join(*fqn.check_parts(tag, (2, 99), "tag")))
        except fqn.FqnError as error:
            raise ConfigError(where, f"{error}; a key is a tag FQN such as 'Tier.Tier1'") from None
        if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
            raise ConfigError(where, f"expected a list of model-card sections, got {sections!r}")
        for section in sections:
            if section not in CARD_TITLES:
                close = difflib.get_close_matches(section, CARD_TITLES, n=1)
                raise ConfigError(where, f"unknown model-card section {section!r}"
                                  + (f"; did you mean {close[0]!r}?" if close else
                                     f"; the sections are: {', '.join(CARD_TITLES)}"))
        policy[name] = tuple(dict.fromkeys(sections))
    return policy


def check(loaded: LoadedSpec, policy: Policy, where: str) -> list:
    """S010 for each section a tag of the spec requires and the card lacks (``where``: the policy's file)."""
    spec, findings = loaded.spec, []
    card = spec.model_card
    for i, tag in enumerate(spec.tags or []):
        required = policy.get(fqn.normalize(tag), ())
        missing = [s for s in required if card is None or not (getattr(card, s) or "").strip()]
        if not missing:
            continue
        loc = ("model_card",) if card is not None else ("tags", i)
        for section in missing:
            findings.append(loaded.diagnostic(loc, "S010", f"{tag} models must document model_card.{section} "
                                                           f"({CARD_TITLES[section]}); the policy is in {where}",
                                              at_key=card is not None))
    return findings


def unused(policy: Policy, specs: list[LoadedSpec]) -> list[str]:
    """Policy tags no spec carries: most likely a typo, said once per run (a warning, not an error)."""
    used = {fqn.normalize(t) for s in specs for t in s.spec.tags or []}
    return [f"[policy] names {tag}, which none of the {len(specs)} spec(s) checked is tagged with"
            for tag in policy if tag not in used]
