"""The catalog side: OpenMetadata's REST adapter, each release's differences, names, resolution, provenance and ownership."""
