"""The synthetic conveyor-frame generator: determinism, classes that differ, camera faults."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference.training.camera import (
    CLEAN,
    FAULTS,
    CameraConditions,
    apply_camera,
    camera_fault,
    smudge_mask,
)
from inference.training.synth import (
    CLASSES,
    FrameSpec,
    contact_sheet,
    generate,
    label_for,
    make_dataset,
    render,
    render_frame,
)

SMALL = (224, 224)
CAMERA = (240, 320)  # wide enough for a smudge to have an "elsewhere"


def luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)


def laplacian_var(image: np.ndarray, where: np.ndarray | None = None) -> float:
    lap = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F)
    return float(lap[where].var() if where is not None else lap.var())


@pytest.fixture(scope="module")
def clean_frames() -> list[np.ndarray]:
    return [render(FrameSpec(11, i, CLASSES[i % 3], CAMERA)) for i in range(6)]


def faulty(frames: list[np.ndarray], conditions: CameraConditions) -> list[np.ndarray]:
    return [apply_camera(f, conditions, np.random.default_rng(i)) for i, f in enumerate(frames)]


# --- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("camera", [CLEAN, camera_fault("noisy", 0.5)], ids=["clean", "noisy"])
def test_same_seed_and_index_give_the_identical_frame(camera: CameraConditions) -> None:
    spec = FrameSpec(5, 17, "critical", SMALL, camera)
    assert np.array_equal(render(spec), render(dataclasses.replace(spec)))


def test_frames_do_not_depend_on_the_order_they_are_made_in() -> None:
    in_order = [f.image for f in generate(8, seed=3, size=SMALL)]
    backwards = [f.image for f in reversed(list(generate(8, seed=3, size=SMALL)))][::-1]
    from_the_middle = [f.image for f in generate(4, seed=3, size=SMALL, start=4)]
    one_off = render(FrameSpec(3, 6, label_for(3, 6), SMALL))
    for a, b in zip(in_order, backwards, strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(in_order[4:], from_the_middle, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(in_order[6], one_off)


def test_different_seeds_give_different_sets() -> None:
    a, _ = make_dataset(6, seed=1, size=(128, 128))
    b, _ = make_dataset(6, seed=2, size=(128, 128))
    assert all(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # Labels come from their own stream: different seeds, different class sequences.
    assert [label_for(1, i) for i in range(200)] != [label_for(2, i) for i in range(200)]


# --- shapes, classes, datasets --------------------------------------------------------------


@pytest.mark.parametrize("size", [(224, 224), (128, 128), (480, 640)])
def test_frames_are_rgb_uint8_of_the_requested_size(size: tuple[int, int]) -> None:
    image = render(FrameSpec(0, 0, "minor", size))
    assert image.shape == (*size, 3)
    assert image.dtype == np.uint8
    assert image.std() > 5  # a scene, not a blank


def test_every_class_renders_with_the_damage_it_names() -> None:
    materials, kinds = set(), {label: set() for label in CLASSES}
    for label in CLASSES:
        for index in range(40):
            frame = render_frame(FrameSpec(9, index, label, (128, 128)))
            assert frame.label == label and frame.label_index == CLASSES.index(label)
            materials.add(frame.material)
            kinds[label].update(d.kind for d in frame.damage)
    assert materials == {"box", "mailer", "polybag"}
    assert kinds["undamaged"] == set()
    assert {"tear", "dent", "stain"} <= kinds["minor"]
    assert {"hole", "crushed_corner", "open_flap", "water_damage"} <= kinds["critical"]


def test_damage_changes_a_bounded_area_and_critical_more_than_minor() -> None:
    minor_area, critical_area = [], []
    for index in range(30):
        clean = render(FrameSpec(21, index, "undamaged", SMALL)).astype(np.int16)
        for label, areas in (("minor", minor_area), ("critical", critical_area)):
            damaged = render(FrameSpec(21, index, label, SMALL)).astype(np.int16)
            changed = np.abs(damaged - clean).max(axis=2) > 12
            areas.append(changed.mean())
    assert max(critical_area) < 0.3  # the parcel changed, not the frame
    assert min(critical_area) > 0
    assert np.mean(critical_area) > 2.5 * np.mean(minor_area)
    assert np.mean(np.array(minor_area) > 0) > 0.8  # minor damage is usually visible


def test_make_dataset_returns_stacked_frames_and_class_indices() -> None:
    images, labels = make_dataset(9, seed=4, size=(128, 128), balanced=True)
    assert images.shape == (9, 128, 128, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=3).tolist() == [3, 3, 3]


def test_labels_follow_the_class_mix() -> None:
    counts = np.bincount(
        [CLASSES.index(label_for(0, i, (0.8, 0.17, 0.03))) for i in range(4000)], minlength=3
    )
    assert np.allclose(counts / 4000, (0.8, 0.17, 0.03), atol=0.02)


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="label"):
        FrameSpec(0, 0, "squashed")
    with pytest.raises(ValueError, match="size"):
        FrameSpec(0, 0, "minor", (16, 16))
    with pytest.raises(ValueError, match="class_mix"):
        label_for(0, 0, (1.0, 0.0))


# --- camera conditions ----------------------------------------------------------------------


def test_the_default_camera_is_clean_and_leaves_frames_alone(clean_frames) -> None:
    assert CameraConditions().is_clean
    assert camera_fault("defocus", 0.0) == CLEAN
    assert np.array_equal(
        apply_camera(clean_frames[0], CLEAN, np.random.default_rng(0)), clean_frames[0]
    )


def test_defocus_lowers_the_variance_of_the_laplacian(clean_frames) -> None:
    for before, after in zip(
        clean_frames, faulty(clean_frames, camera_fault("defocus", 0.5)), strict=True
    ):
        assert laplacian_var(after) < 0.5 * laplacian_var(before)


def test_haze_lifts_the_black_level_and_lowers_contrast(clean_frames) -> None:
    for before, after in zip(
        clean_frames, faulty(clean_frames, CameraConditions(haze=0.4)), strict=True
    ):
        assert np.percentile(luma(after), 1) > np.percentile(luma(before), 1) + 40
        assert luma(after).std() < 0.7 * luma(before).std()


def test_half_gain_lowers_mean_luma(clean_frames) -> None:
    for before, after in zip(
        clean_frames, faulty(clean_frames, CameraConditions(gain=0.5)), strict=True
    ):
        assert luma(after).mean() < 0.6 * luma(before).mean()


def test_gamma_above_one_darkens_the_mid_tones(clean_frames) -> None:
    for before, after in zip(
        clean_frames, faulty(clean_frames, CameraConditions(gamma=1.5)), strict=True
    ):
        assert luma(after).mean() < luma(before).mean() - 5


@pytest.mark.parametrize(("fault", "sign"), [("warm", 1), ("cool", -1)])
def test_colour_temperature_moves_red_against_blue(clean_frames, fault: str, sign: int) -> None:
    for before, after in zip(
        clean_frames, faulty(clean_frames, camera_fault(fault, 0.6)), strict=True
    ):
        r0, b0 = before[..., 0].mean(), before[..., 2].mean()
        r1, b1 = after[..., 0].mean(), after[..., 2].mean()
        assert sign * ((r1 - b1) - (r0 - b0)) > 5


def test_sensor_noise_raises_the_variance_of_the_laplacian(clean_frames) -> None:
    for before, after in zip(
        clean_frames, faulty(clean_frames, camera_fault("noisy", 0.5)), strict=True
    ):
        assert laplacian_var(after) > 2 * laplacian_var(before)


def test_a_smudge_blurs_its_patch_much_more_than_the_rest(clean_frames) -> None:
    dirty = CameraConditions(smudge=0.8, smudge_center=(0.3, 0.5), smudge_radius=0.25)
    mask = smudge_mask(*CAMERA, dirty)
    patch, elsewhere = mask > 0.9, mask < 0.02
    assert patch.mean() > 0.02 and elsewhere.mean() > 0.3
    for before, after in zip(clean_frames, faulty(clean_frames, dirty), strict=True):
        in_patch = laplacian_var(after, patch) / laplacian_var(before, patch)
        outside = laplacian_var(after, elsewhere) / laplacian_var(before, elsewhere)
        assert in_patch < 0.2 and outside > 0.9


def test_every_named_fault_changes_the_frame_and_bad_names_are_refused(clean_frames) -> None:
    for name in FAULTS:
        changed = apply_camera(clean_frames[0], camera_fault(name, 0.5), np.random.default_rng(0))
        assert not np.array_equal(changed, clean_frames[0]), name
    with pytest.raises(ValueError, match="unknown camera fault"):
        camera_fault("cracked", 0.5)
    with pytest.raises(ValueError, match="severity"):
        camera_fault("dim", 1.5)
    with pytest.raises(ValueError, match="haze"):
        CameraConditions(haze=2.0)


def test_a_camera_fault_leaves_the_scene_unchanged() -> None:
    spec = FrameSpec(8, 2, "critical", SMALL)
    foggy = dataclasses.replace(spec, camera=CameraConditions(haze=0.3))
    expected = apply_camera(render(spec), foggy.camera, np.random.default_rng(0))
    assert np.array_equal(render(foggy), expected)


# --- tooling --------------------------------------------------------------------------------


def test_contact_sheet_writes_a_png(tmp_path) -> None:
    path = tmp_path / "sheet.png"
    sheet = contact_sheet(path, columns=2, tile=(96, 128))
    assert path.stat().st_size > 0
    assert cv2.imread(str(path)).shape == sheet.shape


def test_the_generator_does_not_import_torch() -> None:
    code = "import sys, inference.training.synth; sys.exit('torch' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
