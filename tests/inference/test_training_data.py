"""Training data: frame sets as the worker sees them, datasets, augmentation, class balance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.frames import resize_for_model
from inference.modelmeta import IMAGENET_MEAN, IMAGENET_STD
from inference.training.data import (
    Augment,
    FrameDataset,
    GroupedSampler,
    RenderedDataset,
    balanced_sampler,
    class_weights,
    to_input,
)
from inference.training.frameset import damage_masks, normalize, render_set
from inference.training.synth import CLASSES, FrameSpec, render


def test_a_frame_set_is_the_worker_resize_of_the_rendered_frames() -> None:
    images, labels = render_set(4, seed=9, input_size=64, camera_size=(96, 128), start=10)
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8
    for i in range(4):
        spec = FrameSpec(9, 10 + i, CLASSES[labels[i]], (96, 128))
        np.testing.assert_array_equal(images[i], resize_for_model(render(spec), 64))


def test_twins_show_one_parcel_in_all_three_classes() -> None:
    images, labels = render_set(6, seed=9, input_size=64, twins=True)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]
    # Twins differ only where the damage is; different parcels differ almost everywhere.
    twin_diff = np.mean(images[0] != images[1])
    other_diff = np.mean(images[0] != images[3])
    assert twin_diff < 0.25 < other_diff


def test_normalize_follows_the_model_input_contract() -> None:
    images = np.zeros((2, 8, 8, 3), np.uint8)
    images[1] = 255
    x = normalize(images)
    assert x.shape == (2, 3, 8, 8) and x.dtype == np.float32
    for c in range(3):
        assert x[0, c, 0, 0] == pytest.approx(-IMAGENET_MEAN[c] / IMAGENET_STD[c], rel=1e-6)
        assert x[1, c, 0, 0] == pytest.approx((1 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], rel=1e-6)
    np.testing.assert_allclose(to_input(torch.from_numpy(images)).numpy(), x, rtol=1e-6)


def test_class_weights_make_every_class_weigh_the_same() -> None:
    labels = np.array([0] * 6 + [1] * 3 + [2])
    weights = class_weights(labels)
    totals = weights.numpy() * np.bincount(labels)
    np.testing.assert_allclose(totals, totals[0])
    assert weights.sum().item() > 0


def test_a_missing_class_gets_no_weight() -> None:
    assert class_weights(np.array([0, 0, 1])).tolist()[2] == 0.0


def test_the_balanced_sampler_draws_the_rare_class_as_often_as_the_common_one() -> None:
    labels = np.array([0] * 800 + [1] * 170 + [2] * 30)
    sampler = balanced_sampler(labels, 3000, torch.Generator().manual_seed(0))
    counts = np.bincount(labels[list(sampler)], minlength=3)
    assert counts.min() > 850, counts


def test_datasets_return_uint8_frames_and_labels() -> None:
    images, labels = render_set(3, seed=4, input_size=48)
    item, label = FrameDataset(images, labels)[2]
    assert item.dtype == torch.uint8 and item.shape == (48, 48, 3) and label == labels[2]
    rendered = RenderedDataset(3, seed=4, input_size=48)
    frame, label = rendered[2]
    np.testing.assert_array_equal(frame.numpy(), images[2])
    assert label == labels[2] == rendered.label(2)


def test_frame_dataset_refuses_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\) uint8"):
        FrameDataset(np.zeros((2, 8, 8), np.uint8), np.zeros(2))


def test_augmentation_is_random_but_seeded_and_keeps_the_shape() -> None:
    images = torch.from_numpy(render_set(4, seed=2, input_size=64)[0])
    augment = Augment()
    a = augment(images, torch.Generator().manual_seed(1))
    b = augment(images, torch.Generator().manual_seed(1))
    c = augment(images, torch.Generator().manual_seed(2))
    assert a.shape == (4, 3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    plain = to_input(images)
    assert (a - plain).abs().mean() > 0.05  # it does change the frames


def test_augmentation_without_geometry_or_colour_only_flips() -> None:
    images = torch.from_numpy(render_set(2, seed=2, input_size=32)[0])
    still = Augment(
        crop=1.0, rotation=0.0, brightness=0.0, contrast=0.0, saturation=0.0, white_balance=0.0
    )
    out = still(images, torch.Generator().manual_seed(0))
    plain = to_input(images)
    for i in range(2):
        candidates = [plain[i], plain[i].flip(-1), plain[i].flip(-2), plain[i].flip(-1, -2)]
        assert min((out[i] - p).abs().max().item() for p in candidates) < 1e-4


def test_damage_masks_mark_where_a_twin_differs_from_its_undamaged_twin() -> None:
    images, labels = render_set(9, seed=5, input_size=64, twins=True)
    masks = damage_masks(images, labels)
    assert masks.shape == (9, 64, 64) and masks.dtype == np.uint8
    area = masks.reshape(9, -1).sum(1)
    assert (area[0::3] == 0).all()  # undamaged: nothing
    assert (area[2::3] > area[1::3]).all()  # critical damage is larger than minor
    changed = np.abs(images[2].astype(int) - images[0].astype(int)).max(2) > 24
    np.testing.assert_array_equal(masks[2], changed)


def test_damage_masks_refuse_a_set_that_is_not_twins() -> None:
    images, _ = render_set(6, seed=5, input_size=32)
    with pytest.raises(ValueError, match="twins set"):
        damage_masks(images, np.array([0, 0, 1, 2, 1, 0]))


def test_grouped_sampler_keeps_each_parcels_three_frames_together() -> None:
    order = list(GroupedSampler(10, 3, torch.Generator().manual_seed(3)))
    assert sorted(order) == list(range(10))
    position = {index: at for at, index in enumerate(order)}
    for index in range(10):
        if index % 3:  # right after its predecessor in the same parcel
            assert position[index] == position[index - 1] + 1
    assert order != list(range(10))


def test_masks_move_with_the_frames_under_augmentation() -> None:
    images = torch.zeros(2, 32, 32, 3, dtype=torch.uint8)
    images[:, 4:10, 20:28] = 255  # a bright patch, and the mask over it
    masks = (images[..., 0] > 0).to(torch.uint8)
    x, moved = Augment().apply(images, torch.Generator().manual_seed(5), masks)
    assert moved is not None and moved.shape == (2, 32, 32)
    bright = x.mean(1) > 0.5
    assert ((moved > 0.5) == bright).float().mean() > 0.97


def test_frame_dataset_batches_masks_with_frames() -> None:
    images, labels = render_set(6, seed=5, input_size=32, twins=True)
    masks = damage_masks(images, labels)
    frames, target, batch_masks = FrameDataset(images, labels, masks).batch([4, 1])
    assert frames.shape == (2, 32, 32, 3) and target.tolist() == [1, 1]
    assert batch_masks is not None and torch.equal(batch_masks[0], torch.from_numpy(masks[4]))
