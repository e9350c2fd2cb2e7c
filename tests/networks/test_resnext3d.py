"""ResNeXt3D: the default's batch-norm and stem max-pool; the paper's self-normalising rules (standardised input, SELU,
no batch norm, LeCun init, stable activations)."""

import torch

from msmonai.networks import ResNeXt3D, ResNeXt3DEncoder, standardize_per_volume


def test_standardize_per_volume():
    volumes = torch.stack([torch.rand(1, 4, 8, 8) * 255.0, torch.randn(1, 4, 8, 8) * 3.0 + 40.0])
    standardized = standardize_per_volume(volumes)
    for volume in standardized:
        assert abs(volume.mean().item()) < 1e-5
        assert abs(volume.var(unbiased=False).item() - 1.0) < 1e-3
    assert torch.equal(standardize_per_volume(torch.full((1, 1, 2, 4, 4), 7.0)), torch.zeros(1, 1, 2, 4, 4))
    # each channel on its own: a T1 volume (0-255) beside a change map in noise units, a constant one becoming 0
    two = torch.cat([torch.rand(2, 1, 4, 8, 8) * 255.0, torch.randn(2, 1, 4, 8, 8) * 2.0], dim=1)
    two[1, 1] = 0.0
    standardized = standardize_per_volume(two)
    assert torch.allclose(standardized[0].mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(standardized[0].var(dim=(1, 2, 3), unbiased=False), torch.ones(2), atol=1e-3)
    assert not standardized[1, 1].any()


def test_encoder_is_invariant_to_intensity_scaling():
    torch.manual_seed(0)
    encoder = ResNeXt3DEncoder(channels=(8, 16), blocks_per_stage=(1, 1), branches=2, mid_channels=(2, 4),
                               normalized=False).eval()
    volumes = torch.rand(2, 1, 4, 16, 16)
    with torch.no_grad():
        # float32 rounding of the rescaled input propagates through the stack (observed differences ~1e-5)
        torch.testing.assert_close(encoder(volumes * 255.0 + 10.0), encoder(volumes), rtol=1e-3, atol=1e-4)


def test_default_normalises_the_stem_and_width_changes_and_max_pools_after_the_stem():
    net = ResNeXt3D(spatial_size=(8, 32, 32), channels=(8, 16, 32), blocks_per_stage=(1, 1, 1), mid_channels=(2, 4, 8))
    stem = [type(m) for m in net.encoder.stem]
    assert stem == [torch.nn.Conv3d, torch.nn.BatchNorm3d, torch.nn.SELU, torch.nn.MaxPool3d]
    assert net.encoder.stem[3].stride == (1, 2, 2)
    assert sum(isinstance(m, torch.nn.BatchNorm3d) for m in net.encoder.stages) == 2  # one per width change
    assert isinstance(net.head.dropout, torch.nn.Dropout)
    with torch.no_grad():
        assert net.encode(torch.rand(3, 1, 8, 32, 32) * 255).shape == (3, 32)


def test_paper_network_has_no_normalisation_layers_and_selu_only():
    net = ResNeXt3D(spatial_size=(8, 32, 32), normalized=False)
    kinds = {type(m) for m in net.encoder.modules()}
    forbidden = {torch.nn.BatchNorm3d, torch.nn.InstanceNorm3d, torch.nn.GroupNorm, torch.nn.LayerNorm}
    assert not kinds & (forbidden | {torch.nn.ReLU, torch.nn.MaxPool3d, torch.nn.Dropout})
    assert torch.nn.SELU in kinds


def _stage_activations(encoder: ResNeXt3DEncoder, volumes: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of the stem and of every SELU / ResNeXt block after it."""
    with torch.no_grad():
        h = encoder.stem(standardize_per_volume(volumes))
        activations = [h]
        for layer in encoder.stages:
            h = layer(h)
            if not isinstance(layer, torch.nn.Conv3d):
                activations.append(h)
    return activations


def test_paper_network_activations_stay_near_zero_mean_unit_variance_after_initialisation():
    # Full default volume size (narrow widths for speed) so zero-padding borders matter little.
    # At init the ReZero blocks are identities, so the stack is stem + 2 (conv, SELU) pairs, each keeping mean 0 /
    # variance 1 in expectation. Deviations: zero padding at the borders (about -5 % of variance in the 7x7x7
    # stem, less later) and the random weights (per-layer variance spread sqrt(2 / (fan_in * C_out)) ~ 3 %).
    # Hence |mean| < 0.05 and variance in [0.8, 1.1]; the same stack with PyTorch's default conv
    # initialisation (variance 1 / (3 fan_in)) ends at variance ~0.1 and fails.
    torch.manual_seed(0)
    encoder = ResNeXt3DEncoder(channels=(8, 16, 32), blocks_per_stage=(1, 1, 1), branches=2, mid_channels=(2, 4, 8),
                               normalized=False)
    volumes = torch.randn(1, 1, 50, 128, 128)
    activations = _stage_activations(encoder, volumes)
    assert len(activations) == 6
    for a in activations:
        assert abs(a.mean().item()) < 0.05
        assert 0.8 < a.var().item() < 1.1

    for module in encoder.modules():
        if isinstance(module, torch.nn.Conv3d):
            module.reset_parameters()
    assert _stage_activations(encoder, volumes)[-1].var().item() < 0.5
