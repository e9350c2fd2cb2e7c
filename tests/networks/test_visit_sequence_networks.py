"""The contract every network shares: shapes, padding invariance, gradients, TorchScript, MONAI's bundle check."""

import io
import json
import math

import pytest
import torch
from monai.bundle.scripts import verify_net_in_out

from msmonai.networks import VisitSequenceClassifier

# TorchScript is deprecated in torch 2.13 but is what MONAI bundles export; its warnings are expected here.
pytestmark = pytest.mark.filterwarnings("ignore:.torch.jit.* is deprecated:DeprecationWarning")

SEQUENCES_BY_T = {1: [1, 1, 1], 2: [2, 1, 2], 3: [3, 1, 2], 4: [4, 2, 1], 5: [5, 3, 4]}


@pytest.mark.parametrize("visits", sorted(SEQUENCES_BY_T))
def test_logits_shape_for_one_to_five_visits(small_network, make_batch, visits):
    lengths = SEQUENCES_BY_T[visits]
    image, edss, lengths = make_batch(len(lengths), visits, lengths)
    with torch.no_grad():
        logits = small_network(image, edss, lengths)
    assert logits.shape == (3, 2) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_encode_and_classify_compose_to_forward(small_network, make_batch):
    image, edss, lengths = make_batch(3, 4, [4, 2, 1])
    with torch.no_grad():
        features = torch.stack([small_network.encode(image[:, t]) for t in range(4)], dim=1)
        assert features.shape == (3, 4, small_network.feature_dim)
        torch.testing.assert_close(small_network.classify(features, edss, lengths), small_network(image, edss, lengths))


def test_padded_visits_do_not_change_logits(small_network, make_batch):
    image, edss, lengths = make_batch(3, 5, [2, 5, 3])
    other_image, other_edss = image.clone(), edss.clone()
    for b, length in enumerate(lengths.tolist()):
        other_image[b, length:] = float("nan")
        other_edss[b, length:] = torch.randn_like(other_edss[b, length:]) * 1e3
    with torch.no_grad():
        logits = small_network(image, edss, lengths)
        torch.testing.assert_close(small_network(other_image, other_edss, lengths), logits, rtol=0, atol=0)
        # the same sequence without any padding (its own batch, cut at its length) gives the same logits
        for b, length in enumerate(lengths.tolist()):
            alone = small_network(image[b : b + 1, :length], edss[b : b + 1, :length], lengths[b : b + 1])
            torch.testing.assert_close(alone, logits[b : b + 1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["ResNet3D", "PretrainedResNet2D"])
def test_padding_stays_out_of_batch_norm_statistics_in_training(make_network, make_batch, name):
    net = make_network(name).train()
    image, edss, lengths = make_batch(2, 3, [1, 3])
    padded = image.clone()
    padded[0, 1:] = float("nan")
    outputs = []
    for volumes in (image, padded):
        torch.manual_seed(1)  # the same dropout mask for both calls
        outputs.append(net(volumes, edss, lengths))
    torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["ResNet3D", "PretrainedResNet2D", "ResNeXt3D"])
def test_gradients_reach_every_trainable_parameter(make_network, make_batch, name):
    net = make_network(name).train()
    if name == "ResNeXt3D":  # ReZero: at alpha = 0 the residual branches get exactly zero gradient by design
        for parameter_name, parameter in net.named_parameters():
            if parameter_name.endswith(".alpha"):
                parameter.data.fill_(0.5)
    image, edss, lengths = make_batch(3, 3, [3, 1, 2])
    loss = torch.nn.functional.cross_entropy(net(image, edss, lengths), torch.tensor([0, 1, 1]))
    loss.backward()
    for parameter_name, parameter in net.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name
        assert parameter.grad.abs().sum() > 0, parameter_name


def test_head_dropout_kind(make_network):
    assert type(make_network("ResNet3D").head.dropout) is torch.nn.Dropout
    assert type(make_network("PretrainedResNet2D").head.dropout) is torch.nn.Dropout
    assert type(make_network("ResNeXt3D").head.dropout) is torch.nn.Dropout
    assert type(make_network("ResNeXt3D", normalized=False).head.dropout) is torch.nn.AlphaDropout


@pytest.mark.parametrize("feature_dim", [64, 512])
def test_rnn_input_weights_are_scaled_by_the_input_width(feature_dim):
    weights = VisitSequenceClassifier(feature_dim).rnn.weight_ih_l0.detach()
    bound = 1.0 / math.sqrt(feature_dim + 8)
    assert weights.abs().max() <= bound
    assert float(weights.std()) == pytest.approx(bound / math.sqrt(3), rel=0.1)  # uniform on [-bound, bound]


def test_resnet18_features_do_not_saturate_the_rnn_at_initialisation(make_network, make_batch):
    # PyTorch scales the input weights by the hidden size (64): with ResNet18's 512 features (mean ~0.8) 17 % of
    # the first step's tanh inputs exceeded 2 at initialisation (tanh' < 0.07 there); scaled by the input width,
    # their spread stays below 1.
    net = make_network("PretrainedResNet2D").train()  # batch statistics, as in the first training steps
    image, _, lengths = make_batch(4, 1, [1, 1, 1, 1])
    edss = torch.randint(0, 4, (4, 1, 8)).float()
    with torch.no_grad():
        inputs = torch.cat([net.visit_features(image, lengths), edss], dim=2)[:, 0]  # [B, 512 + 8]
        rnn = net.head.rnn
        pre = inputs @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + rnn.bias_hh_l0
    assert pre.std() < 1.0
    assert (pre.abs() > 2.0).float().mean() < 0.02


def test_dropout_is_active_only_in_training(make_network, make_batch):
    net = make_network("ResNet3D", dropout=0.5)
    net.eval()
    net.head.dropout.train()  # Monte-Carlo dropout: everything frozen but the head's dropout
    image, edss, lengths = make_batch(2, 2, [2, 1])
    with torch.no_grad():
        samples = torch.stack([net(image, edss, lengths) for _ in range(8)])
        assert samples.std(dim=0).max() > 0
        net.eval()
        torch.testing.assert_close(net(image, edss, lengths), net(image, edss, lengths), rtol=0, atol=0)


def test_torchscript_matches_eager_and_survives_save_load(small_network, make_batch):
    image, edss, lengths = make_batch(3, 4, [4, 1, 3])
    scripted = torch.jit.script(small_network)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    with torch.no_grad():
        expected = small_network(image, edss, lengths)
        torch.testing.assert_close(scripted(image, edss, lengths), expected)
        torch.testing.assert_close(loaded(image, edss, lengths), expected)
        features = small_network.encode(image[:, 0])
        torch.testing.assert_close(loaded.encode(image[:, 0]), features)
        stacked = features.unsqueeze(1).expand(-1, 4, -1)
        expected_head = small_network.classify(stacked, edss, lengths)
        torch.testing.assert_close(loaded.classify(stacked, edss, lengths), expected_head)


def test_monai_verify_net_in_out(small_network, tmp_path):
    target = f"msmonai.networks.{type(small_network).__name__}"
    config = {"network_def": {"_target_": target, "spatial_size": small_network.spatial_size}}
    if target.endswith("PretrainedResNet2D"):
        config["network_def"]["pretrained"] = False
    # MONAI feeds [1, num_channels, *spatial_shape]: here [B=1, T=1, C=1, D, H, W]
    image_format = {"num_channels": 1, "spatial_shape": [1, *small_network.spatial_size], "dtype": "float32"}
    meta = {
        "network_data_format": {
            "inputs": {"image": image_format},
            "outputs": {"pred": {"num_channels": 2, "dtype": "float32"}},
        }
    }
    (tmp_path / "inference.json").write_text(json.dumps(config))
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(tmp_path / "metadata.json"),
        config_file=str(tmp_path / "inference.json"),
        device="cpu",
        extra_forward_args={"edss": torch.zeros(1, 1, 8), "lengths": torch.ones(1, dtype=torch.int64)},
    )


@pytest.mark.parametrize(
    "lengths, message",
    [([0, 2], r"lengths must lie in \[1, 3\]"), ([4, 2], r"lengths must lie in \[1, 3\]"), ([1, 2, 3], "shape")],
)
def test_invalid_lengths_are_rejected(lengths, message):
    head = VisitSequenceClassifier(feature_dim=4)
    with pytest.raises(ValueError, match=message):
        head(torch.zeros(2, 3, 4), torch.zeros(2, 3, 8), torch.tensor(lengths))


def test_wrong_spatial_size_is_rejected(small_network, make_batch):
    image, edss, lengths = make_batch(1, 1, [1])
    with pytest.raises(ValueError, match="volumes must have shape"):
        small_network(image[..., :16], edss, lengths)


def test_head_reads_the_state_at_the_last_real_visit():
    torch.manual_seed(0)
    head = VisitSequenceClassifier(feature_dim=3, edss_dim=2, rnn_hidden=5, dropout=0.0).eval()
    features, edss = torch.randn(2, 4, 3), torch.randn(2, 4, 2)
    lengths = torch.tensor([2, 4])
    # reference: the tanh recurrence h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), written out
    rnn = head.rnn
    expected = []
    for b, length in enumerate(lengths.tolist()):
        state = torch.zeros(5)
        for t in range(length):
            x = torch.cat([features[b, t], edss[b, t]])
            state = torch.tanh(rnn.weight_ih_l0 @ x + rnn.bias_ih_l0 + rnn.weight_hh_l0 @ state + rnn.bias_hh_l0)
        expected.append(head.fc.weight @ state + head.fc.bias)
    with torch.no_grad():
        torch.testing.assert_close(head(features, edss, lengths), torch.stack(expected))


@pytest.mark.parametrize("name", ["ResNet3D", "PretrainedResNet2D", "ResNeXt3D"])
def test_with_the_difference_channel_each_visit_ends_in_its_change_evidence(make_network, make_batch, name):
    network = make_network(name, in_channels=2).eval()
    image, edss, lengths = make_batch(2, 3, [3, 1])
    change = torch.randn(2, 3, 1, *image.shape[3:], generator=torch.Generator().manual_seed(1)).clamp(-3, 3)
    change[0, 2, 0, 4, 10, 12] = -20.0  # a new dark spot at the last visit of the first sequence
    change[:, 0] = 0.0  # first visits: no map
    with torch.no_grad():
        features = network.visit_features(torch.cat([image, change], dim=2), lengths)
    assert features.shape[2] == network.feature_dim
    depth, seen = features[..., -2], features[..., -1]
    assert depth[0, 2] == pytest.approx(math.log1p(20.0)) and depth[0, 1] == pytest.approx(math.log1p(3.0))
    assert seen[0].tolist() == [0.0, 1.0, 1.0] and depth[0, 0] == 0
    assert not features[1, 1:].any()  # padded visits stay zero
    with torch.no_grad():
        assert network(torch.cat([image, change], dim=2), edss, lengths).shape == (2, 2)
