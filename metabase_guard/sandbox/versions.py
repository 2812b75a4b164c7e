"""Version gates of the emulator that reshape answers: 0.63's template-tag list, PR #79821.

docs/compatibility.md has the whole table; the older gates live next to what they change
(``validation.SLACK_OBJECT_LIST_SINCE``, ``notifications.CREATOR_CHANGE_SINCE``,
``queries.normalize_query`` for MBQL 5).
"""

from __future__ import annotations

from typing import Any

# src/metabase/lib/schema.cljc: native stages answer `template-tags` as a list of tag objects
# from PR #77133 (merged 2026-07-06, backported to 0.63 by #77652); the list is accepted on
# input too (0.62 only from a later patch, PR #79416 / #79528, so not emulated there).
TEMPLATE_TAG_LIST_SINCE = 63
# src/metabase/notification/api/notification.clj (PUT "/:id"): ids taken from the URL and the
# stored payload_id, PR #79821 (merged to master ~2026-08-20; in no release up to 0.63).
PUT_IDS_FROM_URL_SINCE = 64


def template_tags_in(query: Any) -> Any:
    """A posted ``dataset_query`` with a list of template tags turned into Metabase's map."""
    if not isinstance(query, dict) or not isinstance(query.get("stages"), list):
        return query
    stages = []
    for stage in query["stages"]:
        tags = stage.get("template-tags") if isinstance(stage, dict) else None
        if isinstance(tags, list):
            stage = {**stage, "template-tags": {
                str(t.get("name")): t for t in tags if isinstance(t, dict)}}
        stages.append(stage)
    return {**query, "stages": stages}


def template_tags_out(query: Any, major: int) -> Any:
    """The stored ``dataset_query`` as ``major`` answers it (tags as a list from 0.63)."""
    if major < TEMPLATE_TAG_LIST_SINCE or not isinstance(query, dict):
        return query
    stages = query.get("stages")
    if not isinstance(stages, list) or not any(
        isinstance(s, dict) and isinstance(s.get("template-tags"), dict) for s in stages
    ):
        return query
    out = []
    for stage in stages:
        tags = stage.get("template-tags") if isinstance(stage, dict) else None
        if isinstance(tags, dict):
            stage = {**stage, "template-tags": [
                {**tag, "name": tag.get("name", name)} if isinstance(tag, dict) else tag
                for name, tag in tags.items()
            ]}
        out.append(stage)
    return {**query, "stages": out}
