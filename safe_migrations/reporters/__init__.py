"""Reporters turn a Report into text; they never decide anything."""

from . import json, sql, text

FORMATS = {"text": text.render, "json": json.render}

__all__ = ["FORMATS", "json", "sql", "text"]
