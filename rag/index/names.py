"""The names of a course's index in Milvus: an alias searches read, and the generations behind it."""

from __future__ import annotations

import hashlib
import re


def collection_name(course: str) -> str:
    """The name searches use: an alias of the course's live generation."""
    return "mentor_" + re.sub(r"[^0-9A-Za-z_]", "_", course)


def generation_name(course: str, fingerprint: str) -> str:
    """The collection built with one fingerprint (index format, embedder, chunking).

    Naming it after what built it means a rebuild interrupted by a crash is found and
    finished by the next run, and never mixed up with the live one.
    """
    return f"{collection_name(course)}__{hashlib.sha1(fingerprint.encode()).hexdigest()[:10]}"


def is_local_uri(uri: str) -> bool:
    """A Milvus Lite database path rather than a server address."""
    return "://" not in uri
