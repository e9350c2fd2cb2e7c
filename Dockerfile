# msmonai on a CUDA GPU: the package with its DICOM decoders (pylibjpeg + OpenJPEG/libjpeg plugins) and the
# three bundles. Build:  docker build -t msmonai .     Run: see docs/deployment.md, e.g.
#   docker run --gpus all --shm-size 8g -v /srv/ms:/data -w /opt/msmonai/bundles/ms_activity_resnet3d msmonai \
#       run --config_file "['configs/train.json']" --bundle_root /data/runs/resnet3d
# The base image's torch (2.8.0, CUDA 12.8) satisfies setup.cfg's torch>=2.8 and monai 1.6's torch>=2.8.
FROM pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

# A fixed numeric id that no base-image account uses, so `USER` below needs no name lookup.
RUN groupadd --gid 10001 msmonai \
    && useradd --create-home --uid 10001 --gid 10001 --shell /bin/bash msmonai

# .dockerignore lets only the package sources and the bundle configs into the build context.
COPY . /tmp/msmonai-src

# The constraint pins torch to the base image's CUDA build: pip fails rather than replace it with another wheel.
RUN python -c "from importlib.metadata import version; print('torch==' + version('torch'))" > /tmp/torch-constraint.txt \
    && pip install --no-cache-dir --constraint /tmp/torch-constraint.txt /tmp/msmonai-src \
    && mkdir -p /opt/msmonai \
    && cp -r /tmp/msmonai-src/bundles /opt/msmonai/bundles \
    && chown -R msmonai:msmonai /opt/msmonai \
    && rm -rf /tmp/msmonai-src /tmp/torch-constraint.txt \
    && msmonai --help > /dev/null

USER 10001:10001
WORKDIR /opt/msmonai/bundles

# `docker run IMAGE run --config_file ...` runs a bundle; `docker run --entrypoint msmonai IMAGE ...` the CLI.
ENTRYPOINT ["python", "-m", "monai.bundle"]
CMD ["--help"]
