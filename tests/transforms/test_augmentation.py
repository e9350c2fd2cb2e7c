"""VisitAugmentation: one random draw for every visit of an observation, identity when switched off, reproducible."""

import torch

from msmonai.transforms import VisitAugmentation


def _visits(steps: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(steps, 1, 6, 24, 24, generator=generator) * 255).to(torch.float16)


def test_identity_when_off_and_shape_and_dtype_kept():
    visits = _visits()
    assert torch.equal(VisitAugmentation((6, 24, 24), prob=0.0)(visits), visits)
    out = VisitAugmentation((6, 24, 24), prob=1.0)(visits)
    assert out.shape == visits.shape and out.dtype == visits.dtype
    assert not torch.equal(out, visits)


def test_all_visits_of_an_observation_move_alike():
    # the same volume at every visit: whatever the draw, the visits stay identical (their difference stays zero)
    same = _visits(1).expand(3, -1, -1, -1, -1).clone()
    augment = VisitAugmentation((6, 24, 24), prob=1.0)
    for seed in range(5):
        torch.manual_seed(seed)
        out = augment(same)
        assert torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])


def test_draws_follow_torch_seed():
    visits, augment = _visits(), VisitAugmentation((6, 24, 24), prob=0.5)
    torch.manual_seed(3)
    first = augment(visits)
    torch.manual_seed(3)
    assert torch.equal(augment(visits), first)
