"""Grad-CAM on hand-checkable models, and its exports: peaks where the answer comes from."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from medcam_core.data.annotations import Box
from medcam_core.data.ground_truth import Annotation, GroundTruth
from medcam_core.explain.cam import GradCAM, GradCAMError, feature_layers, normalise, upsample
from medcam_core.explain.localisation import localisation
from medcam_core.explain.maps import Item, explain
from medcam_core.explain.picking import pick_examples
from medcam_core.explain.render import export

SIZE = 32


def bright_blob_model() -> keras.Model:
    """logit = 5·mean(brightness) − 1: only bright pixels raise it, every one equally."""
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    feat = keras.layers.Conv2D(2, 1, activation="relu", name="feat")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(feat)
    out = keras.layers.Dense(1, activation="sigmoid", name="prediction")(pooled)
    model = keras.Model(inputs, out, name="blob")  # named as a job's model is: same names, same configuration
    kernel = np.zeros((1, 1, 3, 2), np.float32)
    kernel[..., 0] = 1 / 3
    model.get_layer("feat").set_weights([kernel, np.zeros(2, np.float32)])
    model.get_layer("prediction").set_weights([np.array([[5.0], [0.0]], np.float32), np.array([-1.0], np.float32)])
    return model


@pytest.fixture(scope="module")
def blob_model() -> keras.Model:
    return bright_blob_model()


def blob_image(row: int, col: int) -> np.ndarray:
    x = np.zeros((SIZE, SIZE, 3), np.float32)
    x[row : row + 5, col : col + 5] = 1.0
    return x


def test_peak_lands_on_the_region_the_answer_depends_on(blob_model) -> None:
    cam = GradCAM(blob_model)
    assert cam.layer == "feat" and feature_layers(blob_model) == ["feat"]
    images = np.stack([blob_image(20, 4), blob_image(3, 25)])
    result = cam(images, target="positive")
    for maps, (row, col) in zip(result.maps, ((20, 4), (3, 25)), strict=True):
        peak = np.unravel_index(np.argmax(maps), maps.shape)
        assert row <= peak[0] < row + 5 and col <= peak[1] < col + 5
        assert maps.max() == pytest.approx(1.0)
        assert maps[row : row + 5, col : col + 5].sum() == pytest.approx(maps.sum())
    assert result.probabilities == pytest.approx(1 / (1 + np.exp(-(5 * 25 / SIZE**2 - 1))), rel=1e-5)


def test_negative_target_gives_a_safe_all_zero_map(blob_model) -> None:
    result = GradCAM(blob_model)(blob_image(10, 10)[None], target="negative")
    assert np.isfinite(result.maps).all() and not result.maps.any()
    assert not normalise(np.zeros((2, 4, 4))).any() and not normalise(-np.ones((1, 3, 3))).any()
    predicted = GradCAM(blob_model)(
        np.stack([blob_image(10, 10), np.zeros((SIZE, SIZE, 3), np.float32)]), threshold=0.5
    )
    assert list(predicted.targets) == [-1.0, -1.0]  # both below 0.5: the maps explain "negative"


def test_batched_equals_one_at_a_time(blob_model) -> None:
    rng = np.random.default_rng(0)
    images = rng.random((5, SIZE, SIZE, 3)).astype(np.float32)
    batched = GradCAM(blob_model, batch_size=4)(images, target="positive").maps
    single = np.concatenate(
        [GradCAM(blob_model, batch_size=1)(images[i : i + 1], target="positive").maps for i in range(5)]
    )
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_wrong_layer_and_target_are_clear_errors(blob_model) -> None:
    with pytest.raises(GradCAMError, match="'gap' is not a 4-D feature map.*feat"):
        GradCAM(blob_model, "gap")
    with pytest.raises(GradCAMError, match="target must be one of"):
        GradCAM(blob_model)(blob_image(1, 1)[None], target="left")


def test_export_of_a_16_bit_image_at_original_resolution(blob_model, tmp_path: Path) -> None:
    height, width = 48, 80
    wide = np.full((height, width), 1000, np.uint16)
    wide[30:40, 5:20] = 60000  # a bright region, bottom left
    path = tmp_path / "knee 16bit.png"
    Image.fromarray(wide).save(path)
    (result,) = explain(GradCAM(blob_model), [Item(path, 1)], SIZE, target="positive")
    files = export(result, tmp_path / "out", "feat", threshold=0.5)
    overlay = np.asarray(Image.open(files["overlay"]))
    assert overlay.shape == (height, width, 3)
    assert Image.open(files["heatmap"]).size == (width, height)
    assert Image.open(files["panel"]).size[0] > 600
    raw = np.load(files["map"])
    assert raw.shape == (SIZE, SIZE) and raw.min() >= 0 and raw.max() == pytest.approx(1.0)
    hot, cold = overlay[35, 12].astype(int), overlay[5, 70].astype(int)
    assert hot[0] > hot[2] and cold[2] > cold[0]  # jet: red where the map peaks, blue where it is zero


def test_localisation_figures_from_masks(blob_model, tmp_path: Path) -> None:
    items = []
    corners = ((2, 2), (20, 20), (27, 27))  # the last touches the bottom-right edge
    for i, (row, col) in enumerate(corners):
        image = (blob_image(row, col)[..., 0] * 255).astype(np.uint8)
        Image.fromarray(image).save(tmp_path / f"p{i}.png")
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[row : row + 5, col : col + 5] = 255
        Image.fromarray(mask).save(tmp_path / f"p{i}.mask.png")
        items.append(Item(tmp_path / f"p{i}.png", 1))
    results = explain(GradCAM(blob_model), items, SIZE, target="positive")
    truth = GroundTruth()
    assert truth.source == Annotation.SYNTHETIC
    figures = localisation(results, truth.mask_for)
    assert figures["n"] == 3 and figures["pointing_game"] == 1.0
    assert figures["energy_in_mask"] > 0.9 and figures["mask_area_share"] == pytest.approx(25 / SIZE**2)
    # ±1/16: every pixel within SIZE // 16 = 2 pixels (Chebyshev) of the mask, by brute force
    rows, cols = np.mgrid[:SIZE, :SIZE]
    grown = [
        (np.maximum(np.maximum(row - rows, rows - row - 4), np.maximum(col - cols, cols - col - 4)) <= 2).mean()
        for row, col in corners
    ]
    assert grown[0] == 81 / SIZE**2 and grown[2] == 49 / SIZE**2
    assert figures["tolerant_area_share"] == pytest.approx(np.mean(grown)) and figures["pointing_game_tolerant"] == 1.0
    # the lookup decides which images count: one that knows no mask leaves nothing to score
    only_first = localisation(results, lambda path: truth.mask_for(path) if path.name == "p0.png" else None)
    assert only_first["n"] == 1 and only_first["pointing_game"] == 1.0
    assert localisation(results, lambda path: None) == {
        "n": 0,
        "pointing_game": None,
        "pointing_game_tolerant": None,
        "energy_in_mask": None,
        "mask_area_share": None,
        "tolerant_area_share": None,
    }


def test_explain_knows_no_dataset() -> None:
    """The mask lookup is passed in: nothing under explain/ imports the data recipes or the synthetic data."""
    import medcam_core.explain

    for path in Path(medcam_core.explain.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        datasets = ("medcam_core.data.synthetic", "medcam_core.data.recipes")
        assert not {m for m in imported if m.startswith(datasets)}, path


def test_examples_cover_each_outcome() -> None:
    rows = [{"path": f"{i}.png", "label": i % 2, "probability": p} for i, p in enumerate([0.9, 0.8, 0.1, 0.2, 0.7])]
    picked = pick_examples(rows, threshold=0.5, per_outcome=1)
    assert sorted((item.label, item.path.name) for item in picked) == [
        (0, "0.png"),
        (0, "2.png"),
        (1, "1.png"),
        (1, "3.png"),
    ]


def test_annotated_boxes_are_scaled_with_the_image_and_score_like_the_same_masks(blob_model, tmp_path: Path) -> None:
    """Originals at 3× the model's size, boxes in their pixels: the decoder shrinks the image, and the
    box must land where the bright square is, so the figures match masks drawn at the model's size."""
    scale, items, boxes, masks = 3, [], {}, {}
    for i, (row, col) in enumerate(((2, 2), (20, 20))):
        small = (blob_image(row, col)[..., 0] * 255).astype(np.uint8)
        path = tmp_path / f"r{i}.png"
        Image.fromarray(small).resize((SIZE * scale, SIZE * scale), Image.NEAREST).save(path)
        boxes[str(path)] = (Box(col * scale, row * scale, 5 * scale, 5 * scale),)
        mask = np.zeros((SIZE, SIZE), bool)
        mask[row : row + 5, col : col + 5] = True
        masks[path] = mask
        items.append(Item(path, 1))
    boxed = GroundTruth(boxes)
    assert boxed.source == Annotation.BOXES
    drawn = boxed.mask_for(items[1].path)
    assert drawn.shape == (SIZE * scale, SIZE * scale) and drawn.sum() == (5 * scale) ** 2
    assert drawn[20 * scale, 20 * scale] and not drawn[20 * scale - 1, 20 * scale]
    results = explain(GradCAM(blob_model), items, SIZE, target="positive")
    from_boxes = localisation(results, boxed.mask_for)
    from_masks = localisation(results, masks.get)
    assert from_boxes["n"] == 2 and from_boxes["pointing_game"] == from_masks["pointing_game"] == 1.0
    assert from_boxes["mask_area_share"] == pytest.approx(from_masks["mask_area_share"])
    # energy is measured at the original's resolution, where the upsampled map bleeds a little past the box
    full = [upsample(r.cam, SIZE * scale, SIZE * scale) for r in results]
    inside = [f[boxed.mask_for(r.item.path)].sum() / f.sum() for f, r in zip(full, results, strict=True)]
    assert from_boxes["energy_in_mask"] == pytest.approx(np.mean(inside)) and np.mean(inside) > 0.85
    assert boxed.mask_for(tmp_path / "unannotated.png") is None


def test_the_randomised_model_depends_on_the_architecture_not_the_trained_weights() -> None:
    """Why one re-initialised model serves every job of an architecture: two models that differ only in
    their trained weights give the same randomised maps, which differ from the trained model's."""
    from medcam_core.explain.localisation import randomised_cam

    trained, other = bright_blob_model(), bright_blob_model()
    other.get_layer("prediction").set_weights([np.array([[-3.0], [2.0]], np.float32), np.array([0.5], np.float32)])
    images = np.stack([blob_image(2, 3), blob_image(9, 11), blob_image(14, 1)])
    a = randomised_cam(trained, "feat", seed=7, reuse=False)(images, target="positive")
    b = randomised_cam(other, "feat", seed=7, reuse=False)(images, target="positive")
    assert np.array_equal(a.maps, b.maps) and np.array_equal(a.probabilities, b.probabilities)
    # so a later model of the same configuration is given the one already made, and another seed is not
    kept = randomised_cam(trained, "feat", seed=7)
    assert randomised_cam(other, "feat", seed=7) is kept and randomised_cam(trained, "feat", seed=8) is not kept
    c = randomised_cam(trained, "feat", seed=8)(images, target="positive")
    assert not np.allclose(a.probabilities, c.probabilities)
    assert not np.allclose(a.probabilities, GradCAM(trained, "feat")(images, target="positive").probabilities)


def test_the_randomisation_check_ranks_raw_maps_even_where_the_relu_leaves_nothing(tmp_path: Path) -> None:
    """Spearman over the raw maps Σ_k w_k·A_k, against scipy on maps worked out by hand: for conv →
    global average → dense, ∂logit/∂A_k is kernel_k / (h·w) at every pixel, so the raw map is A @ kernel / (h·w).
    The random model here lowers the logit everywhere: its ReLU'd maps are all zero, its raw maps are not."""
    from scipy.stats import spearmanr

    from medcam_core.explain.localisation import randomisation_check, randomised_cam
    from medcam_core.explain.maps import model_inputs

    trained = bright_blob_model()
    random_cam = randomised_cam(trained, "feat", seed=3)
    head = random_cam.model.get_layer("prediction")
    head.set_weights([-np.abs(head.get_weights()[0]), head.get_weights()[1]])
    items = []
    for i, (row, col) in enumerate(((2, 3), (9, 11), (14, 1))):
        Image.fromarray((blob_image(row, col)[..., 0] * 255).astype(np.uint8)).save(tmp_path / f"b{i}.png")
        items.append(Item(tmp_path / f"b{i}.png", 1))
    x = model_inputs(items, SIZE)
    assert not random_cam(x, target="positive").maps.any()  # nothing left to rank after the ReLU

    def by_hand(model: keras.Model) -> np.ndarray:
        feat = np.asarray(keras.Model(model.inputs[0], model.get_layer("feat").output)(x))
        return feat @ model.get_layer("prediction").get_weights()[0][:, 0] / SIZE**2

    signed, _ = GradCAM(trained, "feat").signed(x)
    np.testing.assert_allclose(signed, by_hand(trained), rtol=1e-4, atol=1e-7)
    pairs = zip(signed, by_hand(random_cam.model), strict=True)
    expected = np.mean([spearmanr(a.ravel(), b.ravel()).statistic for a, b in pairs])
    assert randomisation_check(random_cam, items, SIZE, signed) == pytest.approx(expected, abs=1e-6)
    flat = np.zeros_like(signed)  # a map with no variation has no ranks: no images left, no figure
    assert randomisation_check(random_cam, items, SIZE, flat) is None
    assert randomisation_check(random_cam, [], SIZE, flat[:0]) is None


def test_the_randomised_maps_of_an_image_set_are_made_once(tmp_path: Path) -> None:
    """A queue's second preset of a dataset checks the same images against the same kept model: its
    maps come from the first job's pass. A file changed since is mapped anew, as is another set."""
    from medcam_core.explain.localisation import randomisation_check, randomised_cam
    from medcam_core.explain.maps import model_inputs

    trained = bright_blob_model()
    random_cam = randomised_cam(trained, "feat", seed=5, reuse=False)
    passes: list[int] = []
    signed_of = random_cam.signed
    random_cam.signed = lambda x: (passes.append(len(x)), signed_of(x))[1]  # counts the eager passes
    items = []
    for i, (row, col) in enumerate(((2, 3), (9, 11))):
        Image.fromarray((blob_image(row, col)[..., 0] * 255).astype(np.uint8)).save(tmp_path / f"b{i}.png")
        items.append(Item(tmp_path / f"b{i}.png", 1))
    signed, _ = GradCAM(trained, "feat").signed(model_inputs(items, SIZE))
    first = randomisation_check(random_cam, items, SIZE, signed)
    assert first is not None and randomisation_check(random_cam, items, SIZE, signed) == first and passes == [2]
    Image.fromarray((blob_image(12, 4)[..., 0] * 255).astype(np.uint8)).save(items[0].path)
    later = items[0].path.stat().st_mtime_ns + 10**9
    os.utime(items[0].path, ns=(later, later))
    randomisation_check(random_cam, items, SIZE, signed)
    randomisation_check(random_cam, items[1:], SIZE, signed[1:])
    assert passes == [2, 2, 1]


def test_a_job_from_random_weights_is_re_initialised_to_other_weights_than_its_own_start() -> None:
    """With `weights = "none"` the frozen layers keep the weights the job's seed drew; re-initialising
    with that same seed would give them back, and the check would compare the model with itself."""
    from medcam_core.explain.localisation import randomised_cam
    from medcam_core.train.model import build_model

    from conftest import tiny_preset

    model = build_model(tiny_preset(weights="none", seed=42), None).model
    random_model = randomised_cam(model, "relu", 42, reuse=False).model
    for name in ("conv1_conv", "conv5_block16_2_conv"):
        assert not np.allclose(random_model.get_layer(name).get_weights()[0], model.get_layer(name).get_weights()[0])
