"""The datalist's one home: checked on write and on read, absolute image paths, folds."""

import json
import os

import pytest

from msmonai.bundle_tools.cross_validation import inner_validation_fold
from msmonai.data.datalist import TESTING, TRAINING, fold_datalist, load_datalist, select_fold, write_datalist
from msmonai.errors import UserError


def test_image_paths_become_absolute_and_folds_split_by_patient(tiny_datalist):
    items = load_datalist(tiny_datalist)
    assert all(f.startswith(str(tiny_datalist.parent)) for it in items for v in it["visits"] for f in v["image"])
    train, val = select_fold(items, 0, "train"), select_fold(items, 0, "val")
    assert len(train) + len(val) == len(items) and val
    assert not {it["patient"] for it in train} & {it["patient"] for it in val}
    assert select_fold(items, None, "train") == items


def test_a_relative_datalist_path_still_gives_absolute_image_paths(tiny_datalist, monkeypatch):
    """`msmonai cv --datalist demo/datalist.json` writes fold datalists elsewhere: the paths must not stay relative."""
    monkeypatch.chdir(tiny_datalist.parent.parent)
    items = load_datalist(f"{tiny_datalist.parent.name}/{tiny_datalist.name}")
    files = [f for it in items for v in it["visits"] for f in v["image"]]
    assert all(os.path.isabs(f) and os.path.isfile(f) for f in files)


def test_a_missing_list_is_named(tmp_path, tiny_datalist):
    path = write_datalist(tmp_path / "training_only.json", {TRAINING: load_datalist(tiny_datalist)})
    with pytest.raises(UserError, match=f"{path}: datalist has no 'testing' list"):
        load_datalist(path, TESTING)


def test_a_malformed_item_is_refused_on_read_with_its_place(tmp_path, tiny_datalist):
    content = json.loads(tiny_datalist.read_text())
    n = next(i for i, it in enumerate(content[TRAINING]) if len(it["visits"]) > 1)
    content[TRAINING][n]["visits"][1]["edss"] = content[TRAINING][n]["visits"][1]["edss"][:7]
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(content))
    with pytest.raises(UserError) as err:
        load_datalist(path)
    assert str(path) in str(err.value) and f"training[{n}].visits[1].edss" in str(err.value), err.value
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("content", [{}, {TRAINING: {}}, {"train": []}, [1, 2]])
def test_what_is_not_a_datalist_is_refused(tmp_path, content):
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(content))
    with pytest.raises(UserError, match="not a datalist"):
        load_datalist(path, "all")


def test_only_testing_observations_may_lack_a_label(tmp_path, tiny_datalist):
    """`predict` writes unlabelled observations under `testing`; training ones must carry a label."""
    unlabelled = [{k: v for k, v in it.items() if k != "label"} for it in load_datalist(tiny_datalist)]
    written = write_datalist(tmp_path / "predict.json", {TESTING: unlabelled})
    assert [it["visits"] for it in load_datalist(written, TESTING)] == [it["visits"] for it in unlabelled]
    target = tmp_path / "bad.json"
    with pytest.raises(UserError, match=r"training\[0\]: 'label' is a required property"):
        write_datalist(target, {TRAINING: unlabelled})
    assert not target.exists()


def test_fold_datalists_hold_out_one_fold_and_keep_every_observation(tiny_datalist):
    items = load_datalist(tiny_datalist)
    for k in sorted({it["fold"] for it in items}):
        split = fold_datalist(items, k)
        assert {it["fold"] for it in split[TESTING]} == {k}
        assert k not in {it["fold"] for it in split[TRAINING]}
        assert sorted(map(json.dumps, split[TRAINING] + split[TESTING])) == sorted(map(json.dumps, items))


@pytest.mark.parametrize("folds", [[0, 1, 2, 3, 4], [0, 1, 2], [1, 4, 7, 9]])
def test_each_fold_validates_once_and_never_while_it_is_held_out(folds):
    validation = [inner_validation_fold(folds, k) for k in folds]
    assert all(v != k and v in folds for k, v in zip(folds, validation))
    assert sorted(validation) == sorted(folds)


def test_fewer_than_three_folds_cannot_cross_validate():
    with pytest.raises(UserError, match="at least 3 folds"):
        inner_validation_fold([0, 1], 0)
