"""Project tooling outside the command: the documentation site's generated pages."""
