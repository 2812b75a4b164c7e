"""Editor support: the JSON Schema as a file, and the first line that points editors at it.

Editors with the YAML language server (VS Code's YAML extension, Neovim, JetBrains) read a
``# yaml-language-server: $schema=<path or URL>`` comment at the top of a file and then complete
and check every field. ``schema --out`` writes the schema into the user's repository and
``import --out`` starts the files it writes with that line, pointing at it by a relative path,
so completion works offline and matches the installed metabase-guard.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from metabase_guard.errors import ConfigError

__all__ = ["DEFAULT_SCHEMA_FILE", "schema_comment", "schema_text", "write_schema"]

DEFAULT_SCHEMA_FILE = "metabase-guard.schema.json"


def schema_text() -> str:
    """The JSON Schema of a declaration file, as the text ``schema`` prints."""
    from metabase_guard.spec.loader import json_schema

    return json.dumps(json_schema(), indent=2) + "\n"


def write_schema(path: str | Path) -> Path:
    """Write the JSON Schema to ``path`` atomically; an unwritable path is a ConfigError."""
    target = Path(path)
    text = schema_text()
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write the schema to {target}: {exc.strerror or exc}") from None
    return target


def schema_comment(yaml_file: str | Path, schema_file: str | Path) -> str:
    """The first line of ``yaml_file`` that points editors at ``schema_file`` (relative path)."""
    base = Path(yaml_file).resolve().parent
    ref = Path(os.path.relpath(Path(schema_file).resolve(), base)).as_posix()
    return f"# yaml-language-server: $schema={ref}\n"
