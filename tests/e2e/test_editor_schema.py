"""Editor support: ``schema --out``, the schema's identity and descriptions, import's first line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metabase_guard.spec.loader import SCHEMA_ID
from tests.e2e.conftest import Env
from tests.e2e.test_import_and_cli import _hand_made


def _properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found.append((f"{path}.{name}", sub))
        for name, sub in node.items():
            found.extend(_properties(sub, f"{path}/{name}"))
    elif isinstance(node, list):
        for index, sub in enumerate(node):
            found.extend(_properties(sub, f"{path}[{index}]"))
    return found


def test_schema_out_writes_the_file_stdout_stays_empty(env: Env, tmp_path: Path) -> None:
    target = tmp_path / "schema" / "mg.json"
    target.parent.mkdir()
    result = env.run("schema", "--out", str(target))
    assert result.code == 0, result.err
    assert result.out == ""
    assert f"Wrote the JSON Schema to {target}" in result.err
    written = json.loads(target.read_text(encoding="utf-8"))
    printed = env.run("schema")
    assert json.loads(printed.out) == written


def test_schema_carries_id_title_and_a_description_for_every_field(env: Env) -> None:
    schema = json.loads(env.run("schema").out)
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]
    fields = _properties(schema)
    assert len(fields) > 20
    missing = [path for path, sub in fields if not sub.get("description")]
    assert missing == []
    untitled = [path for path, sub in fields if not sub.get("title")]
    assert untitled == []


def test_schema_out_to_a_missing_folder_is_one_clear_error(env: Env, tmp_path: Path) -> None:
    result = env.run("schema", "--out", str(tmp_path / "no" / "such" / "dir" / "s.json"))
    assert result.code == 1
    assert "cannot write the schema to" in result.err
    assert "Traceback" not in result.both and "This is a bug" not in result.both


def test_import_starts_its_file_with_the_schema_line(env: Env, tmp_path: Path) -> None:
    card_id, _ = _hand_made(env)
    out = tmp_path / "imported" / "recs.yaml"
    out.parent.mkdir()
    result = env.run("import", "--card", str(card_id), "--out", str(out), "--no-adopt")
    assert result.code == 0, result.err
    first = out.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../metabase-guard.schema.json"
    schema_file = tmp_path / "metabase-guard.schema.json"  # the cwd of the run
    assert json.loads(schema_file.read_text(encoding="utf-8"))["$id"] == SCHEMA_ID
    assert "Wrote the JSON Schema" in result.err
    # the written file is valid declarations, comment line included
    assert env.run("validate", str(out)).code == 0


def test_import_keeps_an_existing_schema_file(env: Env, tmp_path: Path) -> None:
    card_id, _ = _hand_made(env)
    mine = tmp_path / "editor" / "mine.json"
    mine.parent.mkdir()
    mine.write_text("{}", encoding="utf-8")
    out = tmp_path / "recs.yaml"
    result = env.run("import", "--card", str(card_id), "--out", str(out), "--no-adopt",
                     "--schema", str(mine))
    assert result.code == 0, result.err
    assert out.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=editor/mine.json\n")
    assert mine.read_text(encoding="utf-8") == "{}"
    assert "Wrote the JSON Schema" not in result.err
