"""The highlight plugin (placeholder until it lands)."""
