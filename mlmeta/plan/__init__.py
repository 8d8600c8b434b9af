"""What publish would write, worked out from a spec, the catalog's entity and the registry's facts: the
desired entity and its description, the diff as JSON Patch, lineage, the signature and training-data
checks, saved plans, and the check of a write's result."""
