"""Helpers every component uses. Pure Python: no kfp import, heavy imports deferred."""
