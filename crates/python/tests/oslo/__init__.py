"""Tests of the waxseal oslo.messaging driver.

A package, so that its conftest does not shadow tests/conftest.py.
"""
