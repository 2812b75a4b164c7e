"""The first hour of a new user (issue 13): every stumble of the walk-through, through the CLI."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from metabase_guard import cli, engine
from metabase_guard.reconcile.plan import Change
from tests.e2e.conftest import Env

BUG = "This is a bug in metabase-guard"


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


# -- errors of the machine, not of metabase-guard: exit 1 in words ---------------------------


def test_sandbox_on_a_busy_port_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.main(["sandbox", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err
    assert BUG not in err


@pytest.mark.parametrize(("text", "said"), [
    ("users: [{mail: x@example.com}]\n", "Error: seed users[0].mail: unknown key\n"),
    ("users: [\n", "Error: seed file {path}:2: invalid YAML: expected the node content, "
                   "but found '<stream end>'\n"),
    (None, "Error: seed file {path}: [Errno 2] No such file or directory: '{path}'\n"),
])
def test_sandbox_with_a_bad_seed_says_what_is_wrong_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str | None, said: str,
) -> None:
    path = tmp_path / "seed.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    code = cli.main(["sandbox", "--port", "0", "--seed", str(path)])
    assert (code, capsys.readouterr().err) == (1, said.format(path=path))


@pytest.mark.parametrize(("tag", "said"), [
    ("v0.58.3", "Version: v0.58.3"),
    # a dev build's tag is served as given (docs/compatibility.md: such tags are probed), and
    # the start-up lines say which API answers, so a typo is not silent either
    ("vLOCAL_DEV", "Version: vLOCAL_DEV (names no release: answers as Metabase 0.61)"),
])
def test_sandbox_version_tag_given_wins_over_the_seeds_and_is_said(tag: str, said: str) -> None:
    """The demo seed pins v0.61.2; ``--version-tag`` on the command line is the newer word."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "metabase_guard", "sandbox", "--port", "0", "--seed", "demo",
         "--version-tag", tag],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_cli_env())
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split(" at ", 1)[1].strip()
        assert proc.stdout.readline().startswith("API key: ")
        assert proc.stdout.readline().rstrip("\n") == said
        with urllib.request.urlopen(f"{url}/api/session/properties", timeout=10) as answer:
            assert json.load(answer)["version"]["tag"] == tag
    finally:
        proc.kill()
        proc.communicate(timeout=10)

@pytest.mark.parametrize("out", ["missing-dir/p.json", "/dev/full"])
def test_plan_out_that_cannot_be_written_is_a_clear_error(env: Env, tmp_path: Path,
                                                          out: str) -> None:
    if out == "/dev/full" and not Path(out).exists():
        pytest.skip("no /dev/full here")
    target = out if out.startswith("/") else str(tmp_path / out)
    result = env.run("plan", "--out", target)
    assert result.code == 1, result.err
    assert f"cannot write the plan to {target}" in result.err
    assert BUG not in result.err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_timeout_must_be_a_finite_positive_number(env: Env, value: str) -> None:
    result = env.run("plan", "--timeout", value)
    assert result.code == 1
    assert "argument --timeout: expected a" in result.err


def test_an_unparseable_url_is_a_config_error(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METABASE_URL", "http://[::1")
    result = env.run("plan")
    assert result.code == 1, result.err
    assert "is not a valid URL" in result.err
    assert BUG not in result.err


def test_schema_into_a_closed_pipe_exits_0_quietly() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "metabase_guard", "schema"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_cli_env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head -1` having exited: the first write gets EPIPE
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait() == 0, err
    assert err == ""


# -- URLs -------------------------------------------------------------------------------------


def test_a_url_ending_in_api_is_accepted(env: Env) -> None:
    result = env.run("plan", "--url", env.mb.url + "/api/")
    assert result.code == 0, result.err
    assert "Plan:" in result.out
    assert all(not r.path.startswith("/api/api") for r in env.mb.sandbox.requests)


def test_metabase_down_is_said_in_words_once_and_at_once(env: Env) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = env.run("plan", "--url", f"http://127.0.0.1:{port}")
    assert result.code == 1
    assert "the connection was refused (is Metabase running there" in result.err
    for raw in ("Max retries", "NewConnectionError", "HTTPConnectionPool"):
        assert raw not in result.err
    assert result.err.count("refused") == 1


def test_https_to_a_plain_http_server_is_said_in_words(env: Env) -> None:
    result = env.run("plan", "--url", env.mb.url.replace("http://", "https://"))
    assert result.code == 1
    assert "does not speak https on this port" in result.err
    assert "WRONG_VERSION_NUMBER" not in result.err


# -- apply progress and Ctrl-C ---------------------------------------------------------------


def test_parallel_progress_lines_are_whole_and_counted(env: Env) -> None:
    result = env.run("apply", "--yes", "--concurrency", "8")
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("  [")]
    total = len(lines)
    assert total > 3
    kinds = "card|alert|collection|dashboard|subscription"
    pattern = re.compile(rf"^  \[ *(\d+)/{total}\] ({kinds}) \S.*: (created|updated)$")
    seen = []
    for line in lines:
        match = pattern.match(line)
        assert match, line
        seen.append(int(match.group(1)))
    assert seen == list(range(1, total + 1))
    assert "\n\n\n" not in result.err


def test_ctrl_c_during_apply_says_what_was_done_and_what_was_not(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Interrupting(cli._Progress):
        def __call__(self, change: Change, status: str, error: str | None) -> None:
            super().__call__(change, status, error)
            if len(self.done) == 2:
                raise KeyboardInterrupt  # the user's Ctrl-C, between two writes

    original = cli._Progress
    monkeypatch.setattr(cli, "_Progress", Interrupting)
    result = env.run("apply", "--yes", "--concurrency", "1")
    assert result.code == 130
    assert "Apply interrupted: 2 added, 0 changed, 0 destroyed." in result.err
    assert "  not attempted: " in result.err
    assert "Run apply again to finish" in result.err
    monkeypatch.setattr(cli, "_Progress", original)
    again = env.run("apply", "--yes")
    assert again.code == 0, again.err


# -- declarations -----------------------------------------------------------------------------


_QUESTION = """\
questions:
  - key: x
    name: X
    database: Warehouse
    sql: SELECT 1 AS n
    alerts:
      - when: has_rows
        schedule: {{every: day, at: "09:00"}}
        {recipients}
"""



def test_validate_says_how_many_questions_the_sql_rules_could_not_read(env: Env,
                                                                        tmp_path: Path) -> None:
    """SQL sqlglot cannot parse passes (the engine may still run it), but OK must not read
    as 'all checked': the line counts what the SQL rules skipped; --verbose names them."""
    path = tmp_path / "alerts.yaml"
    path.write_text(_QUESTION.replace("SELECT 1 AS n", "SELEC count(* FROM nowhere")
                    .format(recipients="email: [ops@example.org]"), encoding="utf-8")
    result = env.run("validate", str(path))
    assert result.code == 0, result.err
    assert result.err == ("OK: 1 question(s) with 1 alert(s) in 1 file(s); the SQL rules "
                          "skipped 1 question(s) (--verbose says why, check runs them).\n")
    verbose = env.run("validate", "--verbose", str(path))
    assert verbose.code == 0
    assert verbose.err.startswith(f"{path}:5: x: SQL rules skipped: sqlglot cannot parse it")
    assert verbose.err.endswith("OK: 1 question(s) with 1 alert(s) in 1 file(s).\n")
    clean = env.run("validate", str(env.alerts))
    assert clean.code == 0 and "skipped" not in clean.err

@pytest.mark.parametrize(("recipients", "field", "message"), [
    ("email: [Ops@example.org, ops@example.org]", "email[1]",
     "'ops@example.org' is listed twice (as 'Ops@example.org'"),
    ("slack: #alerts", "slack", "'#' after a space starts a YAML comment"),
], ids=["emails-differing-in-case-are-duplicates", "unquoted-hash-hint"])
def test_recipient_mistakes_are_located_and_explained(
    env: Env, tmp_path: Path, recipients: str, field: str, message: str
) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(_QUESTION.format(recipients=recipients))
    result = env.run("validate", str(path))
    assert result.code == 1
    assert f"{path}:9: questions[0].alerts[0].{field}:" in result.err
    assert message in result.err


# -- import messages --------------------------------------------------------------------------


def test_import_of_an_unknown_collection_lists_what_exists(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    result = env.run("import", "--collection", "Nope")
    assert result.code == 1
    assert "--collection 'Nope': no such collection; collections with cards:" in result.err


def test_import_of_an_unknown_card_names_it(env: Env) -> None:
    result = env.run("import", "--card", "999")
    assert result.code == 1
    assert "there is no card #999" in result.err
    assert "Not found: Not found" not in result.err


def test_import_off_a_terminal_without_yes_says_to_pass_yes(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    with env.client() as client:
        card = next(c for c in client.cards.list() if c.name)
        client.cards.update(card.id, {"description": "mark removed"})
    result = env.run("import", "--card", str(card.id))
    assert result.code == 1
    assert "rerun with --yes" in result.err


# -- help and flags ---------------------------------------------------------------------------


def test_global_flags_are_accepted_after_the_command(env: Env) -> None:
    result = env.run("plan", "--debug", "--color", "never")
    assert result.code == 0, result.err
    assert "unrecognized arguments" not in result.err
    args = cli._parser().parse_args(["plan", "--debug", "--color", "always"])
    assert args.debug is True and args.color == "always"
    args = cli._parser().parse_args(["--debug", "plan"])
    assert args.debug is True and args.color == "auto"  # given before: not reset after


@pytest.mark.parametrize(("argv", "option"), [
    (["--help"], "--color"), (["validate", "--help"], "--config"),
    (["test", "--help"], "--config"), (["sandbox", "--help"], "--port"),
    (["sandbox", "--help"], "--seed"), (["sandbox", "--help"], "--api-key"),
])
def test_every_option_has_help(capsys: pytest.CaptureFixture[str], argv: list[str],
                               option: str) -> None:
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith(option))
    after = line.strip()[len(option):].split(maxsplit=1)
    assert len(after) == 2 or out.splitlines()[out.splitlines().index(line) + 1].startswith(
        " " * 10), f"no help text for {option}: {line!r}"


# -- --format json and markdown errors --------------------------------------------------------


def test_json_errors_go_to_stdout_as_an_object(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_QUESTION.format(recipients="slack: #alerts"))
    result = env.run("plan", "--format", "json", str(path))
    assert result.code == 1
    data = json.loads(result.out)
    assert data["error"] == "1 problem in the declarations:"
    assert data["kind"] == "DeclarationError"
    [problem] = data["problems"]
    assert problem["file"] == str(path) and problem["line"] == 9
    assert problem["field"] == "questions[0].alerts[0].slack"
    md = env.run("plan", "--format", "markdown", str(path))
    assert md.out.startswith("### metabase-guard plan failed")
    assert f"- `{path}:9` `questions[0].alerts[0].slack`:" in md.out


def test_plan_warns_when_apply_would_hit_the_thresholds(env: Env) -> None:
    Path("metabase-guard.yaml").write_text("thresholds: {min_existing: 1}\n")
    assert env.run("apply", "--yes").code == 0
    for path in env.alerts.glob("*.yaml"):
        text = path.read_text()
        path.write_text(text.replace("SELECT", "SELECT /* v2 */"))
    result = env.run("plan", "--detailed-exitcode")
    assert result.code == 2
    assert "Warning: apply would stop on this plan:" in result.err
    assert "--force" in result.err
    md = env.run("plan", "--format", "markdown")
    assert "**Warning:** apply would stop on this plan" in md.out


# -- show -------------------------------------------------------------------------------------


def test_show_lists_what_is_managed_and_renders_a_saved_plan_again(env: Env,
                                                                   tmp_path: Path) -> None:
    empty = env.run("show")
    assert empty.code == 0, empty.err
    assert "0 managed card(s)" in empty.out and "Nothing is managed here yet" in empty.out
    saved = tmp_path / "plan.json"
    planned = env.run("plan", "--out", str(saved))
    before = env.writes()
    again = env.run("show", str(saved))
    assert again.code == 0, again.err
    assert again.out == planned.out  # the same text as the plan that was saved
    md = env.run("show", str(saved), "--format", "markdown")
    assert md.out == env.run("plan", "--format", "markdown").out
    assert env.writes() == before

    assert env.run("apply", "--yes").code == 0
    after_apply = env.writes()
    shown = env.run("show")
    assert "5 managed card(s) with 4 managed alert(s)" in shown.out
    assert re.search(r'^card weekly-recommendations: #\d+ "Recommendations pushed last week" '
                     r'in "Health checks/Recommender"$', shown.out, re.MULTILINE), shown.out
    assert re.search(r"^  - alert #\d+: when \"below_goal\", schedule \"every Monday",
                     shown.out, re.MULTILINE)
    data = json.loads(env.run("show", "--format", "json").out)
    assert sorted(c["key"] for c in data["cards"]) == sorted(
        q.key for q in engine.load([str(env.alerts)]).questions)
    assert env.writes() == after_apply  # show only reads


def test_show_refuses_a_hand_edited_plan(env: Env, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert env.run("plan", "--out", str(saved)).code == 0
    saved.write_text(saved.read_text().replace("Recommendations", "Recommandations"))
    result = env.run("show", str(saved))
    assert result.code == 1
    assert "was edited after it was saved" in result.err


# -- --only -----------------------------------------------------------------------------------


def test_only_plans_and_applies_one_question_with_what_it_needs(env: Env,
                                                                tmp_path: Path) -> None:
    data = json.loads(env.run("plan", "--only", "weekly-recommendations",
                              "--format", "json").out)
    assert [c["address"] for c in data["changes"]] == [
        "collection Health checks", "collection Health checks/Recommender",
        "card weekly-recommendations", "alert 1 of weekly-recommendations"]
    assert any("other change(s) are not in this plan" in n for n in data["notes"])
    saved = tmp_path / "only.json"
    assert env.run("plan", "--only", "weekly-recommendations", "--out", str(saved)).code == 0
    applied = env.run("apply", "--only", "weekly-recommendations", "--plan", str(saved))
    assert applied.code == 0, applied.err
    assert "Apply complete! 4 added" in applied.err
    assert "No changes." in env.run("plan", "--only", "weekly-recommendations").out
    rest = json.loads(env.run("plan", "--format", "json").out)
    assert rest["summary"]["create"] > 0
    assert not any(c["key"] == "weekly-recommendations" for c in rest["changes"])


def test_only_with_an_unknown_key_suggests_the_close_one(env: Env) -> None:
    result = env.run("plan", "--only", "weekly-recomendations")
    assert result.code == 1
    assert ("--only weekly-recomendations: no declared or managed question has this key; "
            "did you mean 'weekly-recommendations'?") in result.err


# -- completion -------------------------------------------------------------------------------


@pytest.mark.parametrize(("words", "expected"), [
    (["pl"], ["plan"]),
    (["--color", "never", "ap"], ["apply"]),
    (["plan", "--det"], ["--detailed-exitcode"]),
    (["apply", "--on"], ["--only"]),
    (["plan", "alerts/"], []),  # after the command, file names (the shell's default)
])
def test_bash_completion_completes_commands_and_their_options(
    capsys: pytest.CaptureFixture[str], words: list[str], expected: list[str]
) -> None:
    import shutil

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash here")
    assert cli.main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    line = " ".join(["metabase-guard", *words])
    probe = (f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words)}; _metabase_guard; "
             'printf "%s\\n" "${COMPREPLY[@]}"')
    run = subprocess.run([bash, "--norc", "-c", probe], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == expected


# -- moved: -----------------------------------------------------------------------------------


def test_moved_rekeys_a_card_and_its_alerts_without_recreating_them(env: Env) -> None:
    assert env.run("apply", "--yes").code == 0
    with env.client() as client:
        [card] = [c for c in client.cards.list()
                  if c.description and "[metabase-guard: weekly-recommendations]"
                  in c.description]
        alerts_before = sorted(n.id for n in client.notifications.list(card_id=card.id)
                               if n.active)
    recommender = env.alerts / "recommender.yaml"
    recommender.write_text(recommender.read_text().replace(
        "key: weekly-recommendations", "key: recommendations-per-week").replace(
        "- weekly-recommendations ", "- recommendations-per-week ")  # on its dashboard
        + "\nmoved:\n  - {from: weekly-recommendations, to: recommendations-per-week}\n")
    plan = env.run("plan", "--format", "json")
    assert plan.code == 0, plan.err
    data = json.loads(plan.out)
    assert [(c["address"], c["actions"]) for c in data["changes"]] == [
        ("card recommendations-per-week", ["update"])]
    [field] = data["changes"][0]["changes"]
    assert field["field"] == "description"
    assert "[metabase-guard: weekly-recommendations]" in field["old"]
    assert "[metabase-guard: recommendations-per-week]" in field["new"]
    assert data["changes"][0]["id"] == card.id
    assert any("re-keyed from 'weekly-recommendations'" in n for n in data["notes"])

    applied = env.run("apply", "--yes")
    assert applied.code == 0, applied.err
    assert "0 added, 1 changed, 0 destroyed" in applied.err
    with env.client() as client:
        after = client.cards.get(card.id)
        assert "[metabase-guard: recommendations-per-week]" in (after.description or "")
        assert sorted(n.id for n in client.notifications.list(card_id=card.id)
                      if n.active) == alerts_before
    again = env.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.out  # the move is done; keeping it in the file is harmless


def test_moved_to_an_undeclared_key_is_a_located_error(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "moves.yaml"
    path.write_text("moved:\n  - {from: old-key, to: nobody}\n")
    result = env.run("validate", str(env.alerts), str(path))
    assert result.code == 1
    assert f"{path}:2: moved: 'nobody' is not the key of a declared question" in result.err


def test_identical_write_failures_are_listed_once_with_a_count(env: Env) -> None:
    # every card POST fails the same way: one line for all of them, not one per write in flight
    env.mb.sandbox.inject_failure("POST", r"^/api/card$", 500, times=None)
    result = env.run("apply", "--yes")
    assert result.code == 1
    failed = [line for line in result.err.splitlines() if line.strip().startswith("failed")]
    assert len(failed) == 1, result.err
    assert failed[0].strip().startswith("failed (")
    assert failed[0].count("card ") >= 2
    assert "not attempted: alert 1 of weekly-recommendations" in result.err


def test_a_url_with_a_wrong_path_is_not_blamed_on_the_version_alone(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METABASE_URL", env.mb.url + "/metabase")
    result = env.run("plan")
    assert result.code == 1
    assert "/metabase/api/" in result.err
    assert "is the Metabase URL right" in result.err
    assert "This is a bug" not in result.err
