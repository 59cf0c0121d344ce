"""The topics plugin (placeholder until it lands)."""
