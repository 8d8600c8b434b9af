"""Where ``mlmeta sandbox`` keeps the tokens it issues, keeping them out of git - and the
quickstart's public tokens, which it accepts as a quickstart server does.

By default the tokens go to the user's cache folder, outside any repository. When someone asks
for a file inside a git work tree instead, its path is added to that repository's
``.git/info/exclude`` (the clone's own ignore list, never committed), so ``git add -A`` cannot
pick up a token by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

# OpenMetadata's quickstart signs its JWTs with the RS256 key pair in its conf/ (kid Gb389a-...),
# which is not published; the tokens themselves are public constants, used unchanged by its own
# clients, so the sandbox recognises them by value (claims in the comments; neither expires).
#
# admin (sub admin, isBot false, iat 2022-09-23): ingestion/tests/integration/integration_base.py
# OM_JWT, the SDK wheels' _openmetadata_testutils/ometa.py and examples/workflows/*.yaml (1.5.15.2
# and 2.0.7.0), and the ML-model CI/CD demo's mlmodel-cicd/mlmodel_cicd.py OM_JWT_TOKEN.
QUICKSTART_ADMIN = (
    "eyJraWQiOiJHYjM4OWEtOWY3Ni1nZGpzLWE5MmotMDI0MmJrOTQzNTYiLCJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
    "eyJzdWIiOiJhZG1pbiIsImlzQm90IjpmYWxzZSwiaXNzIjoib3Blbi1tZXRhZGF0YS5vcmciLCJpYXQiOjE2NjM5Mzg0NjIsImVtYWlsIjoiYWRt"
    "aW5Ab3Blbm1ldGFkYXRhLm9yZyJ9.tS8um_5DKu7HgzGBzS1VTA5uUjKWOCU0B_j08WXBiEC0mr0zNREkqVfwFDD-d24HlNEbrqioLsBuFRiwIWKc"
    "1m_ZlVQbG7P36RUxhuv2vbSp80FKyNM-Tj93FDzq91jsyNmsQhyNv_fNr3TXfzzSPjHt8Go0FMMP66weoKMgW2PbXlhVKwEuXUHyakLLzewm9UMe"
    "QaEiRzhiTMU3UkLXcKbYEJJvfNFcLwSl9W8JCO_l0Yj3ud-qt_nQYEZwqW6u5nfdQllN133iikV4fM5QZsMCnm8Rq1mvLR0y9bmJiD7fwM1tmJ79"
    "1TUWqmKaTnP49U493VanKpUAfzIiOiIbhg")
# ingestion-bot (isBot true, tokenType BOT, iat 2024-01-08): the one bot token OpenMetadata
# publishes, in the SDK wheels' examples/workflows/sas.yaml (1.5.15.2 and 2.0.7.0). A real server
# takes a bot token only while it equals the bot's stored one (JwtFilter.validateBotToken), so a
# fresh install prints its own under Settings > Bots.
QUICKSTART_INGESTION_BOT = (
    "eyJraWQiOiJHYjM4OWEtOWY3Ni1nZGpzLWE5MmotMDI0MmJrOTQzNTYiLCJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJvcGVuLW1ldGFkYXRhLm9yZyIsInN1YiI6ImluZ2VzdGlvbi1ib3QiLCJlbWFpbCI6ImluZ2VzdGlvbi1ib3RAb3Blbm1ldGFkYXRh"
    "Lm9yZyIsImlzQm90Ijp0cnVlLCJ0b2tlblR5cGUiOiJCT1QiLCJpYXQiOjE3MDQ3NDY0MzYsImV4cCI6bnVsbH0.qRWByaRw3F1B0bDqdpmxDsHE"
    "Ux9Npk5VNelpabuvmVERjIG8AY88p1dv5gBME6Y1-kfTtCAMtSxsll0_gTR35D1foVdXgGMRAPyNXH0JHRpENBnT1V3OVO0yRWmeqsp5K7yqiaVa"
    "-CeqxitSgYrns58BFRD_vFX5vxMHirFBrFddH7b8af8823a8Oh-wMDCuJJd7Ya61Kv6gUpssE7Y403PwomLK6pE7gsAgZ5YOyjHlQ889C9z8oLQ2"
    "68BX3ndmTp6t1J7MYgOEqeIzeCoBQZf6aBdyCqYajB3TTwb3SHFz2TEYF5xeLvYlZ77ek3l22m6Ehh5d4t2jB-ZOFDUkqA")
QUICKSTART = {QUICKSTART_ADMIN: ("admin", False), QUICKSTART_INGESTION_BOT: ("ingestion-bot", True)}


def default_token_file() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mlmeta" / "sandbox" / "tokens.json"


def keep_out_of_git(token_file: Path) -> Path | None:
    """List the token files in the enclosing repository's .git/info/exclude; that file, or None."""
    target = token_file.resolve()
    for folder in target.parents:
        git_dir = folder / ".git"
        if git_dir.is_dir():
            exclude = git_dir / "info" / "exclude"
            relative = target.parent.relative_to(folder).as_posix()
            patterns = [f"/{relative}/{name}" if relative != "." else f"/{name}"
                        for name in (target.name, "*.jwt")]
            present = exclude.read_text(encoding="utf-8").splitlines() if exclude.is_file() else []
            missing = [p for p in patterns if p not in present]
            if missing:
                exclude.parent.mkdir(parents=True, exist_ok=True)
                with exclude.open("a", encoding="utf-8") as handle:
                    handle.write("".join(f"{p}\n" for p in ["# mlmeta sandbox tokens", *missing]))
            return exclude
        if (folder / ".git").is_file():  # a worktree or submodule: its git dir is elsewhere; leave it
            return None
    return None
