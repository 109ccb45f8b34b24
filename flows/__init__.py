"""Thin Prefect flows over the `pipeline` library (no logic of their own)."""
