"""``metabase-guard completion bash|zsh``: a shell completion script made from the parser.

The script is generated from the argparse definitions, so a new command or flag completes
without anyone editing it. Words after a command that are not options complete as file names
(declaration files, saved plans).
"""

from __future__ import annotations

import argparse
import shlex

__all__ = ["SHELLS", "completion_script"]

SHELLS = ("bash", "zsh")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for a in parser._actions for o in a.option_strings)


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (bash, or zsh through bashcompinit)."""
    commands = _commands(parser)
    top = " ".join([*sorted(commands), *_options(parser)])
    cases = "\n".join(
        f"    {shlex.quote(name)}) opts={shlex.quote(' '.join(_options(sub)))} ;;"
        for name, sub in sorted(commands.items())
    )
    script = f"""# metabase-guard completion for {shell}
# load it with: eval "$(metabase-guard completion {shell})"
_metabase_guard() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" opts="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${{COMP_WORDS[i]}}" in
      --color | --colour) ((i++)) ;;
      -*) ;;
      *) cmd="${{COMP_WORDS[i]}}"; break ;;
    esac
  done
  case "$cmd" in
    "") opts={shlex.quote(top)} ;;
{cases}
  esac
  if [[ -z "$cmd" || "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=()  # -o default: file names
  fi
}}
complete -o default -F _metabase_guard metabase-guard
"""
    if shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    return script
