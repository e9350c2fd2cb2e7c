"""Activation checkpointing trains exactly as without it: same logits, gradients and batch-norm statistics."""

import pytest
import torch

from msmonai.networks import ResNet3DEncoder, ResNeXt3D, VisitSequenceNetwork

TARGETS = torch.tensor([0, 1, 1])


def one_training_step(net, make_batch):
    """Logits, parameter gradients and buffers after one forward + backward in training mode."""
    image, edss, lengths = make_batch(3, 3, [3, 1, 2])  # 6 real volumes
    net.train()
    torch.manual_seed(1)  # the same head dropout mask in every run
    logits = net(image, edss, lengths)
    torch.nn.functional.cross_entropy(logits, TARGETS).backward()
    grads = {name: p.grad.clone() for name, p in net.named_parameters()}
    return logits.detach(), grads, {name: b.clone() for name, b in net.named_buffers()}


def assert_same_step(plain, checkpointed):
    (plain_logits, plain_grads, plain_buffers), (logits, grads, buffers) = plain, checkpointed
    torch.testing.assert_close(logits, plain_logits, rtol=1e-5, atol=1e-6)
    assert grads.keys() == plain_grads.keys() and buffers.keys() == plain_buffers.keys()
    for name, grad in plain_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    for name, buffer in plain_buffers.items():
        torch.testing.assert_close(buffers[name], buffer, rtol=1e-5, atol=1e-7, msg=name)


def test_paper_resnext3d_chunks_train_exactly_as_the_whole_batch(make_network, make_batch):
    plain = one_training_step(make_network("ResNeXt3D", normalized=False), make_batch)
    chunked = make_network("ResNeXt3D", normalized=False, encode_chunk=4)  # 4 + 2
    assert_same_step(plain, one_training_step(chunked, make_batch))


def test_resnet3d_checkpointed_stem_keeps_gradients_and_batch_norm_statistics(make_network, make_batch):
    plain = one_training_step(make_network("ResNet3D"), make_batch)
    assert plain[2]["encoder.stem.1.num_batches_tracked"] == 1  # the stem's batch norm did update once
    assert_same_step(plain, one_training_step(make_network("ResNet3D", checkpoint_stem=True), make_batch))


@pytest.mark.parametrize("name, network, option", [("ResNet3D", {}, {"checkpoint_stem": True}),
                                                   ("ResNeXt3D", {"normalized": False}, {"encode_chunk": 2})])
def test_evaluation_and_torchscript_give_the_same_outputs(make_network, make_batch, name, network, option):
    image, edss, lengths = make_batch(2, 3, [3, 2])  # 5 real volumes: chunks of 2, 2 and 1
    plain, memory_saving = make_network(name, **network).eval(), make_network(name, **network, **option).eval()
    scripted = torch.jit.script(memory_saving)
    with torch.no_grad():
        expected = plain(image, edss, lengths)
        torch.testing.assert_close(memory_saving(image, edss, lengths), expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(scripted(image, edss, lengths), expected, rtol=1e-5, atol=1e-6)


def test_chunks_are_refused_for_batch_norm_encoders_and_negative_sizes():
    with pytest.raises(ValueError, match="without batch-norm"):
        VisitSequenceNetwork(ResNet3DEncoder(channels=(4,), strides=(1,), blocks_per_stage=(1,)), 4, (8, 32, 32),
                             encode_chunk=2)
    with pytest.raises(ValueError, match="encode_chunk must be >= 0"):
        ResNeXt3D(spatial_size=(8, 32, 32), encode_chunk=-1)
    with pytest.raises(ValueError, match="without batch-norm"):
        ResNeXt3D(spatial_size=(8, 32, 32), encode_chunk=2)  # the default encoder has batch-norm
