"""The visit-volume cache and sequence batches."""

import shutil

import pytest
import torch

from msmonai.engine import SequenceBatch, VisitSequenceDataset, VisitVolumes, collate_sequences, load_datalist
from msmonai.engine.dataset import CACHE_DTYPE
from msmonai.errors import UserError
from msmonai.transforms import preprocessing_transforms

SIZE = (6, 16, 16)


def test_each_distinct_visit_is_decoded_once(tiny_datalist, monkeypatch):
    from msmonai.io.reader import DicomSeriesReader

    decoded = []
    read = DicomSeriesReader.read
    monkeypatch.setattr(DicomSeriesReader, "read", lambda self, data, **kw: decoded.append(data) or read(self, data, **kw))
    items = load_datalist(tiny_datalist)
    volumes = VisitVolumes(items, preprocessing_transforms(SIZE), num_workers=1, progress=False)  # counted here
    distinct = {tuple(v["image"]) for it in items for v in it["visits"]}
    assert len(volumes) == len(distinct) == len(decoded)
    dataset = VisitSequenceDataset(items, volumes)
    for _ in range(2):  # two epochs
        for i in range(len(dataset)):
            assert dataset[i]["image"].shape == (len(items[i]["visits"]), 1, *SIZE)
    assert len(decoded) == len(distinct)  # visits shared by observations and epochs never decoded again


def test_cached_volumes_are_the_preset_output_in_the_storage_type(tiny_datalist):
    items = load_datalist(tiny_datalist)[:2]
    volumes = VisitVolumes(items, preprocessing_transforms(SIZE), progress=False)
    for visit in items[1]["visits"]:
        cached = volumes.volume(visit["image"])
        exact = preprocessing_transforms(SIZE)({"image": visit["image"]})["image"].as_subclass(torch.Tensor)
        assert cached.dtype == CACHE_DTYPE and type(cached) is torch.Tensor
        assert exact.max() > 128  # float16 spacing is 0.125 in [128, 256): rounding error <= 0.0625
        assert torch.allclose(cached.float(), exact, rtol=0, atol=0.0625)


def test_worker_processes_fill_both_caches_with_the_volumes_of_one_process(tiny_datalist, tmp_path):
    items = load_datalist(tiny_datalist)
    distinct = sorted({tuple(v["image"]) for it in items for v in it["visits"]})
    alone = VisitVolumes(items, preprocessing_transforms(SIZE), num_workers=1, progress=False)
    two = VisitVolumes(items, preprocessing_transforms(SIZE), num_workers=2, progress=False)
    on_disk = VisitVolumes(items, preprocessing_transforms(SIZE), cache_dir=str(tmp_path / "cache"), num_workers=2)
    assert len(list((tmp_path / "cache").glob("*.pt"))) == len(distinct)  # filled up front, before any read
    for image in distinct:
        assert torch.equal(two.volume(image), alone.volume(image))
        assert torch.equal(on_disk.volume(image), alone.volume(image))


def test_a_series_that_fails_in_a_worker_is_named_in_one_line(tiny_datalist, tmp_path):
    copy = tmp_path / "cohort"
    shutil.copytree(tiny_datalist.parent, copy)
    items = load_datalist(copy / "datalist.json")[:3]
    victim = items[-1]["visits"][0]["image"][1]
    open(victim, "wb").write(b"DICM? no: a truncated file")
    with pytest.raises(UserError, match="cannot preprocess this series"):
        VisitVolumes(items, preprocessing_transforms(SIZE), num_workers=2, progress=False)


def test_disk_cache_is_keyed_by_content_and_rebuilds_corrupt_entries(tiny_datalist, tmp_path):
    source = tiny_datalist.parent
    copy = tmp_path / "cohort"
    shutil.copytree(source, copy)
    items = load_datalist(copy / "datalist.json")[:1]
    cache = tmp_path / "cache"
    first = VisitVolumes(items, preprocessing_transforms(SIZE), cache_dir=str(cache))
    volume = first.volume(items[0]["visits"][0]["image"])
    entries = sorted(cache.glob("*.pt"))
    assert len(entries) == 1
    # a corrupt entry is detected and rebuilt with the same content
    entries[0].write_bytes(b"not a tensor")
    rebuilt = VisitVolumes(items, preprocessing_transforms(SIZE), cache_dir=str(cache)).volume(items[0]["visits"][0]["image"])
    assert torch.equal(rebuilt, volume)
    # another transform setting never reuses the entry
    other = VisitVolumes(items, preprocessing_transforms((4, 8, 8)), cache_dir=str(cache)).volume(items[0]["visits"][0]["image"])
    assert other.shape == (1, 4, 8, 8)
    # changed source bytes give a new key
    victim = items[0]["visits"][0]["image"][0]
    data = bytearray(open(victim, "rb").read())
    data[-1] ^= 0xFF  # last pixel byte
    open(victim, "wb").write(bytes(data))
    VisitVolumes(items, preprocessing_transforms(SIZE), cache_dir=str(cache)).volume(items[0]["visits"][0]["image"])
    assert len(list(cache.glob("*.pt"))) == 3


def test_collate_pads_after_each_sequence_and_keeps_lengths():
    def obs(t, label):
        return {"image": torch.ones(t, 1, 2, 3, 3), "edss": torch.ones(t, 8), "length": t, "label": label,
                "patient": f"P{t}", "last_visit_date": "2020-01-01"}

    batch = collate_sequences([obs(1, 0), obs(3, 1)])
    assert batch["image"].shape == (2, 3, 1, 2, 3, 3) and batch["edss"].shape == (2, 3, 8)
    assert batch["image"].dtype == torch.float32 and batch["edss"].dtype == torch.float32
    assert batch["length"].tolist() == [1, 3] and batch["label"].tolist() == [0, 1]
    assert batch["image"][0, 1:].abs().sum() == 0 and batch["image"][1].min() == 1


def test_noise_augmentation_touches_only_active_observations():
    torch.manual_seed(0)
    image = torch.zeros(64, 2, 1, 2, 4, 4)
    label = torch.tensor([0, 1] * 32)
    batch = {"image": image, "label": label, "edss": torch.zeros(64, 2, 8), "length": torch.full((64,), 2)}
    out, target, (edss, lengths), kwargs = SequenceBatch(noise_prob=0.2, noise_std=5.0)(batch, "cpu")
    noisy = out.flatten(2).abs().sum(-1) > 0  # [B, T]
    assert not noisy[label == 0].any()
    fraction = noisy[label == 1].float().mean().item()
    assert 0.08 < fraction < 0.35  # 20 % of 64 active visit volumes, binomial spread
    assert torch.equal(target, label) and kwargs == {}
    assert image.abs().sum() == 0  # the input batch is left unchanged
    clean, *_ = SequenceBatch()(batch, "cpu")
    assert torch.equal(clean, image)
    half, *_ = SequenceBatch()(dict(batch, image=image.half()), "cpu")
    assert half.dtype == torch.float32 and torch.equal(half, image)


def test_differences_are_cached_per_consecutive_pair_and_form_the_second_channel(tiny_datalist):
    items = load_datalist(tiny_datalist)
    # a plain subtraction stands in for the registered one (msmonai.transforms.difference_transforms, tested with
    # the registration): what is checked here is which pairs are cached and where their differences go
    both = preprocessing_transforms(SIZE, keys=("image", "previous"))

    def difference(record: dict) -> dict:
        out = both(record)
        return {"image": out["image"] - out["previous"]}

    volumes = VisitVolumes(items, preprocessing_transforms(SIZE), num_workers=1, progress=False,
                           difference_transform=difference)
    pairs = {(tuple(a["image"]), tuple(b["image"])) for it in items for a, b in zip(it["visits"], it["visits"][1:])}
    assert set(volumes.pair_index) == pairs
    dataset = VisitSequenceDataset(items, volumes)
    longest = max(range(len(items)), key=lambda i: len(items[i]["visits"]))
    image, visits = dataset[longest]["image"], items[longest]["visits"]
    assert image.shape == (len(visits), 2, *SIZE) and image.dtype == CACHE_DTYPE
    assert torch.equal(image[0, 1], torch.zeros(SIZE, dtype=CACHE_DTYPE))  # the first visit has no previous one
    for t in range(1, len(visits)):
        assert torch.equal(image[t, :1], volumes.volume(visits[t]["image"]))
        expected = volumes.volume(visits[t]["image"]).float() - volumes.volume(visits[t - 1]["image"]).float()
        assert torch.allclose(image[t, 1:].float(), expected, atol=0.25)
