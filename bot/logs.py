"""Logging for the command line: our messages, without the libraries' chatter."""

from __future__ import annotations

import logging
import os

# Libraries that log routine work (or harmless gRPC "not implemented" probes) at INFO/ERROR.
QUIET = {
    "grpc._server": logging.CRITICAL,
    "milvus_lite": logging.WARNING,
    "faiss": logging.WARNING,
    "sentence_transformers": logging.WARNING,
    "httpx": logging.WARNING,
    "pypdf": logging.ERROR,
}


def configure_logging(verbose: bool = False) -> None:
    # The embedded models live on disk; a hub lookup would only hang on a closed network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # gRPC's C core prints keepalive chatter with Milvus Lite's in-process server to stderr.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
