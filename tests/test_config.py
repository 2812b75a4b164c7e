"""Settings resolution: flags > environment > target > file > defaults."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from metabase_guard.config import SecretValue, Settings, resolve_settings
from metabase_guard.errors import ConfigError

CONFIG = """\
url: https://metabase.example.com
paths: [alerts, more]
defaults:
  collection: Health checks
  email: [oncall@example.com]
thresholds: {max_update_share: 0.5, min_existing: 3}
concurrency: 4
timeout: 12
targets:
  staging:
    url: https://metabase-staging.example.com/
    api_key_env: METABASE_STAGING_API_KEY
    defaults:
      email: [staging@example.com]
    thresholds: {max_delete_share: 0.1}
  empty: {}
"""


def resolve(
    tmp_path: Path,
    text: str | None = CONFIG,
    *,
    target: str | None = None,
    cli: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    name: str = "metabase-guard.yaml",
    explicit: bool = True,
) -> Settings:
    path = tmp_path / name
    if text is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return resolve_settings(
        config_path=str(path) if explicit else None,
        target=target,
        cli=cli or {},
        environ=environ or {},
    )


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = resolve_settings(config_path=None, target=None, cli={}, environ={})
    assert settings == Settings()
    assert settings.paths == ["alerts"] and settings.url is None
    assert (settings.max_update_share, settings.max_delete_share, settings.min_existing) == (
        0.3,
        0.3,
        10,
    )
    assert (settings.concurrency, settings.timeout, settings.verify) == (12, 30.0, True)
    assert settings.config_file is None


def test_default_file_in_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "metabase-guard.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    settings = resolve_settings(config_path=None, target=None, cli={}, environ={})
    assert settings.config_file == "metabase-guard.yaml"
    assert settings.url == "https://metabase.example.com"
    assert settings.paths == ["alerts", "more"]


def test_file_top_level(tmp_path: Path) -> None:
    settings = resolve(tmp_path)
    assert settings.url == "https://metabase.example.com"
    assert settings.default_collection == "Health checks"
    assert settings.default_email == ["oncall@example.com"]
    assert settings.default_slack == []
    assert (settings.max_update_share, settings.max_delete_share, settings.min_existing) == (
        0.5,
        0.3,
        3,
    )
    assert (settings.concurrency, settings.timeout) == (4, 12.0)


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    settings = resolve(tmp_path, name="conf/metabase-guard.yaml")
    assert settings.paths == [str(tmp_path / "conf" / "alerts"), str(tmp_path / "conf" / "more")]


def test_target_overrides_the_top_level_key_by_key(tmp_path: Path) -> None:
    settings = resolve(
        tmp_path,
        target="staging",
        environ={"METABASE_API_KEY": "prod-key", "METABASE_STAGING_API_KEY": "staging-key"},
    )
    assert settings.target == "staging"
    assert settings.url == "https://metabase-staging.example.com"  # trailing slash dropped
    assert settings.api_key == SecretValue("staging-key")
    assert settings.api_key_env == "METABASE_STAGING_API_KEY"
    assert settings.default_email == ["staging@example.com"]
    assert settings.default_collection == "Health checks"  # not overridden
    assert (settings.max_update_share, settings.max_delete_share) == (0.5, 0.1)


def test_empty_target_keeps_the_top_level(tmp_path: Path) -> None:
    settings = resolve(tmp_path, target="empty")
    assert settings.url == "https://metabase.example.com" and settings.target == "empty"


def test_unknown_target_lists_the_defined_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown target 'prod'.*: empty, staging"):
        resolve(tmp_path, target="prod")


def test_target_without_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as raised:
        resolve_settings(config_path=None, target="staging", cli={}, environ={})
    assert str(raised.value) == (
        "unknown target 'staging': targets are defined in a config file, and there is none "
        f"(metabase-guard.yaml not found in {tmp_path}; --config names another)")


def test_environment_beats_the_file(tmp_path: Path) -> None:
    settings = resolve(
        tmp_path,
        environ={
            "METABASE_URL": "http://localhost:3000/",
            "METABASE_USERNAME": "ada@example.com",
            "METABASE_PASSWORD": "hunter22",
        },
    )
    assert settings.url == "http://localhost:3000"
    assert settings.username == "ada@example.com"
    assert settings.password == SecretValue("hunter22")
    assert settings.api_key is None


def test_flags_beat_everything(tmp_path: Path) -> None:
    settings = resolve(
        tmp_path,
        target="staging",
        environ={
            "METABASE_URL": "https://metabase-staging.example.com",
            "METABASE_STAGING_API_KEY": "env-key",
        },
        cli={
            "url": "https://flag.example.com",
            "api_key": "flag-key",
            "timeout": 5,
            "paths": ["elsewhere"],
            "concurrency": None,
            "max_delete_share": 0.0,
        },
    )
    assert settings.url == "https://flag.example.com"
    assert settings.api_key == SecretValue("flag-key")
    assert settings.timeout == 5 and settings.paths == ["elsewhere"]
    assert settings.concurrency == 4  # None means "flag not given"
    assert settings.max_delete_share == 0.0


def test_empty_paths_flag_means_not_given(tmp_path: Path) -> None:
    assert resolve(tmp_path, cli={"paths": []}).paths[-1].endswith("more")


def test_metabase_url_contradicting_a_target_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="contradicts the url of target 'staging'"):
        resolve(tmp_path, target="staging", environ={"METABASE_URL": "https://prod.example.com"})


def test_unknown_keys_name_line_and_suggestion(tmp_path: Path) -> None:
    text = """\
        url: https://metabase.example.com
        timout: 3
        thresholds:
          max_update: 0.2
        targets:
          staging:
            urll: https://x.example.com
        """
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, text)
    message = str(info.value)
    path = tmp_path / "metabase-guard.yaml"
    assert f"{path}:2: timout: unknown key 'timout'; did you mean 'timeout'?" in message
    assert (
        f"{path}:4: thresholds.max_update: unknown key 'max_update'; did you mean "
        "'max_update_share'?" in message
    )
    assert f"{path}:7: targets.staging.urll: unknown key 'urll'; did you mean 'url'?" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("concurrency: 0\n", ":1: concurrency:"),
        ("timeout: fast\n", ":1: timeout:"),
        ("thresholds: {max_update_share: 1.5}\n", ":1: thresholds.max_update_share:"),
        ("api_key_env: not a name\n", ":1: api_key_env:"),
        ("paths: alerts\n", ":1: paths:"),
        ("url: [x\n", "invalid YAML"),
        ("url: a\nurl: b\n", ":2: duplicate key 'url'"),
        ("- a\n", "must be a mapping"),
        ("url: metabase.example.com\n", "invalid url 'metabase.example.com'"),
        ("verify: /no/such/ca.pem\n", "CA bundle /no/such/ca.pem not found"),
    ],
)
def test_invalid_values(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, text)
    assert message in str(info.value)


def test_verify_accepts_a_ca_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert resolve(tmp_path, f"verify: {bundle}\n").verify == str(bundle)
    assert resolve(tmp_path, "verify: false\n").verify is False


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope.yaml not found"):
        resolve_settings(config_path=str(tmp_path / "nope.yaml"), target=None, cli={}, environ={})


def test_empty_config_file_is_fine(tmp_path: Path) -> None:
    assert resolve(tmp_path, "# nothing yet\n").url is None


def test_unknown_flag_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="colour"):
        resolve(tmp_path, cli={"colour": "red"})


def test_secrets_never_show(tmp_path: Path) -> None:
    settings = resolve(
        tmp_path,
        environ={"METABASE_API_KEY": "mb_supersecretkey", "METABASE_PASSWORD": "pa55word!"},
    )
    assert settings.api_key is not None and settings.api_key.reveal() == "mb_supersecretkey"
    for text in (repr(settings), str(settings), f"{settings.api_key}", str(settings.password)):
        assert "supersecret" not in text and "pa55word" not in text
    assert repr(settings.api_key) == "SecretValue('***')" and str(settings.password) == "***"
    with pytest.raises(ConfigError) as info:
        resolve(
            tmp_path,
            target="staging",
            environ={
                "METABASE_STAGING_API_KEY": "mb_supersecretkey",
                "METABASE_URL": "https://other.example.com",
            },
        )
    assert "supersecret" not in str(info.value)


def test_empty_credential_variable_counts_as_unset(tmp_path: Path) -> None:
    assert resolve(tmp_path, environ={"METABASE_API_KEY": ""}).api_key is None


def test_database_engines_for_offline_sql(tmp_path: Path) -> None:
    text = ("databases:\n  Warehouse: {engine: snowflake}\n  Sales: {}\n"
            "targets:\n  staging:\n    databases:\n      Sales: {engine: mysql}\n")
    assert resolve(tmp_path, text).engines == {"Warehouse": "snowflake"}
    assert resolve(tmp_path, text, target="staging").engines == {"Warehouse": "snowflake",
                                                                 "Sales": "mysql"}
    assert resolve(tmp_path, "url: https://mb.example.com\n").engines == {}
    with pytest.raises(ConfigError, match="did you mean 'engine'"):
        resolve(tmp_path, "databases:\n  Warehouse: {engin: snowflake}\n")
