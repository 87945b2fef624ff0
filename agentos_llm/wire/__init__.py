"""Pure converters between our types and each vendor's wire format (no I/O)."""
