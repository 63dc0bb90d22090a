"""GitHub-style heading slugs, the anchors Markdown renderers give headings."""

from __future__ import annotations

import re

# Letters, digits, spaces, hyphens and underscores survive; everything else goes.
DROPPED = re.compile(r"[^\w\- ]", re.UNICODE)


def slugify(heading: str) -> str:
    """`"Break & Continue!"` -> `"break--continue"`, as GitHub renders it."""
    return DROPPED.sub("", heading.strip().lower()).replace(" ", "-")


class SlugMaker:
    """Slugs unique within one document: a repeated heading gets `-1`, `-2`, …"""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, heading: str) -> str:
        base = slugify(heading)
        count = self._seen.get(base, 0)
        self._seen[base] = count + 1
        return base if count == 0 else f"{base}-{count}"
