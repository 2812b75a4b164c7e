"""Plan renderers: text (Terraform-style), markdown and JSON."""

from metabase_guard.render.json import render_json
from metabase_guard.render.markdown import render_markdown
from metabase_guard.render.text import render_text

__all__ = ["render_json", "render_markdown", "render_text"]
