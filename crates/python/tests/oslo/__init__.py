"""Tests of the waxseal oslo.messaging driver (a package, so its conftest does not shadow tests/conftest.py)."""
