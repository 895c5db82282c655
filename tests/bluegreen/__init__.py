"""Fixtures for the phase, plan, fix and blue/green proof tests."""
