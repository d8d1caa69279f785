# A small image with the bundled model downloader (asr-cache-download), for pre-warm Jobs,
# `verify` inside pods and the helper pods asr-cache-tui starts when no pod can be exec'd into.
#
#   docker build -t REGISTRY/asr-cache-download:0.1.0 .
#   docker push REGISTRY/asr-cache-download:0.1.0
#   asr-cache-tui prewarm deployment/lightning-asr --image REGISTRY/asr-cache-download:0.1.0
#
# The downloader needs only httpx (and two pure modules of collectors/), so the project is
# installed without its dependencies: no Textual, no kubernetes client in the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md* ./
COPY actions/ actions/
COPY collectors/ collectors/
COPY tui/ tui/
COPY simcluster/ simcluster/
RUN pip install --no-deps . \
    && pip install "httpx>=0.28,<0.29" \
    && rm -rf /src \
    && asr-cache-download --help >/dev/null

# coreutils (sha256sum, realpath, stat, rm, sleep) come with the Debian base image.
# It runs as the image's default user, like the ASR pods writing the same volume; set a
# securityContext in your cluster if the volume's owner differs.
WORKDIR /
ENTRYPOINT ["asr-cache-download"]
