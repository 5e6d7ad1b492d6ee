"""Training options: augmentation (seeded Keras layers on training images only, cached as K views or
applied live), mixed precision and XLA. Two jobs train once for the module: a bfloat16 one on cached
augmented views, and a float32 one augmenting live."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from medcam_core.config import Augment, parse_config
from medcam_core.data.decode import decode
from medcam_core.errors import ConfigError
from medcam_core.inference.classifier import Classifier
from medcam_core.jobqueue.runner import Runner
from medcam_core.outputs.job_folder import JobFolder, read_predictions
from medcam_core.train.augment import augmenter
from medcam_core.train.input_pipeline import batches, image_batches
from medcam_core.train.model import compile_model
from medcam_core.train.precision import dtype_policy
from medcam_core.vocabulary import Precision

from conftest import dataset_spec, tiny_preset, tiny_queue

pytestmark = pytest.mark.cost(61)

GRAY = np.random.default_rng(0).integers(0, 256, (16, 32, 32), dtype=np.uint8)


def _pixels(spec: Augment, seed: int) -> np.ndarray:
    """The augmented images as the pipeline hands them on, turned back from the ImageNet
    normalisation into gray 0–255 (channel 0: x/255 = mean + std·y)."""
    out = np.concatenate([b.numpy() for b in image_batches(GRAY, None, 8, False, 0, augment=augmenter(spec, seed))])
    return (out[..., 0] * 0.229 + 0.485) * 255.0


def test_each_layer_does_what_its_key_says() -> None:
    flipped = _pixels(Augment(flip=True), 3)
    as_is = [np.allclose(f, g, atol=1e-3) for f, g in zip(flipped, GRAY, strict=True)]
    mirrored = [np.allclose(f, g[:, ::-1], atol=1e-3) for f, g in zip(flipped, GRAY, strict=True)]
    assert all(a or m for a, m in zip(as_is, mirrored, strict=True)) and any(mirrored) and any(as_is)

    brighter = _pixels(Augment(brightness=0.1), 3)
    inside = (GRAY > 30) & (GRAY < 225)  # never clipped by a shift of ≤ 25.5
    shifts = [float(np.median((b - g)[m])) for b, g, m in zip(brighter, GRAY.astype(float), inside, strict=True)]
    for b, g, m, s in zip(brighter, GRAY.astype(float), inside, shifts, strict=True):
        assert np.allclose((b - g)[m], s, atol=1e-2)  # one offset per image
    assert all(abs(s) <= 0.1 * 255 + 1e-3 for s in shifts) and len({round(s, 2) for s in shifts}) > 8

    turned = _pixels(Augment(rotation=30), 3)
    assert turned.min() >= 0 and turned.max() <= 255 + 1e-3
    assert not np.allclose(turned, GRAY, atol=1)


def test_same_seed_same_views_other_seed_other_views() -> None:
    spec = Augment(rotation=10, shift=0.1, zoom=0.1, brightness=0.1, contrast=0.2)
    a, b, c = _pixels(spec, 5), _pixels(spec, 5), _pixels(spec, 6)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c, atol=1)


def test_cached_views_are_drawn_one_per_image_each_epoch_with_its_label() -> None:
    n, views = 10, 3
    records = np.arange(n * views, dtype=np.float32).reshape(-1, 1)  # record v·n + i stands for view v of image i
    labels = (np.arange(n) % 2).astype(np.float32)
    ds = batches(records, labels, 4, True, seed=1, views=views)
    drawn = []
    for _ in range(6):
        got = [(x.numpy()[:, 0].astype(int), y.numpy()) for x, y in ds]
        index = np.concatenate([g for g, _ in got])
        assert sorted(index % n) == list(range(n))  # every image once per epoch
        assert np.array_equal(np.concatenate([y for _, y in got]), labels[index % n])
        drawn.append(dict(zip(index % n, index // n, strict=True)))
    seen = [{epoch[i] for epoch in drawn} for i in range(n)]
    assert all(len(s) >= 2 for s in seen)  # views change between epochs
    again = [sorted(x.numpy()[:, 0].astype(int)) for x, _ in batches(records, labels, 4, True, seed=1, views=views)]
    first = [sorted(x.numpy()[:, 0].astype(int)) for x, _ in batches(records, labels, 4, True, seed=1, views=views)]
    assert again == first  # seeded
    with pytest.raises(ValueError, match="training only"):
        batches(records, labels, 4, False, seed=1, views=views)


def test_feature_pass_caches_k_views_of_training_images_only(tmp_path: Path, synthetic_root: Path) -> None:
    from medcam_core.data.load import load_dataset
    from medcam_core.train.fit import compute_features
    from medcam_core.train.model import build_model, split_frozen

    preset = tiny_preset()
    data = load_dataset(dataset_spec(synthetic_root, "pneumonia"), 32, 42, lambda d, t: None, tmp_path)
    split, _ = split_frozen(build_model(preset, None).model)
    spec = Augment(rotation=15, brightness=0.2)

    def features(augment: Augment | None, views: int = 1):
        return compute_features(
            split, data, 16, (), lambda d, t: None, lambda: False, True, tmp_path, augment, views, 7
        )

    plain, first, again = features(None), features(spec, 3), features(spec, 3)
    n = len(data.splits["train"])
    train = first.by_split["train"][np.arange(3 * n)].reshape(3, n, -1)
    assert first.views == 3 and train.shape[:2] == (3, n)
    plain_train = plain.by_split["train"][np.arange(n)].reshape(n, -1)
    assert not np.allclose(train[0], train[1]) and not np.allclose(train[0], plain_train)
    assert np.array_equal(
        train, again.by_split["train"][np.arange(3 * n)].reshape(3, n, -1)
    )  # a resume recomputes them
    for name in ("val", "test"):
        m = len(data.splits[name])
        assert np.array_equal(first.by_split[name][np.arange(m)], plain.by_split[name][np.arange(m)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> tuple[Path, list]:
    base = tiny_preset(epochs=1, run_eagerly=True, precise_bn=False, augment=Augment(rotation=10, zoom=0.1))
    cached = replace(base, augment_views=2, precision=Precision.MIXED_BFLOAT16)
    live = replace(base, name="intensive", augment_views=0)
    output = tmp_path_factory.mktemp("trained")
    config = tiny_queue((dataset_spec(synthetic_root, "pneumonia"),), output, {"standard": cached, "intensive": live})
    events: list = []
    counts = Runner(config, [events.append]).run()
    assert counts["done"] == 2, [getattr(e, "error", "") for e in events if e.kind == "job_failed"]
    return output, events


def _folder(output: Path, preset: str) -> JobFolder:
    return JobFolder.committed(output, f"densenet121_pneumonia_{preset}_models")


def test_augmented_jobs_train_on_cached_views_and_live(trained: tuple[Path, list]) -> None:
    output, events = trained
    notices = [e.message for e in events if e.kind == "notice"]
    assert any("2 augmented views of each of" in n and "MB of frozen features" in n for n in notices)
    assert any("augment_views = 0" in n for n in notices)
    paths = {}
    for preset in ("standard", "intensive"):
        metrics = json.loads(_folder(output, preset).metrics_file.read_text(encoding="utf-8"))
        paths[preset] = metrics["training"]["training_path"]
        assert metrics["test"]["auroc"] is not None
    assert paths == {"standard": "cached-features", "intensive": "plain"}

    folder = _folder(output, "intensive")
    model = keras.models.load_model(folder.model_file)
    copy = keras.models.clone_model(model)
    copy.load_weights(folder.checkpoint_file)  # written once, after fit: the best epoch (no precise BN here)
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), model.get_weights(), strict=True))
    copy.load_weights(folder.weights_file)  # copied out of the .keras archive
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), model.get_weights(), strict=True))


def test_a_bfloat16_job_saves_a_model_that_predicts_what_it_evaluated(trained: tuple[Path, list]) -> None:
    output, _ = trained
    assert keras.config.dtype_policy().name == "float32"  # the job's policy did not leak out of it
    folder = _folder(output, "standard")
    metrics = json.loads(folder.metrics_file.read_text(encoding="utf-8"))
    assert "randomised_weights_rank_correlation" in metrics["gradcam"]

    classifier = Classifier.from_job_folder(folder.root)  # the safe loader admits the dtype policies
    model = classifier.model
    assert model.get_layer("conv1_conv").compute_dtype == "bfloat16"
    assert model.get_layer("prediction").compute_dtype == "float32"
    rows = [r for r in read_predictions(folder.predictions_file) if r["split"] == "test"]
    probs = classifier.probabilities(np.stack([decode(Path(r["path"]), 32) for r in rows]))
    assert probs.dtype == np.float32
    evaluated = np.array([float(r["probability"]) for r in rows])
    # bfloat16 keeps 8 bits of mantissa: the file's run over images may round differently from the
    # job's run over cached features, by a few units in the third decimal of a probability
    assert np.max(np.abs(probs - evaluated)) < 0.02


def _preset_config(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "medcam.toml"
    dataset = '[[datasets]]\nname = "a"\npath = "data"\npositive = ["yes"]\n'
    path.write_text(f"{dataset}[presets.aug]\nepochs = 3\n{table}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ("[presets.aug.augment]\nrotation = 400", "presets.aug.augment.rotation", "degrees from 0 to 180"),
        ("[presets.aug.augment]\nshear = 0.1", "presets.aug.augment.shear", "unknown key"),
        ("[presets.aug.augment]\nflip = 1", "presets.aug.augment.flip", "true or false"),
        ("augment = 3", "presets.aug.augment", "a table [presets.NAME.augment]"),
        ("augment_views = -1", "presets.aug.augment_views", "an integer from 0 to 64"),
        ('precision = "float16"', "presets.aug.precision", "mixed_bfloat16"),
        ('jit_compile = "yes"', "presets.aug.jit_compile", '"auto"'),
    ],
)
def test_bad_keys_name_file_key_and_expectation(tmp_path: Path, table: str, key: str, expected: str) -> None:
    import tomllib

    path = _preset_config(tmp_path, table)
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(path.read_text(encoding="utf-8")), file=str(path))
    assert info.value.key == key and expected in info.value.expected and str(path) in str(info.value)


def test_a_table_turns_augmentation_on_with_its_values() -> None:
    table = {"augment": {"rotation": 10, "flip": True}, "augment_views": 3, "precision": "mixed_bfloat16"}
    dataset = {"name": "a", "path": "data", "positive": ["yes"]}
    config = parse_config({"presets": {"aug": table}, "datasets": [dataset]})
    preset = config.presets["aug"]
    assert preset.augment == Augment(rotation=10, flip=True) and preset.augment.active and preset.augment_views == 3
    assert preset.precision == "mixed_bfloat16" and preset.jit_compile == "auto"
    assert not config.presets["standard"].augment.active  # off unless asked for


def test_float16_training_is_loss_scaled_and_the_policy_stays_inside() -> None:
    with dtype_policy(Precision.MIXED_FLOAT16):
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
        out = keras.layers.Dense(1, activation="sigmoid", dtype="float32")(keras.layers.Dense(8)(hidden))
    assert keras.config.dtype_policy().name == "float32"
    # the cached path's head model is made after the policy is restored, so Keras would not scale its loss
    head = keras.Model(hidden, out)
    assert head.layers[1].compute_dtype == "float16" and head.layers[1].variable_dtype == "float32"
    compile_model(head, 1e-3, run_eagerly=True, precision=Precision.MIXED_FLOAT16)
    assert isinstance(head.optimizer, keras.optimizers.LossScaleOptimizer)
    x = np.random.default_rng(0).normal(size=(8, 8)).astype(np.float32)
    history = head.fit(x, np.arange(8) % 2, epochs=2, batch_size=4, verbose=0)
    assert all(np.isfinite(history.history["loss"]))


def test_xla_maps_and_fit_match_the_plain_graph() -> None:
    from medcam_core.explain.cam import GradCAM

    from test_gradcam import blob_image, bright_blob_model

    model = bright_blob_model()
    images = np.stack([blob_image(3, 4), blob_image(10, 12)])
    plain = GradCAM(model, "feat")(images, target="positive")
    compiled = GradCAM(model, "feat", jit_compile=True)(images, target="positive")
    assert np.allclose(plain.maps, compiled.maps, atol=1e-5)
    assert np.allclose(plain.probabilities, compiled.probabilities, atol=1e-6)

    compile_model(model, 1e-3, jit_compile=True)
    history = model.fit(images, np.array([1.0, 0.0]), epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
