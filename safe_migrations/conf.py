"""Configuration: command options over SAFE_MIGRATIONS settings over pyproject.toml over defaults."""

from __future__ import annotations

import difflib
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .findings import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_CACHE_DIR = ".safe_migrations_cache"


class ConfigError(ValueError):
    """A bad setting or option value (exit code 2)."""


# Rules whose hazard lasts as long as a scan, a rewrite or an index build of the table:
# with --pending their severity follows the table's size. Lock-only hazards (waiting for
# ACCESS EXCLUSIVE, lock accumulation, a missing lock_timeout) and compatibility breaks are
# as dangerous on an empty table as on a big one and are never rescaled.
SIZE_SCALED_RULES = (
    "SM101",  # CREATE INDEX without CONCURRENTLY: the build reads the whole table
    "SM104",  # UNIQUE constraint: builds its index under ACCESS EXCLUSIVE
    "SM105",  # FOREIGN KEY validated at once: scans the referencing table
    "SM106",  # CHECK validated at once: scans the table
    "SM108",  # SET NOT NULL: scans the table
    "SM109",  # ALTER COLUMN TYPE: rewrites the table (info findings, the safe list, stay info)
    "SM110",  # primary key type change: rewrites
    "SM111",  # volatile default / stored generated column: rewrites
    "SM112",  # new primary key / identity column: rewrite and index build
    "SM113",  # exclusion constraint: index build under ACCESS EXCLUSIVE
    "SM114",  # VACUUM FULL / CLUSTER: rewrites
    "SM115",  # REINDEX: rebuilds indexes
)


@dataclass(frozen=True)
class SizeThresholds:
    """Estimated rows under which a size-scaled error is only a warning, and over which a
    size-scaled warning is an error (``--pending`` only: sizes come from the target)."""

    small_rows: int = 10_000
    large_rows: int = 1_000_000
    rules: tuple[str, ...] = SIZE_SCALED_RULES


def _parse_size_thresholds(raw: Any, where: str = "SIZE_THRESHOLDS") -> SizeThresholds:
    """``where`` names the setting in errors (the settings key or the pyproject key)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping (SMALL_ROWS, LARGE_ROWS, RULES)")
    values = {str(k).upper().replace("-", "_"): v for k, v in raw.items()}
    unknown = sorted(set(values) - {"SMALL_ROWS", "LARGE_ROWS", "RULES"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    counts = {}
    for key in ("SMALL_ROWS", "LARGE_ROWS"):
        if key in values:
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{where}[{key!r}] must be a row count (an integer >= 0)")
            counts[key] = value
    out = SizeThresholds(
        small_rows=counts.get("SMALL_ROWS", SizeThresholds.small_rows),
        large_rows=counts.get("LARGE_ROWS", SizeThresholds.large_rows),
    )
    if out.small_rows > out.large_rows:
        raise ConfigError(f"{where}: SMALL_ROWS must not exceed LARGE_ROWS")
    if "RULES" in values:
        rules = values["RULES"]
        if isinstance(rules, str) or not isinstance(rules, (list, tuple, set, frozenset)):
            raise ConfigError(f"{where}['RULES'] must be a list of rule codes")
        out = replace(out, rules=tuple(str(r).upper() for r in rules))
    return out


_DURATION_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000}


def parse_duration_ms(value: Any, name: str) -> int:
    """A PostgreSQL-style duration ("5s", "500ms", 2000) in whole milliseconds (0: off)."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a duration such as '5s' or '500ms'")
    if isinstance(value, int):
        return max(value, 0)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h)?\s*", str(value))
    if not match:
        raise ConfigError(f"{name} must be a duration such as '5s' or '500ms', not {value!r}")
    return int(float(match[1]) * _DURATION_UNITS[match[2] or "ms"])


@dataclass(frozen=True)
class SquashThresholds:
    """When an app is due for a squash (``squashplan``): both must hold."""

    count: int = 50  # migrations since the last squash
    age_days: int = 180  # age of the oldest of them
    window_days: int = 90  # the recent window the rate (migrations per month) is measured over


@dataclass(frozen=True)
class Config:
    database: str = "default"
    pg_version: int | None = None
    fail_on: Severity | None = Severity.ERROR  # None: never fail
    include_third_party: bool = False
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severities: dict[str, Severity] = field(default_factory=dict)
    cache_dir: Path | None = None  # None: caching off
    root: Path = field(default_factory=Path.cwd)
    lock_timeout: str | None = None  # set for migrations by the deploy (e.g. "2s")
    statement_timeout: str | None = None  # likewise
    squash: SquashThresholds = field(default_factory=SquashThresholds)
    # The pre-deploy gate (--pending): every query on the target is bounded by these.
    gate_statement_timeout_ms: int = 5_000
    gate_lock_timeout_ms: int = 1_000
    size_thresholds: SizeThresholds = field(default_factory=SizeThresholds)
    parallel: bool = True  # analyse in a second process on a machine with two CPUs (parallel.py)

    def rule_enabled(self, code: str, name: str) -> bool:
        def matches(patterns: tuple[str, ...]) -> bool:
            return any(code.upper().startswith(p.upper()) or name == p.lower() for p in patterns if p)

        if self.select and not matches(self.select):
            return False
        return not matches(self.ignore)


KNOWN_KEYS = frozenset(
    {
        "POSTGRES_VERSION",
        "FAIL_ON",
        "SEVERITIES",
        "SELECT",
        "IGNORE",
        "INCLUDE_THIRD_PARTY",
        "PARALLEL",
        "LOCK_TIMEOUT",
        "STATEMENT_TIMEOUT",
        "CACHE_DIR",
        "SQUASH",
        "SIZE_THRESHOLDS",
        "GATE_STATEMENT_TIMEOUT",
        "GATE_LOCK_TIMEOUT",
    }
)

# PostgreSQL major versions the offline SQL and the rules know about. Below 10 the numbering
# had two parts (9.6); the upper bound is generous but catches typos such as 150.
MIN_PG_VERSION, MAX_PG_VERSION = 9, 40


def parse_pg_version(value: Any, origin: str) -> int:
    """A PostgreSQL major version number, else a ConfigError naming ``origin``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or not MIN_PG_VERSION <= number <= MAX_PG_VERSION:
        raise ConfigError(
            f"{origin} must be a PostgreSQL major version ({MIN_PG_VERSION} to {MAX_PG_VERSION}), not {value!r}"
        )
    return number


def _known_rule(pattern: str) -> bool:
    """Whether a SELECT/IGNORE entry names at least one rule (a code, a code prefix or a name)."""
    from .rules import all_rules

    return any(r.code.startswith(pattern.upper()) or r.name == pattern.lower() for r in all_rules())


def _rule_list(raw: Any, origin: str) -> tuple[str, ...]:
    """Rule codes, code prefixes or names; a string is one entry or a comma-separated list."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in raw):
        raise ConfigError(f"{origin} must be a list of rule codes or names, e.g. ['SM101', 'drop-column']")
    entries = tuple(_split(list(raw)))
    unknown = [e for e in entries if not _known_rule(e)]
    if unknown:
        raise ConfigError(f"{origin}: no rule matches {', '.join(map(repr, unknown))} (see --list-rules)")
    return entries


def _parse_severity_map(raw: Any, origin: str) -> dict[str, Severity]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin} must be a mapping of rule code to severity")
    from .rules import all_rules

    codes = {r.code for r in all_rules()}
    names = {r.name: r.code for r in all_rules()}
    out = {}
    for key, value in raw.items():
        code = names.get(str(key).lower(), str(key).upper())
        if code not in codes:
            raise ConfigError(f"{origin}: no rule {key!r} (see --list-rules)")
        try:
            out[code] = Severity.parse(str(value))
        except ValueError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return out


def parse_fail_on(value: str, origin: str = "--fail-on") -> Severity | None:
    if value.lower() == "never":
        return None
    try:
        return Severity.parse(value)
    except ValueError:
        raise ConfigError(f"{origin}: expected error, warning, info or never, not {value!r}") from None


def pyproject_candidates(root: Path) -> list[Path]:
    """Where a pyproject.toml is looked for: from the project root up to the repository's top."""
    found = []
    for folder in (root, *root.parents):
        found.append(folder / "pyproject.toml")
        if (folder / ".git").exists():
            break
    return found


def _pyproject(root: Path) -> dict[str, Any]:
    for candidate in pyproject_candidates(root):
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{candidate}: {exc}") from None
            tool = data.get("tool", {})
            section = tool.get("safe_migrations", {}) if isinstance(tool, dict) else {}
            if not isinstance(section, dict):
                raise ConfigError(f"{candidate}: [tool.safe_migrations] must be a table, not {section!r}")
            return {str(k).upper().replace("-", "_"): v for k, v in section.items()}
    return {}


def project_root() -> Path:
    from django.conf import settings

    base = getattr(settings, "BASE_DIR", None)
    if base:
        return Path(base)
    return Path.cwd()


def load(options: dict[str, Any] | None = None) -> Config:
    """Merge every source; ``options`` are the command's (None means not given)."""
    from django.conf import settings

    options = options or {}
    root = project_root()
    merged: dict[str, Any] = {}
    from_pyproject = _pyproject(root)
    merged.update(from_pyproject)
    user = getattr(settings, "SAFE_MIGRATIONS", {}) or {}
    if not isinstance(user, dict):
        raise ConfigError("settings.SAFE_MIGRATIONS must be a dict")
    from_settings = {str(k).upper(): v for k, v in user.items()}
    merged.update(from_settings)

    for key in merged:
        if key not in KNOWN_KEYS:
            source = "SAFE_MIGRATIONS" if key in from_settings else "[tool.safe_migrations]"
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown key {key!r}{hint}; known: {', '.join(sorted(KNOWN_KEYS))}")

    def origin(key: str) -> str:
        if key in from_settings:
            return f"SAFE_MIGRATIONS[{key!r}]"
        return f"[tool.safe_migrations] {key.lower().replace('_', '-')}"

    config = Config(root=root)
    if "POSTGRES_VERSION" in merged:
        config = replace(
            config, pg_version=parse_pg_version(merged["POSTGRES_VERSION"], origin("POSTGRES_VERSION"))
        )
    if "FAIL_ON" in merged:
        value = merged["FAIL_ON"]
        if not isinstance(value, str):
            raise ConfigError(f"{origin('FAIL_ON')} must be error, warning, info or never, not {value!r}")
        config = replace(config, fail_on=parse_fail_on(value, origin("FAIL_ON")))
    if "SEVERITIES" in merged:
        config = replace(config, severities=_parse_severity_map(merged["SEVERITIES"], origin("SEVERITIES")))
    if "SELECT" in merged:
        config = replace(config, select=_rule_list(merged["SELECT"], origin("SELECT")))
    if "IGNORE" in merged:
        config = replace(config, ignore=_rule_list(merged["IGNORE"], origin("IGNORE")))
    if "INCLUDE_THIRD_PARTY" in merged:
        value = merged["INCLUDE_THIRD_PARTY"]
        if not isinstance(value, bool):
            raise ConfigError(f"{origin('INCLUDE_THIRD_PARTY')} must be True or False, not {value!r}")
        config = replace(config, include_third_party=value)
    if "PARALLEL" in merged:
        value = merged["PARALLEL"]
        if not isinstance(value, bool):
            raise ConfigError(f"{origin('PARALLEL')} must be True or False, not {value!r}")
        config = replace(config, parallel=value)
    timeouts: dict[str, str | None] = {}
    for key in ("LOCK_TIMEOUT", "STATEMENT_TIMEOUT"):
        value = merged.get(key)
        if value is not None and value != "":
            parse_duration_ms(value, origin(key))  # a typo here would hide SM117's warnings
            timeouts[key] = str(value)
    config = replace(
        config, lock_timeout=timeouts.get("LOCK_TIMEOUT"), statement_timeout=timeouts.get("STATEMENT_TIMEOUT")
    )
    if "SQUASH" in merged:
        # Per key: a COUNT in settings keeps the pyproject's age-days.
        sources = [from_pyproject.get("SQUASH"), from_settings.get("SQUASH")]
        config = replace(config, squash=_parse_squash([raw for raw in sources if raw is not None]))
    if "SIZE_THRESHOLDS" in merged:
        config = replace(
            config,
            size_thresholds=_parse_size_thresholds(merged["SIZE_THRESHOLDS"], origin("SIZE_THRESHOLDS")),
        )
    if "GATE_STATEMENT_TIMEOUT" in merged:
        ms = parse_duration_ms(merged["GATE_STATEMENT_TIMEOUT"], origin("GATE_STATEMENT_TIMEOUT"))
        config = replace(config, gate_statement_timeout_ms=ms)
    if "GATE_LOCK_TIMEOUT" in merged:
        ms = parse_duration_ms(merged["GATE_LOCK_TIMEOUT"], origin("GATE_LOCK_TIMEOUT"))
        config = replace(config, gate_lock_timeout_ms=ms)
    cache_setting = merged.get("CACHE_DIR", DEFAULT_CACHE_DIR)
    if cache_setting not in (None, False) and not isinstance(cache_setting, (str, os.PathLike)):
        raise ConfigError(f"{origin('CACHE_DIR')} must be a path or None, not {cache_setting!r}")
    cache_dir = None if cache_setting in (None, False, "") else Path(str(cache_setting))
    if cache_dir is not None and not cache_dir.is_absolute():
        cache_dir = Path.cwd() / cache_dir
    config = replace(config, cache_dir=cache_dir)

    # Command options win.
    if options.get("database"):
        config = replace(config, database=options["database"])
    if options.get("pg_version") is not None:
        config = replace(config, pg_version=parse_pg_version(options["pg_version"], "--pg-version"))
    if options.get("fail_on") is not None:
        config = replace(config, fail_on=parse_fail_on(options["fail_on"]))
    if options.get("include_third_party"):
        config = replace(config, include_third_party=True)
    if options.get("select"):
        config = replace(config, select=_rule_list(options["select"], "--select"))
    if options.get("ignore"):
        config = replace(config, ignore=config.ignore + _rule_list(options["ignore"], "--ignore"))
    for option, attribute, flag in (
        ("squash_count", "count", "--count"),
        ("squash_age_days", "age_days", "--age-days"),
    ):
        if options.get(option) is not None:
            config = replace(config, squash=_squash_with(config.squash, attribute, options[option], flag))
    if options.get("no_cache") or os.environ.get("SAFE_MIGRATIONS_NO_CACHE"):
        config = replace(config, cache_dir=None)
    return config


def _split(values: Any) -> list[str]:
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


_SQUASH_KEYS = {"COUNT": "count", "AGE_DAYS": "age_days", "WINDOW_DAYS": "window_days"}


def _squash_with(thresholds: SquashThresholds, attribute: str, value: Any, origin: str) -> SquashThresholds:
    least = 1 if attribute == "window_days" else 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = least - 1
    if number < least or isinstance(value, bool):
        raise ConfigError(f"{origin} must be a whole number of at least {least}, not {value!r}")
    return replace(thresholds, **{attribute: number})


def _parse_squash(sources: list[Any]) -> SquashThresholds:
    """SAFE_MIGRATIONS["SQUASH"] over [tool.safe_migrations.squash] (keys in either spelling)."""
    thresholds = SquashThresholds()
    for raw in sources:
        if not isinstance(raw, dict):
            raise ConfigError("SAFE_MIGRATIONS['SQUASH'] must be a dict, e.g. {'COUNT': 50, 'AGE_DAYS': 180}")
        for key, value in raw.items():
            name = str(key).upper().replace("-", "_")
            if name not in _SQUASH_KEYS:
                raise ConfigError(
                    f"SAFE_MIGRATIONS['SQUASH']: unknown key {key!r} (expected {', '.join(_SQUASH_KEYS)})"
                )
            origin = f"SAFE_MIGRATIONS['SQUASH'][{key!r}]"
            thresholds = _squash_with(thresholds, _SQUASH_KEYS[name], value, origin)
    return thresholds
