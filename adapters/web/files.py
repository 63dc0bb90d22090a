"""Course files served read-only at `/files/<course>/<source>`, so citations open on a laptop.

A course with no `base_url` has nowhere public to link to; its citations then point here.
Ingest names a file by its path inside its source folder, prefixed by the folder's name
when a course has several (see `ingest.discovery`). Only what the course publishes is
served (`MentorApp.course_file`): files the live index holds and the images and
stylesheets its pages embed, never a solution kept beside them; everything else is a 404.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.errors import BusyError
from bot.service.commands import ChatCommands
from models import Citation, is_verified_source

FILES_PREFIX = "/files/"
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".rst", ".py", ".csv", ".ipynb"}
"""Shown as plain text: browsers download `text/markdown` and friends instead of showing them."""
SANDBOX = "sandbox"
"""Course HTML (and SVG) runs no script and gets an opaque origin, never the app's."""


def file_href(course: str, citation: Citation) -> str:
    """`/files/cs101/week1/loops.pdf#page=3`: the same fragment a public `base_url` link gets."""
    href = FILES_PREFIX + quote(course, safe="") + "/" + quote(citation.source, safe="/")
    if citation.anchor:
        return href + "#" + quote(citation.anchor, safe="-_.~")
    if citation.page is not None:
        return f"{href}#page={citation.page}"
    return href


def citation_href(course: str, citation: Citation) -> str | None:
    """The course's own public link when it has one (http or https only), else the local copy; a TA's
    answer has neither (its label says where it came from)."""
    if citation.url is None:
        return None if is_verified_source(citation.source) else file_href(course, citation)
    return citation.url if urlsplit(citation.url).scheme in ("http", "https") else None


def content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "text/plain; charset=utf-8"
    if suffix in (".html", ".htm"):
        return "text/html; charset=utf-8"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class CourseFiles:
    """The `/files/{course}/{path}` handler."""

    def __init__(self, commands: ChatCommands) -> None:
        self.commands = commands

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(FILES_PREFIX + "{course}/{path:.+}", self.serve)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        course, name = request.match_info["course"], request.match_info["path"]
        if course not in self.commands.mentor.settings.course_names():
            raise web.HTTPNotFound(text=f"No course named {course!r}.")
        try:
            # What the course publishes comes from the manifest (SQLite) and Milvus, and resolving touches the disk.
            path = await self.commands.mentor.offloader.run(self._find, course, name)
        except BusyError as exc:
            raise web.HTTPServiceUnavailable(text=str(exc), headers={"Retry-After": "30"}) from None
        if path is None:
            raise web.HTTPNotFound(text=f"{name} is not a file of the course {course}.")
        headers = {"Content-Type": content_type(path), "Cache-Control": "no-cache"}
        if path.suffix.lower() != ".pdf":  # a sandboxed PDF is blocked by Chromium's viewer
            headers["Content-Security-Policy"] = SANDBOX
        return web.FileResponse(path, headers=headers)

    def _find(self, course: str, name: str) -> Path | None:
        return self.commands.mentor.course_file(course, name)
