"""Evaluate clones side by side: hosted vs local, base vs adapter, with the real replies as the reference."""
