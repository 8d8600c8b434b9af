"""The spec: the v1 format as pydantic models, the YAML loader that keeps positions, the rules beyond
the shape, the JSON Schema, the demo format, and which spec files a command works on."""
