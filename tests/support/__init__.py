"""Test-side helpers: recording channels and service fixtures."""
