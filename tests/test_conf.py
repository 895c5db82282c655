"""Settings and pyproject values are checked: a typo is a one-line error, never a silent change."""

from __future__ import annotations

import pytest

from safe_migrations import conf
from safe_migrations.conf import ConfigError


@pytest.fixture
def project(tmp_path, settings):
    (tmp_path / ".git").mkdir()  # pyproject.toml is looked for up to the repository's top
    settings.BASE_DIR = tmp_path
    settings.SAFE_MIGRATIONS = {}
    return tmp_path


def load_with(settings, options=None, **values):
    settings.SAFE_MIGRATIONS = values
    return conf.load(options)


def test_a_string_is_one_rule_or_a_comma_separated_list(project, settings):
    # Read letter by letter, "SM301" would ignore every rule whose code starts with S.
    assert load_with(settings, IGNORE="SM301").ignore == ("SM301",)
    assert load_with(settings, SELECT="SM1, drop-column").select == ("SM1", "drop-column")
    config = load_with(settings, IGNORE="SM301")
    assert config.rule_enabled("SM201", "drop-column")
    assert not config.rule_enabled("SM301", "runpython-without-reverse")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"SELECT": 5}, "SAFE_MIGRATIONS['SELECT'] must be a list of rule codes or names"),
        ({"IGNORE": None}, "SAFE_MIGRATIONS['IGNORE'] must be a list of rule codes or names"),
        ({"SELECT": ["NOPE"]}, "SAFE_MIGRATIONS['SELECT']: no rule matches 'NOPE'"),
        ({"FAIL_0N": "warning"}, "SAFE_MIGRATIONS: unknown key 'FAIL_0N' (did you mean 'FAIL_ON'?)"),
        ({"FAIL_ON": "sometimes"}, "SAFE_MIGRATIONS['FAIL_ON']: expected error, warning, info or never"),
        ({"FAIL_ON": 1}, "SAFE_MIGRATIONS['FAIL_ON'] must be error, warning, info or never"),
        ({"INCLUDE_THIRD_PARTY": "false"}, "SAFE_MIGRATIONS['INCLUDE_THIRD_PARTY'] must be True or False"),
        ({"PARALLEL": 0}, "SAFE_MIGRATIONS['PARALLEL'] must be True or False"),
        ({"GATE_LOCK_TIMEOUT": "soon"}, "SAFE_MIGRATIONS['GATE_LOCK_TIMEOUT'] must be a duration"),
        ({"GATE_STATEMENT_TIMEOUT": True}, "SAFE_MIGRATIONS['GATE_STATEMENT_TIMEOUT'] must be a duration"),
        ({"LOCK_TIMEOUT": "banana"}, "SAFE_MIGRATIONS['LOCK_TIMEOUT'] must be a duration"),
        ({"STATEMENT_TIMEOUT": ["2s"]}, "SAFE_MIGRATIONS['STATEMENT_TIMEOUT'] must be a duration"),
        (
            {"POSTGRES_VERSION": True},
            "SAFE_MIGRATIONS['POSTGRES_VERSION'] must be a PostgreSQL major version",
        ),
        ({"POSTGRES_VERSION": 150}, "SAFE_MIGRATIONS['POSTGRES_VERSION'] must be a PostgreSQL major version"),
        ({"SEVERITIES": {"SM999": "error"}}, "SAFE_MIGRATIONS['SEVERITIES']: no rule 'SM999'"),
        ({"CACHE_DIR": 3}, "SAFE_MIGRATIONS['CACHE_DIR'] must be a path or None"),
    ],
)
def test_bad_settings_are_errors_naming_the_setting(project, settings, values, message):
    with pytest.raises(ConfigError) as raised:
        load_with(settings, **values)
    assert message in str(raised.value)


def test_good_settings_are_read(project, settings):
    config = load_with(
        settings,
        POSTGRES_VERSION="16",
        FAIL_ON="warning",
        SELECT=["SM1", "drop-column"],
        SEVERITIES={"drop-column": "warning", "sm301": "error"},
        INCLUDE_THIRD_PARTY=True,
        LOCK_TIMEOUT="2s",
        STATEMENT_TIMEOUT=60000,
        CACHE_DIR=None,
        PARALLEL=False,
    )
    assert not config.parallel
    assert config.pg_version == 16
    assert config.fail_on is not None and config.fail_on.label == "warning"
    assert config.select == ("SM1", "drop-column")
    assert {code: s.label for code, s in config.severities.items()} == {"SM201": "warning", "SM301": "error"}
    assert config.include_third_party
    assert (config.lock_timeout, config.statement_timeout) == ("2s", "60000")
    assert config.cache_dir is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"select": "NOPE"}, "--select: no rule matches 'NOPE'"),
        ({"ignore": "SM9"}, "--ignore: no rule matches 'SM9'"),
        ({"pg_version": 0}, "--pg-version must be a PostgreSQL major version"),
        ({"pg_version": -1}, "--pg-version must be a PostgreSQL major version"),
        ({"pg_version": 99}, "--pg-version must be a PostgreSQL major version"),
    ],
)
def test_bad_options_are_errors(project, settings, options, message):
    with pytest.raises(ConfigError) as raised:
        load_with(settings, options)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[tool]\nsafe_migrations = 3\n", "[tool.safe_migrations] must be a table"),
        ('[tool.safe_migrations]\nfailon = "warning"\n', "[tool.safe_migrations]: unknown key 'FAILON'"),
        ("[tool.safe_migrations]\nignore = 5\n", "[tool.safe_migrations] ignore must be a list"),
        (
            '[tool.safe_migrations]\npostgres-version = "x"\n',
            "[tool.safe_migrations] postgres-version must be",
        ),
        ('[tool.safe_migrations]\nfail-on = "maybe"\n', "[tool.safe_migrations] fail-on: expected error"),
        (
            '[tool.safe_migrations]\ngate-lock-timeout = "soon"\n',
            "[tool.safe_migrations] gate-lock-timeout must be",
        ),
        (
            "[tool.safe_migrations.size-thresholds]\nsmall-rows = -1\n",
            "[tool.safe_migrations] size-thresholds['SMALL_ROWS'] must be a row count",
        ),
        ("[tool.safe_migrations]\nparallel = 1\n", "[tool.safe_migrations] parallel must be True or False"),
    ],
)
def test_bad_pyproject_values_name_the_pyproject_key(project, settings, toml, message):
    (project / "pyproject.toml").write_text(toml)
    with pytest.raises(ConfigError) as raised:
        conf.load()
    assert message in str(raised.value)


def test_a_pyproject_that_is_not_utf8_is_an_error(project):
    (project / "pyproject.toml").write_bytes(b'[tool.safe_migrations]\nfail-on = "\xff"\n')
    with pytest.raises(ConfigError) as raised:
        conf.load()
    assert "pyproject.toml" in str(raised.value)
