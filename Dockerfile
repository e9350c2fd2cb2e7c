# msmonai on a CUDA GPU: the package with its DICOM decoders (pylibjpeg + OpenJPEG/libjpeg plugins) and the
# three bundles. Build:  DOCKER_BUILDKIT=1 docker build -t msmonai .     Run: see docs/deployment.md, e.g.
#   docker run --gpus all --shm-size 8g -v /srv/ms:/data -w /opt/msmonai/bundles/ms_activity_resnet3d msmonai \
#       run --config_file "['configs/train.json']" --bundle_root /data/runs/resnet3d
# The default base's torch (2.8.0, CUDA 12.8) satisfies setup.cfg's torch>=2.8 and monai 1.6's torch>=2.8. Another
# base (`make image-cpu`: Debian + the CPU torch wheel) needs python, pip, groupadd and useradd, and a torch.
ARG BASE_IMAGE=pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    MSMONAI_CONTAINER=1

# A fixed numeric id that no base-image account uses, so `USER` below needs no name lookup.
RUN groupadd --gid 10001 msmonai \
    && useradd --create-home --uid 10001 --gid 10001 --shell /bin/bash msmonai

# .dockerignore lets only the package sources and the bundle configs into the build context.
COPY . /tmp/msmonai-src

# The constraint pins torch to the base image's build: pip fails rather than replace it with another wheel. Where the
# network inspects TLS, the host's CA bundle comes in as the build secret ca_bundle (--secret id=ca_bundle,src=PEM),
# mounted for this RUN only: it is in no layer. pip's cache is a BuildKit cache mount: kept between builds, in no layer.
RUN --mount=type=secret,id=ca_bundle,required=false --mount=type=cache,target=/root/.cache/pip \
    if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python -c "from importlib.metadata import version; print('torch==' + version('torch'))" > /tmp/torch-constraint.txt \
    && pip install --constraint /tmp/torch-constraint.txt /tmp/msmonai-src \
    && mkdir -p /opt/msmonai \
    && cp -r /tmp/msmonai-src/bundles /opt/msmonai/bundles \
    && chown -R msmonai:msmonai /opt/msmonai \
    && rm -rf /tmp/msmonai-src /tmp/torch-constraint.txt \
    && msmonai --help > /dev/null

USER 10001:10001
WORKDIR /opt/msmonai/bundles

# `docker run IMAGE run --config_file ...` runs a bundle; `docker run --entrypoint msmonai IMAGE ...` the CLI. Both
# first refuse, in one line, root, a missing /data mount, paths outside /data and unwritable outputs (msmonai/container.py).
ENTRYPOINT ["python", "-m", "msmonai.container"]
CMD ["--help"]
