"""A file a student attached to a question, and what became of it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Unread = Literal["image", "not_text", "too_large", "unreadable"]
"""Why an attachment was not read: `image` (no vision model reads it yet), `not_text` (a PDF,
an archive, a file that is not UTF-8 text), `too_large` (over the download limit, never
fetched), `unreadable` (the platform would not hand it over)."""


class Attachment(BaseModel):
    """What the core knows of an attached file. Adapters fill `name`, `content_type` and `size`;
    `bot.service.attachments` decides whether it is read, and sets `text` or `unread`.

    A vision model added later reads `image` attachments here: the adapter keeps the seam
    (it downloads on request), this record says what was and was not looked at.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    content_type: str | None = None
    size: int = 0
    """Bytes, as the platform reports them before any download."""
    url: str | None = None
    """Where the platform serves the file, for the adapter's download (with its own credentials)."""
    text: str | None = None
    """The file's text, as read into the question; None when it was not read."""
    unread: Unread | None = None
    cut: bool = False
    """True when only the file's beginning fitted within the question length limit."""

    @property
    def is_image(self) -> bool:
        return (self.content_type or "").startswith("image/")
