"""Format readers, the loader that runs them, and the merge of sightings."""
