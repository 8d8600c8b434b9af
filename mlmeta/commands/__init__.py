"""One core per command: plain functions over specs, the catalog and the registry, with no command-line parsing."""
