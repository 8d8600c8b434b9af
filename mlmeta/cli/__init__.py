"""mlmeta's command line, one module per command family: each command parses its options, calls
one core function, renders its result and exits with its code.

This module lists the commands in the order ``mlmeta --help`` shows them; ``mlmeta.cli:main`` is the
console script and ``mlmeta.cli.app`` the typer app (the docs' CLI reference is read from it).
"""

from __future__ import annotations

import typer

from mlmeta.cli import catalog, init, publish, sandbox, tools, validate, watch
from mlmeta.cli.application import app, main
from mlmeta.cli.options import with_groups

__all__ = ["app", "main"]

COMMANDS = [
    ("validate", validate.validate),
    ("plan", publish.plan),
    ("drift", catalog.drift),
    ("setup", catalog.setup),
    ("pull", catalog.pull),
    ("adopt", catalog.adopt),
    ("import", catalog.import_),
    ("publish", publish.publish),
    ("watch", watch.watch),
    ("init", init.init),
    ("doctor", tools.doctor),
    ("card", tools.card),
    ("explain", tools.explain),
    ("graph", tools.graph),
    ("schema", tools.schema),
    ("convert", tools.convert),
    ("sandbox", sandbox.sandbox),
    ("completion", tools.completion),
]
WEBHOOK_COMMANDS = [("serve", watch.webhook_serve), ("work", watch.webhook_work)]

for _name, _command in COMMANDS:
    app.command(_name)(with_groups(_command))

webhook_app = typer.Typer(help="Receive MLflow webhooks and publish the promotions they announce.",
                          no_args_is_help=True)
for _name, _command in WEBHOOK_COMMANDS:
    webhook_app.command(_name)(with_groups(_command))
app.add_typer(webhook_app, name="webhook")
