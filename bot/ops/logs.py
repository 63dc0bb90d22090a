"""Logging: our messages without the libraries' chatter, as text or one JSON object a
line, and never a secret from the settings (a token in an exception's text included)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import datetime, timezone

from pydantic import BaseModel, SecretStr

# Libraries that log routine work (or harmless gRPC "not implemented" probes) at INFO/ERROR.
QUIET = {
    "grpc._server": logging.CRITICAL,
    "milvus_lite": logging.WARNING,
    "faiss": logging.WARNING,
    "sentence_transformers": logging.WARNING,
    "httpx": logging.WARNING,
    "pypdf": logging.ERROR,
    "apscheduler": logging.WARNING,
    "alembic": logging.WARNING,
}


def configure_logging(verbose: bool = False) -> None:
    # The embedded models live on disk; a hub lookup would only hang on a closed network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # gRPC's C core prints keepalive chatter with Milvus Lite's in-process server to stderr.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(TextFormatter())
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)


def apply_log_settings(level: str, form: str, secrets: Iterable[str], verbose: bool = False) -> None:
    """Once settings are known: their level (for `mentor serve`), format, and the secrets to hide."""
    root = logging.getLogger()
    if level:
        root.setLevel(logging.DEBUG if verbose else level)
    formatter: TextFormatter = JsonFormatter() if form == "json" else TextFormatter()
    formatter.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
    for handler in root.handlers:
        handler.setFormatter(formatter)


def secret_values(settings: BaseModel) -> list[str]:
    """Every `SecretStr` set anywhere in the settings (tokens, keys, a Redis URL with its password)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found.extend(secret_values(value))
    return found


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value …`; a record's `fields` (extra) become the key=values."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets: list[str] = []

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.render(record))

    def render(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            text += " " + " ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in fields.items())
        return text

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


class JsonFormatter(TextFormatter):
    def render(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= getattr(record, "fields", None) or {}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
