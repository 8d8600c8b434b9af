"""``python -m mlmeta``: the command line, as the installed ``mlmeta`` script runs it."""

from mlmeta.cli import main

main()
