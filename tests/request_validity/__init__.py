"""Request bodies checked against the vendors' published schemas (see tests/schemas/README.md)."""
