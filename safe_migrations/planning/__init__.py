"""Safe sequences for must-split migrations (--plan) and the files that carry them out (--fix)."""
