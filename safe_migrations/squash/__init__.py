"""Squash planning: when each app is due, what range, what blocks it, and verified squash runs."""
