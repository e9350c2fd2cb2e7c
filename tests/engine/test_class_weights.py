"""Balanced class weights from the training observations."""

import pytest

from msmonai.engine import balanced_class_weights
from msmonai.errors import UserError


def test_both_classes_weigh_the_same_in_the_loss():
    items = [{"label": 1}] * 3 + [{"label": 0}] * 9 + [{}]  # an unlabelled observation does not count
    weights = balanced_class_weights(items)
    assert weights == [1.0, 3.0]
    assert weights[0] * 9 == weights[1] * 3


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1], []])
def test_a_single_class_is_refused(labels):
    with pytest.raises(UserError, match="single class"):
        balanced_class_weights([{"label": y} for y in labels])
