"""Settings: the optional ``metabase-guard.yaml``, its targets, the environment and the flags.

The config file (``metabase-guard.yaml`` in the current directory, or ``--config PATH``)::

    url: https://metabase.example.com
    api_key_env: METABASE_API_KEY        # names of the env vars holding credentials
    username_env: METABASE_USERNAME
    password_env: METABASE_PASSWORD
    paths: [alerts]                      # relative to the config file's directory
    defaults:
      collection: Health checks          # root of every question's collection path
      email: [oncall@example.com]        # added to every alert's email list
      slack: []                          # added to every alert's slack list
    thresholds: {max_update_share: 0.3, max_delete_share: 0.3, min_existing: 10}
    concurrency: 12
    timeout: 30
    verify: true                         # TLS verification, or a CA bundle path
    databases:                           # offline facts about Metabase databases, by name
      Warehouse: {engine: postgres}      # the SQL dialect validate/test read (default postgres)
    targets:
      staging:                           # --target staging: these keys override the top level
        url: https://metabase-staging.example.com
        api_key_env: METABASE_STAGING_API_KEY

Credentials are never read from the file, only from the environment variables it names, so the
file can live in git.
"""

from __future__ import annotations

import difflib
import hmac
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metabase_guard.errors import ConfigError, register_secret
from metabase_guard.spec import yamlio

__all__ = ["DEFAULT_CONFIG", "SecretValue", "Settings", "resolve_settings"]

#: The config file looked up in the current directory when ``--config`` is not given.
DEFAULT_CONFIG = "metabase-guard.yaml"

log = logging.getLogger("metabase_guard.config")


class SecretValue:
    """A credential that never shows itself: ``repr``, ``str`` and formatting give ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that needs it (the HTTP transport)."""
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one run; built by :func:`resolve_settings`."""

    url: str | None = None
    api_key: SecretValue | None = None
    username: str | None = None
    password: SecretValue | None = None
    paths: list[str] = field(default_factory=lambda: ["alerts"])
    default_collection: str | None = None
    default_email: list[str] = field(default_factory=list)
    default_slack: list[str] = field(default_factory=list)
    max_update_share: float = 0.3
    max_delete_share: float = 0.3
    min_existing: int = 10
    concurrency: int = 12  # chosen by measurement: docs/benchmarks.md
    timeout: float = 30.0
    verify: bool | str = True
    target: str | None = None
    config_file: str | None = None
    api_key_env: str = "METABASE_API_KEY"
    username_env: str = "METABASE_USERNAME"
    password_env: str = "METABASE_PASSWORD"
    engines: dict[str, str] = field(default_factory=dict)
    """Database name → Metabase engine (``databases.<name>.engine``), for offline SQL reading."""


# --- the file --------------------------------------------------------------------------------

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Defaults(_Strict):
    collection: str | None = None
    email: list[str] | None = None
    slack: list[str] | None = None


class _Thresholds(_Strict):
    max_update_share: float | None = Field(None, ge=0, le=1)
    max_delete_share: float | None = Field(None, ge=0, le=1)
    min_existing: int | None = Field(None, ge=0)


class _Database(_Strict):
    engine: str | None = None


class _Section(_Strict):
    url: str | None = None
    api_key_env: str | None = Field(None, pattern=_ENV_NAME)
    username_env: str | None = Field(None, pattern=_ENV_NAME)
    password_env: str | None = Field(None, pattern=_ENV_NAME)
    paths: list[str] | None = None
    defaults: _Defaults | None = None
    thresholds: _Thresholds | None = None
    concurrency: int | None = Field(None, ge=1, le=64)
    timeout: float | None = Field(None, gt=0)
    verify: bool | str | None = None
    databases: dict[str, _Database] | None = None


class _File(_Section):
    targets: dict[str, _Section] = Field(default_factory=dict)


def _suggest(word: object, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(choices)}"


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    parent = [e for e in loc[:-1] if isinstance(e, str)]
    if parent and parent[-1] == "defaults":
        return list(_Defaults.model_fields)
    if parent and parent[-1] == "thresholds":
        return list(_Thresholds.model_fields)
    if len(parent) >= 2 and parent[-2] == "databases":
        return list(_Database.model_fields)
    if parent and parent[0] == "targets":
        return list(_Section.model_fields)
    return list(_File.model_fields)


def _read_file(path: str) -> _File:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        document = yamlio.parse(yamlio.decode(data))
    except yamlio.YamlRejected as exc:
        where = path if exc.issue.line is None else f"{path}:{exc.issue.line}"
        raise ConfigError(f"{where}: {exc.issue.message}") from None
    problems = [f"{path}:{issue.line}: {issue.message}" for issue in document.issues]
    value = {} if document.value is None else document.value
    if not isinstance(value, dict):
        raise ConfigError(f"{path}:1: the config file must be a mapping")
    try:
        parsed = _File.model_validate(value)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            line, _ = yamlio.locate(document.node, loc)
            where = f"{path}:{line}" if line is not None else path
            name = yamlio.format_path(loc)
            if error["type"] == "extra_forbidden":
                message = f"unknown key {loc[-1]!r}{_suggest(loc[-1], _allowed_keys(loc))}"
            else:
                message = str(error["msg"])
            problems.append(f"{where}: {name}: {message}")
        parsed = _File()
    if problems:
        raise ConfigError("invalid config file:\n" + "\n".join(f"  {p}" for p in problems))
    return parsed


# --- resolution ------------------------------------------------------------------------------

_FLAG_KEYS = frozenset(f.name for f in fields(Settings)) - {"target", "config_file", "engines"}


def _layer(section: _Section, base_dir: str) -> dict[str, Any]:
    """The settings one file section gives, as ``Settings`` field names."""
    out: dict[str, Any] = {}
    for name in (
        "url",
        "api_key_env",
        "username_env",
        "password_env",
        "concurrency",
        "timeout",
        "verify",
    ):
        value = getattr(section, name)
        if value is not None:
            out[name] = value
    if section.paths is not None:
        out["paths"] = [os.path.normpath(os.path.join(base_dir, p)) for p in section.paths]
    if section.defaults is not None:
        for name in ("collection", "email", "slack"):
            value = getattr(section.defaults, name)
            if value is not None:
                out[f"default_{name}"] = value
    if section.databases is not None:
        out["engines"] = {name: db.engine for name, db in section.databases.items()
                          if db.engine is not None}
    if section.thresholds is not None:
        for name in ("max_update_share", "max_delete_share", "min_existing"):
            value = getattr(section.thresholds, name)
            if value is not None:
                out[name] = value
    return out


def resolve_settings(
    *,
    config_path: str | None,
    target: str | None,
    cli: Mapping[str, Any],
    environ: Mapping[str, str],
) -> Settings:
    """Resolve the settings of a run.

    Precedence, highest first:

    1. flags: ``cli`` maps :class:`Settings` field names to values; ``None`` (and an empty
       ``paths``) means "not given";
    2. the environment: ``METABASE_URL``, and the credentials in the variables named by
       ``api_key_env`` / ``username_env`` / ``password_env`` (``METABASE_API_KEY``,
       ``METABASE_USERNAME``, ``METABASE_PASSWORD`` unless the file or target renames them);
       credentials come only from the environment or flags, never from the file;
    3. the ``targets.<target>`` section of the config file, key by key (inside ``defaults``
       and ``thresholds`` too);
    4. the top level of the config file;
    5. the defaults of :class:`Settings`.

    ``config_path`` names the file; when ``None``, ``metabase-guard.yaml`` in the current
    directory is read if it exists. Relative ``paths`` in the file are relative to its
    directory. One exception to the order guards against touching the wrong instance: when
    a target sets ``url`` and ``METABASE_URL`` says otherwise, without a ``--url`` flag, that
    is an error rather than a silent choice.

    Raises :class:`~metabase_guard.errors.ConfigError`: an explicit config file that does not
    exist, invalid YAML, unknown keys (with file:line and the closest valid key), an unknown
    target (listing the defined ones), invalid values. No secret is ever in a message.
    """
    unknown = set(cli) - _FLAG_KEYS
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")

    if config_path is not None and not Path(config_path).is_file():
        raise ConfigError(f"config file {config_path} not found")
    path = config_path if config_path is not None else DEFAULT_CONFIG
    config_file = path if Path(path).is_file() else None
    parsed = _read_file(config_file) if config_file is not None else _File()
    base_dir = os.path.dirname(config_file) if config_file is not None else ""

    values: dict[str, Any] = {}
    values.update(_layer(parsed, base_dir))
    target_layer: dict[str, Any] = {}
    if target is not None:
        if target not in parsed.targets:
            if config_file is None:
                raise ConfigError(
                    f"unknown target {target!r}: targets are defined in a config file, and "
                    f"there is none ({DEFAULT_CONFIG} not found in {os.getcwd()}; --config "
                    "names another)")
            defined = ", ".join(sorted(parsed.targets)) or "none"
            raise ConfigError(
                f"unknown target {target!r}; targets defined in {config_file}: {defined}")
        target_layer = _layer(parsed.targets[target], base_dir)
        engines = {**values.get("engines", {}), **target_layer.get("engines", {})}
        values.update(target_layer)
        if engines:
            values["engines"] = engines

    env_url = environ.get("METABASE_URL") or None
    if env_url is not None:
        if (
            "url" in target_layer
            and cli.get("url") is None
            and env_url.rstrip("/") != target_layer["url"].rstrip("/")
        ):
            raise ConfigError(
                f"METABASE_URL ({env_url}) contradicts the url of target {target!r} "
                f"({target_layer['url']}); unset METABASE_URL or pass --url"
            )
        values["url"] = env_url
    for name in ("api_key", "username", "password"):
        variable = values.get(f"{name}_env", getattr(Settings, f"{name}_env"))
        if environ.get(variable):
            values[name] = environ[variable]

    for name, value in cli.items():
        if value is None or (name == "paths" and not value):
            continue
        values[name] = list(value) if name in ("paths", "default_email", "default_slack") else value

    for name in ("api_key", "username", "password"):
        secret = values.get(name)
        if isinstance(secret, str) and secret != secret.strip():
            _strip_notice(name, values.get(f"{name}_env", getattr(Settings, f"{name}_env")),
                          secret)
            values[name] = secret.strip() or None
    for name in ("api_key", "password"):
        secret = values.get(name)
        if isinstance(secret, str):
            values[name] = SecretValue(secret)
    return _check(Settings(**values, target=target, config_file=config_file))


def _strip_notice(name: str, variable: str, raw: str) -> None:
    """Say once that a credential had whitespace around it (a pasted CI secret's newline).

    Both forms are registered for redaction first: requests would quote the raw one, escaped,
    in its error about an invalid header value.
    """
    if name != "username":
        register_secret(raw)
    log.warning("%s had whitespace around it (a trailing newline?); it was stripped", variable)


def _check(settings: Settings) -> Settings:
    url = settings.url
    if url is not None:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"invalid url {url!r}: expected http(s)://host[:port][/path]")
        url = url.rstrip("/")
    if not 0 <= settings.max_update_share <= 1 or not 0 <= settings.max_delete_share <= 1:
        raise ConfigError("thresholds max_update_share and max_delete_share must be 0-1")
    if settings.min_existing < 0:
        raise ConfigError("threshold min_existing must be 0 or more")
    if settings.concurrency < 1:
        raise ConfigError("concurrency must be 1 or more")
    if settings.timeout <= 0:
        raise ConfigError("timeout must be more than 0 seconds")
    if isinstance(settings.verify, str) and not Path(settings.verify).is_file():
        raise ConfigError(f"verify: CA bundle {settings.verify} not found")
    if url == settings.url:
        return settings
    return Settings(**{**{f.name: getattr(settings, f.name) for f in fields(Settings)}, "url": url})
