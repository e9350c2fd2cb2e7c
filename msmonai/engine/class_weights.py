"""Class weights of the training loss, from the training observations' labels."""

from __future__ import annotations

from msmonai.errors import UserError


def balanced_class_weights(items: list[dict]) -> list[float]:
    """Cross-entropy class weights ``[1, n_quiet / n_active]`` of labelled observations, so that both classes weigh the
    same in the loss whatever the cohort's prevalence (the paper's fixed 1:3.5 suits its 10 % only).

    Raises:
        UserError: the observations hold a single class (nothing to learn from).
    """
    labels = [int(it["label"]) for it in items if int(it.get("label", -1)) >= 0]
    active = sum(labels)
    if active == 0 or active == len(labels):
        raise UserError(f"the training observations hold a single class ({len(labels)} observations, {active} active): "
                        "nothing to learn; check the datalist's labels and folds")
    return [1.0, (len(labels) - active) / active]
