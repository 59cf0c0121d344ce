"""The trending plugin (placeholder until it lands)."""
