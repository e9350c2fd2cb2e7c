"""ResidualBlock3D (Way 1 / Way 2) and ResNeXtBlock3D (parallel branches, SE, ReZero)."""

import pytest
import torch
import torch.nn.functional as F

from msmonai.networks import GlobalPool3D, ResidualBlock3D, ResNet3D, ResNeXtBlock3D


@pytest.mark.parametrize(
    "m, n, s, way",
    [(4, 8, 1, 1), (8, 8, 2, 1), (4, 8, 2, 1), (8, 8, 1, 2)],
)
def test_residual_block_way_and_shapes(m, n, s, way):
    block = ResidualBlock3D(m, n, s).eval()
    assert block.conv1.kernel_size == (3, 3, 3) and block.conv1.stride == (1, s, s)
    assert block.conv1.in_channels == m and block.conv1.out_channels == n
    assert block.conv2.kernel_size == (3, 3, 3) and block.conv2.stride == (1, 1, 1) and block.conv2.in_channels == n
    if way == 1:
        projection, norm = block.skip
        assert isinstance(projection, torch.nn.Conv3d) and isinstance(norm, torch.nn.BatchNorm3d)
        assert projection.kernel_size == (1, 1, 1) and projection.stride == (1, s, s)
        assert (projection.in_channels, projection.out_channels) == (m, n)
    else:
        assert isinstance(block.skip, torch.nn.Identity)
    x = torch.randn(2, m, 5, 9, 9)
    with torch.no_grad():
        out = block(x)
    assert out.shape == (2, n, 5, -(-9 // s), -(-9 // s))
    assert (out >= 0).all()  # final ReLU


def test_residual_block_way2_adds_the_input_unchanged():
    block = ResidualBlock3D(4, 4, 1).eval()
    x = torch.randn(1, 4, 3, 6, 6)
    with torch.no_grad():
        main = block.norm2(block.conv2(torch.relu(block.norm1(block.conv1(x)))))
        torch.testing.assert_close(block(x), torch.relu(main + x))


def test_residual_block_norm_is_a_parameter():
    block = ResidualBlock3D(4, 8, 2, norm=("group", {"num_groups": 2}))
    assert isinstance(block.norm1, torch.nn.GroupNorm) and isinstance(block.skip[1], torch.nn.GroupNorm)


def test_resnet3d_default_layout_never_strides_the_slice_axis():
    net = ResNet3D(spatial_size=(50, 128, 128))
    ways = [1 if not isinstance(block.skip, torch.nn.Identity) else 2 for block in net.encoder.blocks]
    assert ways == [2, 2, 1, 2, 1, 2, 1, 2]  # stage 1 keeps 32 channels at stride 1; stages 2-4 project
    strided = [m for m in net.modules() if isinstance(m, (torch.nn.Conv3d, torch.nn.MaxPool3d))]
    assert all(m.stride[0] == 1 for m in strided)
    stem = net.encoder.stem[0]
    assert stem.kernel_size == (7, 7, 7) and stem.stride == (1, 2, 2)
    assert net.feature_dim == 256


def test_resnext_block_is_the_identity_at_initialisation():
    block = ResNeXtBlock3D(in_channels=8, mid_channels=2, branches=4)
    assert block.alpha.item() == 0.0 and block.alpha.requires_grad
    x = torch.randn(2, 8, 4, 6, 6)
    assert torch.equal(block(x), x)


def _explicit_branches(block: ResNeXtBlock3D, x: torch.Tensor, branches: int, mid: int) -> torch.Tensor:
    """The paper's F(x) with ``branches`` separate branch convolutions, sliced out of the block's weights."""
    outputs = []
    for i in range(branches):
        rows = slice(i * mid, (i + 1) * mid)
        h = F.selu(F.conv3d(x, block.branch_in.weight[rows], block.branch_in.bias[rows]))
        h = F.selu(F.conv3d(h, block.branch_conv.weight[rows], block.branch_conv.bias[rows], padding=1))
        outputs.append(h)
    merged = F.conv3d(torch.cat(outputs, dim=1), block.merge.weight, block.merge.bias)  # b * C_mid -> C_in
    squeeze = merged.mean(dim=(2, 3, 4))
    se_in, _, se_out, _ = block.attention.fc
    hidden = F.selu(F.linear(squeeze, se_in.weight, se_in.bias))
    excitation = torch.sigmoid(F.linear(hidden, se_out.weight, se_out.bias))
    return x + block.alpha * merged * excitation[:, :, None, None, None]


def test_grouped_convolution_equals_parallel_branches():
    torch.manual_seed(0)
    branches, mid = 4, 3
    block = ResNeXtBlock3D(in_channels=8, mid_channels=mid, branches=branches)
    assert block.branch_conv.groups == branches and block.branch_conv.in_channels == branches * mid
    with torch.no_grad():
        block.alpha.fill_(0.7)
        for parameter in block.parameters():  # non-zero biases too, so they are checked as well
            parameter.add_(0.05 * torch.randn_like(parameter))
        x = torch.randn(2, 8, 3, 5, 5)
        torch.testing.assert_close(block(x), _explicit_branches(block, x, branches, mid))


def test_resnext_block_uses_lecun_normal_weights():
    torch.manual_seed(0)
    block = ResNeXtBlock3D(in_channels=64, mid_channels=16, branches=4)
    weight = block.branch_conv.weight  # fan_in = 16 * 27 = 432
    assert abs(weight.mean().item()) < 0.01
    assert weight.var().item() == pytest.approx(1 / 432, rel=0.05)  # 110,592 draws: sampling error ~0.4 %
    assert torch.equal(block.branch_conv.bias, torch.zeros_like(block.branch_conv.bias))


def test_global_pooling_keeps_a_one_voxel_response_that_the_average_dilutes():
    maps = torch.zeros(2, 3, 10, 16, 16)
    maps[0, 1, 4, 7, 9] = 5.0  # one "lesion" voxel of 2560 in one channel of the first volume
    average = GlobalPool3D("avg")(maps)
    both = GlobalPool3D("avgmax")(maps)
    assert average.shape == (2, 3) and both.shape == (2, 6)
    assert torch.equal(both[:, :3], average) and average[0, 1] == pytest.approx(5.0 / 2560)
    assert both[0, 4] == 5.0 and torch.count_nonzero(both[1]) == 0
    assert GlobalPool3D("avgmax").output_dim(3) == 6 and GlobalPool3D().output_dim(3) == 3
    with pytest.raises(ValueError, match="pooling must be one of"):
        GlobalPool3D("median")
