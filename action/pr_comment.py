"""Create or update the one metabase-guard plan comment on a pull request (action.yml's step).

Standard library only, so it runs before or without metabase-guard. Reads GITHUB_TOKEN,
GITHUB_REPOSITORY ("owner/name"), MG_PR_NUMBER, MG_TARGET (one comment per target) and
GITHUB_API_URL (default https://api.github.com); the Markdown file is the only argument.
The comment is found again by a hidden marker on its first line, so re-runs edit it in place.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

LIMIT = 65_000  # GitHub rejects comment bodies over 65,536 characters


def marker(target: str) -> str:
    """The hidden first line that identifies our comment for one target."""
    return f"<!-- metabase-guard plan: {target or 'default'} -->"


def body_for(markdown: str, target: str) -> str:
    """The comment body: marker, then the plan, cut to GitHub's limit with a note."""
    text = markdown.strip() or "metabase-guard made no plan output."
    head = marker(target) + "\n"
    if len(head) + len(text) > LIMIT:
        note = "\n\n…(cut: the full plan is in the job summary)"
        text = text[: LIMIT - len(head) - len(note)] + note
    return head + text


class GitHub:
    """The three REST calls this needs, with the token in a header and never in a message."""

    def __init__(self, api: str, token: str, repository: str) -> None:
        self.api = api.rstrip("/")
        self.token = token
        self.repository = repository

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One request; answers the decoded JSON, raises RuntimeError in words."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.api}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token}",
                     "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28",
                     "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"GitHub answered {exc.code} to {method} {path}") from None
        except urllib.error.URLError as exc:
            raise RuntimeError(f"cannot reach GitHub at {self.api}: {exc.reason}") from None

    def comments(self, number: int) -> list[dict[str, Any]]:
        """Every comment of the pull request, page by page."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self.call("GET", f"/repos/{self.repository}/issues/{number}/comments"
                                     f"?per_page=100&page={page}")
            found.extend(batch)
            if len(batch) < 100:
                return found
            page += 1


def upsert(github: GitHub, number: int, body: str) -> str:
    """Edit our comment if there is one, else create it; answers "updated" or "created"."""
    first_line = body.split("\n", 1)[0]
    for comment in github.comments(number):
        if str(comment.get("body", "")).split("\n", 1)[0] == first_line:
            github.call("PATCH", f"/repos/{github.repository}/issues/comments/{comment['id']}",
                        {"body": body})
            return "updated"
    github.call("POST", f"/repos/{github.repository}/issues/{number}/comments", {"body": body})
    return "created"


def main(argv: list[str]) -> int:
    """Entry point: ``pr_comment.py PLAN.md``."""
    if len(argv) != 1:
        print("usage: pr_comment.py PLAN.md", file=sys.stderr)
        return 1
    missing = [name for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "MG_PR_NUMBER")
               if not os.environ.get(name)]
    if missing:
        print(f"cannot comment on the pull request: {', '.join(missing)} not set",
              file=sys.stderr)
        return 1
    github = GitHub(os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                    os.environ["GITHUB_TOKEN"].strip(), os.environ["GITHUB_REPOSITORY"])
    body = body_for(Path(argv[0]).read_text(encoding="utf-8"), os.environ.get("MG_TARGET", ""))
    try:
        done = upsert(github, int(os.environ["MG_PR_NUMBER"]), body)
    except RuntimeError as exc:
        print(f"cannot comment on the pull request: {exc}", file=sys.stderr)
        return 1
    print(f"Plan comment {done} on pull request #{os.environ['MG_PR_NUMBER']}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
