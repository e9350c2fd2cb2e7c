"""Small configurations of the three networks (8 x 32 x 32 volumes, narrow widths) shared by the network tests.

Shared through fixtures only (test modules never import this file: sibling test folders have conftests too).
"""

import pytest
import torch

from msmonai.networks import PretrainedResNet2D, ResNet3D, ResNeXt3D

SMALL_SIZE = (8, 32, 32)
EDSS_DIM = 8


def build_small(name: str, **overrides) -> torch.nn.Module:
    """One of the three networks at SMALL_SIZE with narrow widths (the 2D backbone is always ResNet18)."""
    torch.manual_seed(0)
    if name == "ResNet3D":
        return ResNet3D(spatial_size=SMALL_SIZE, channels=(4, 8), strides=(1, 2), blocks_per_stage=(2, 1), **overrides)
    if name == "PretrainedResNet2D":
        return PretrainedResNet2D(spatial_size=SMALL_SIZE, pretrained=False, **overrides)
    if name == "ResNeXt3D":
        return ResNeXt3D(
            spatial_size=SMALL_SIZE,
            channels=(8, 16),
            blocks_per_stage=(1, 1),
            branches=2,
            mid_channels=(2, 4),
            **overrides,
        )
    raise ValueError(name)


NETWORK_NAMES = ("ResNet3D", "PretrainedResNet2D", "ResNeXt3D")


def random_batch(batch: int, visits: int, lengths, seed: int = 0):
    """``image [B, T, 1, *SMALL_SIZE]`` in [0, 255], ``edss [B, T, 8]`` in [0, 6], ``lengths [B]`` int64."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, visits, 1, *SMALL_SIZE, generator=generator) * 255.0
    edss = torch.rand(batch, visits, EDSS_DIM, generator=generator) * 6.0
    return image, edss, torch.as_tensor(lengths, dtype=torch.int64)


@pytest.fixture(scope="module", params=NETWORK_NAMES)
def small_network(request) -> torch.nn.Module:
    """Each of the three networks, small, in eval mode (shared by a module's tests: do not modify it)."""
    return build_small(request.param).eval()


@pytest.fixture
def make_network():
    """``make_network(name, **overrides)`` -> a small network (train mode)."""
    return build_small


@pytest.fixture
def make_batch():
    """``make_batch(batch, visits, lengths, seed=0)`` -> ``(image, edss, lengths)`` at the small size."""
    return random_batch
