"""Configuration: command options over SAFE_MIGRATIONS settings over pyproject.toml over defaults."""

from __future__ import annotations

import os
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

    def rule_enabled(self, code: str, name: str) -> bool:
        def matches(patterns: tuple[str, ...]) -> bool:
            return any(code.upper().startswith(p.upper()) or name == p.lower() for p in patterns if p)

        if self.select and not matches(self.select):
            return False
        return not matches(self.ignore)


def _parse_severity_map(raw: Any, origin: str) -> dict[str, Severity]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: SEVERITIES must be a mapping of rule code to severity")
    out = {}
    for key, value in raw.items():
        try:
            out[str(key).upper()] = Severity.parse(str(value))
        except ValueError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return out


def parse_fail_on(value: str) -> Severity | None:
    if value.lower() == "never":
        return None
    try:
        return Severity.parse(value)
    except ValueError:
        raise ConfigError(f"--fail-on: expected error, warning, info or never, not {value!r}") from None


def _pyproject(root: Path) -> dict[str, Any]:
    for folder in (root, *root.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{candidate}: {exc}") from None
            section = data.get("tool", {}).get("safe_migrations", {})
            return {str(k).upper().replace("-", "_"): v for k, v in section.items()}
        if (folder / ".git").exists():
            break
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

    config = Config(root=root)
    if "POSTGRES_VERSION" in merged:
        try:
            config = replace(config, pg_version=int(merged["POSTGRES_VERSION"]))
        except (TypeError, ValueError):
            raise ConfigError("SAFE_MIGRATIONS['POSTGRES_VERSION'] must be a major version number") from None
    if "FAIL_ON" in merged:
        config = replace(config, fail_on=parse_fail_on(str(merged["FAIL_ON"])))
    if "SEVERITIES" in merged:
        config = replace(config, severities=_parse_severity_map(merged["SEVERITIES"], "SEVERITIES"))
    if "SELECT" in merged:
        config = replace(config, select=tuple(str(v) for v in merged["SELECT"]))
    if "IGNORE" in merged:
        config = replace(config, ignore=tuple(str(v) for v in merged["IGNORE"]))
    if merged.get("INCLUDE_THIRD_PARTY"):
        config = replace(config, include_third_party=True)
    if merged.get("LOCK_TIMEOUT"):
        config = replace(config, lock_timeout=str(merged["LOCK_TIMEOUT"]))
    if merged.get("STATEMENT_TIMEOUT"):
        config = replace(config, statement_timeout=str(merged["STATEMENT_TIMEOUT"]))
    if "SQUASH" in merged:
        # Per key: a COUNT in settings keeps the pyproject's age-days.
        sources = [from_pyproject.get("SQUASH"), from_settings.get("SQUASH")]
        config = replace(config, squash=_parse_squash([raw for raw in sources if raw is not None]))
    cache_setting = merged.get("CACHE_DIR", DEFAULT_CACHE_DIR)
    cache_dir = None if cache_setting in (None, False, "") else Path(str(cache_setting))
    if cache_dir is not None and not cache_dir.is_absolute():
        cache_dir = Path.cwd() / cache_dir
    config = replace(config, cache_dir=cache_dir)

    # Command options win.
    if options.get("database"):
        config = replace(config, database=options["database"])
    if options.get("pg_version") is not None:
        config = replace(config, pg_version=int(options["pg_version"]))
    if options.get("fail_on") is not None:
        config = replace(config, fail_on=parse_fail_on(options["fail_on"]))
    if options.get("include_third_party"):
        config = replace(config, include_third_party=True)
    if options.get("select"):
        config = replace(config, select=tuple(_split(options["select"])))
    if options.get("ignore"):
        config = replace(config, ignore=config.ignore + tuple(_split(options["ignore"])))
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
