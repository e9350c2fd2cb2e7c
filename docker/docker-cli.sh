#!/usr/bin/env bash
# Prints the docker command that can build with BuildKit (RUN --mount secrets): `docker` when it has buildx or is a
# CLI with BuildKit built in (20.10, Debian's docker.io), else Debian's /usr/bin/docker where a newer CLI without the
# buildx plugin comes first on PATH.
if docker buildx version >/dev/null 2>&1 || docker version --format '{{.Client.Version}}' 2>/dev/null | grep -q '^20\.'; then
  echo docker
elif [ -x /usr/bin/docker ]; then
  echo /usr/bin/docker
else
  echo docker
fi
