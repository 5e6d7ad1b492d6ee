"""Models this tool did not train: the tutorials' nested DenseNet121 (Sequential and functional, .keras
and legacy .h5), softmax heads and other backbones give the same Grad-CAM maps as their flat,
sigmoid equivalents; models that cannot be used, or would run code, are refused in one line."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from medcam_core.errors import MedcamError, ModelFileError
from medcam_core.explain.cam import CamBatch, GradCAM, GradCAMError, feature_layers
from medcam_core.inference.classifier import Classifier, ThresholdSource
from medcam_core.inference.graph import UnusableModel
from medcam_core.inference.model_file import UnsafeModel, open_model
from medcam_core.inference.options import Options, Preprocess
from medcam_core.train.model import load_saved_model
from medcam_tui import cli, commands, predict_command
from medcam_tui.exit_codes import EXIT_CONFIG, EXIT_OK

pytestmark = pytest.mark.cost(21)

SIZE = 32
INNER_LAYERS = (None, "conv5_block16_2_conv", "conv3_block12_concat")  # default (relu, 1×1 here), named, 4×4


@pytest.fixture(scope="module")
def densenets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, keras.Model]:
    """One DenseNet121 (weights=None) nested in a Sequential and in a functional model — the Sequential in
    memory, where the backbone holds a call of each, and both loaded back, from .h5 and .keras — and the
    same weights built flat, the way this tool builds them."""
    folder = tmp_path_factory.mktemp("densenets")
    keras.utils.set_random_seed(3)
    base = keras.applications.DenseNet121(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    pool, head = keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")
    sequential = keras.Sequential([keras.Input((SIZE, SIZE, 3)), base, pool, head])
    inputs = keras.Input((SIZE, SIZE, 3))
    functional = keras.Model(inputs, head(pool(base(inputs))))
    flat_inputs = keras.Input((SIZE, SIZE, 3))
    flat_base = keras.applications.DenseNet121(include_top=False, weights=None, input_tensor=flat_inputs)
    for mine, theirs in zip(flat_base.layers, base.layers, strict=True):  # same structure, in order
        mine.set_weights(theirs.get_weights())
    flat_head = keras.layers.Dense(1, activation="sigmoid")
    flat = keras.Model(flat_inputs, flat_head(keras.layers.GlobalAveragePooling2D()(flat_base.output)))
    flat_head.set_weights(head.get_weights())
    sequential.save(folder / "sequential.h5")
    functional.save(folder / "functional.keras")
    return {
        "flat": flat,
        "sequential": sequential,
        "sequential.h5": load_saved_model(folder / "sequential.h5"),
        "functional.keras": load_saved_model(folder / "functional.keras"),
    }


@pytest.fixture(scope="module")
def flat_maps(densenets) -> dict[str | None, tuple[float, CamBatch]]:
    """Per layer, the flat model's maps of `images()`: half explain the positive class, half the negative."""
    x, out = images(), {}
    threshold = float(np.median(densenets["flat"].predict_on_batch(x)))
    for layer in INNER_LAYERS:
        out[layer] = threshold, GradCAM(densenets["flat"], layer, traced=False)(x, threshold=threshold)
    return out


def images(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, SIZE, SIZE, 3)).astype(np.float32)


@pytest.mark.parametrize("name", ["sequential", "sequential.h5", "functional.keras"])
def test_a_nested_backbone_gives_the_maps_of_the_same_weights_built_flat(densenets, flat_maps, name: str) -> None:
    nested, flat, x = densenets[name], densenets["flat"], images()
    named = [feature_layers(model) for model in (nested, flat)]  # the backbone's own maps, in its place
    assert len(named[0]) == len(named[1]) and named[0][-60:] == named[1][-60:]  # (not the zero_padding2d_N)
    for layer in INNER_LAYERS:
        threshold, expected = flat_maps[layer]
        cam = GradCAM(nested, layer, traced=False)
        assert cam.layer == (layer or "relu")
        result = cam(x, threshold=threshold)
        assert sorted(expected.targets) == [-1, -1, 1, 1] and list(result.targets) == list(expected.targets)
        np.testing.assert_allclose(result.probabilities, expected.probabilities, atol=1e-5)
        np.testing.assert_allclose(result.maps, expected.maps, atol=1e-4)
        if layer == "conv3_block12_concat":  # 4×4: a map with a shape, not one cell
            assert expected.maps.shape == (4, SIZE // 8, SIZE // 8) and len(np.unique(expected.maps)) > 4


def test_a_wrong_layer_lists_the_nested_backbones_layers(densenets) -> None:
    with pytest.raises(GradCAMError, match="'nope' is not a 4-D feature map.*relu"):
        GradCAM(densenets["functional.keras"], "nope")


def tiny_cnn(head: keras.layers.Layer, channels: int = 1, size: int | None = SIZE) -> keras.Model:
    """Another backbone: two convolutions on gray input, then `head` after global pooling."""
    model = keras.Sequential(
        [
            keras.Input((size, size, channels)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b"),
            keras.layers.GlobalAveragePooling2D(),
            head,
        ]
    )
    return model


@pytest.fixture(scope="module")
def small_nested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, keras.Model]:
    """Another backbone — two convolutions in a Sequential — nested after a Rescaling layer, loaded back
    from .keras; and the same layer objects called flat in a second graph."""
    keras.utils.set_random_seed(7)
    conv_a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")
    conv_b = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")
    backbone = keras.Sequential([keras.Input((SIZE, SIZE, 3)), conv_a, conv_b], name="backbone")
    head, pool = keras.layers.Dense(1, activation="sigmoid"), keras.layers.GlobalAveragePooling2D()
    inputs = keras.Input((SIZE, SIZE, 3))
    nested = keras.Model(inputs, head(pool(backbone(keras.layers.Rescaling(0.5)(inputs)))))
    path = tmp_path_factory.mktemp("small") / "nested.keras"
    nested.save(path)
    flat_inputs = keras.Input((SIZE, SIZE, 3))
    flat = keras.Model(flat_inputs, head(pool(conv_b(conv_a(keras.layers.Rescaling(0.5)(flat_inputs))))))
    return {"nested": nested, "nested.keras": load_saved_model(path), "flat": flat}


def test_another_backbone_nested_after_a_rescaling_layer_matches_it_flat(small_nested) -> None:
    x, flat = images(3, seed=6), small_nested["flat"]
    assert feature_layers(small_nested["nested.keras"])[1:] == feature_layers(flat)[1:] == ["conv_a", "conv_b"]
    for layer, side in (("conv_a", SIZE), (None, SIZE // 2)):
        expected = GradCAM(flat, layer, traced=False)(x, target="positive")
        for model in (small_nested["nested"], small_nested["nested.keras"]):
            result = GradCAM(model, layer)(x, target="positive")  # traced, as predict --gradcam runs it
            assert result.maps.shape == (3, side, side) and result.maps.any()
            np.testing.assert_allclose(result.maps, expected.maps, atol=1e-5)
            np.testing.assert_allclose(result.probabilities, expected.probabilities, atol=1e-6)


@pytest.fixture(scope="module")
def softmax_and_sigmoid_twin() -> tuple[keras.Model, keras.Model]:
    """A Dense(2, softmax) CNN, and the same CNN with Dense(1, sigmoid) on the logit difference z1 − z0."""
    keras.utils.set_random_seed(5)
    softmax = tiny_cnn(keras.layers.Dense(2, activation="softmax"))
    sigmoid = tiny_cnn(keras.layers.Dense(1, activation="sigmoid"))
    for a, b in zip(softmax.layers[:-1], sigmoid.layers[:-1], strict=True):
        b.set_weights(a.get_weights())
    kernel, bias = softmax.layers[-1].get_weights()
    sigmoid.layers[-1].set_weights([kernel[:, 1:] - kernel[:, :1], bias[1:] - bias[:1]])
    return softmax, sigmoid


def gray_batch(n: int = 3, seed: int = 2, channels: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, SIZE, SIZE, channels)).astype(np.float32)


def test_a_softmax_head_is_explained_by_its_logit_difference(softmax_and_sigmoid_twin) -> None:
    softmax, sigmoid = softmax_and_sigmoid_twin
    x = gray_batch()
    twin = GradCAM(sigmoid, traced=False)
    np.testing.assert_allclose(softmax.predict_on_batch(x)[:, 1], sigmoid.predict_on_batch(x)[:, 0], atol=1e-6)
    for positive, same_as in ((1, "positive"), (0, "negative")):  # class 0 positive: the twin's negative class
        cam = GradCAM(softmax, positive_index=positive, traced=False)
        assert cam.layer == "conv_b"
        result, expected = cam(x, target="positive"), twin(x, target=same_as)
        assert result.maps.shape == (3, SIZE, SIZE) and result.maps.any()
        np.testing.assert_allclose(result.maps, expected.maps, atol=1e-5)
        np.testing.assert_allclose(result.probabilities, softmax.predict_on_batch(x)[:, positive], atol=1e-6)


def test_a_softmax_model_file_gives_the_positive_class_probability(softmax_and_sigmoid_twin, tmp_path: Path) -> None:
    softmax, _ = softmax_and_sigmoid_twin
    softmax.save(tmp_path / "softmax.h5")
    gray = (gray_batch()[..., 0] * 255).astype(np.uint8)
    by_hand = softmax.predict_on_batch(gray[..., None].astype(np.float32) / 255.0)
    for positive in (0, 1):
        options = Options(preprocess=Preprocess.SCALE, positive_index=positive)
        classifier = Classifier.open(tmp_path / "softmax.h5", options)
        assert classifier.channels == 1 and classifier.image_size == SIZE
        assert classifier.threshold.source is ThresholdSource.DEFAULT and classifier.threshold.value == 0.5
        np.testing.assert_allclose(classifier.probabilities(gray), by_hand[:, positive], atol=1e-6)


def run_cli(monkeypatch, *args: str) -> tuple[int, str, str]:
    """The CLI in this process; the log routing (fd 2, process-wide) is left out."""
    for module in (commands, predict_command):
        monkeypatch.setattr(module, "setup_logging", lambda *a, **k: None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_gradcam_cli_on_a_nested_h5_names_a_layer_inside_the_backbone(small_nested, tmp_path, monkeypatch) -> None:
    picture = np.random.default_rng(4).integers(0, 256, (48, 40), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "xray.png")
    small_nested["nested"].save(tmp_path / "tutorial.h5")
    code, out, err = run_cli(
        monkeypatch, "gradcam", str(tmp_path / "tutorial.h5"), str(tmp_path / "xray.png"), "--layer", "conv_a",
        "--target", "positive", "--preprocess", "scale", "--out", str(tmp_path / "cams"),
    )  # fmt: skip
    assert code == EXIT_OK, err
    assert "layer conv_a" in out
    saved = np.load(tmp_path / "cams" / "xray_cam.npy")
    resized = np.asarray(Image.fromarray(picture).resize((SIZE, SIZE), Image.BILINEAR), np.float32) / 255.0
    x = np.repeat(resized[None, ..., None], 3, axis=-1)
    expected = GradCAM(small_nested["flat"], "conv_a", traced=False)(x, target="positive").maps[0]
    assert saved.shape == (SIZE, SIZE) and saved.any()
    np.testing.assert_allclose(saved, expected, atol=1e-5)
    assert Image.open(tmp_path / "cams" / "xray_panel.png").size[0] > 600


def test_evaluate_scores_a_dataset_with_foreign_models_of_each_head(
    small_nested, softmax_and_sigmoid_twin, tmp_path, monkeypatch
) -> None:
    """A nested sigmoid .h5 and a softmax .keras (class 0 positive) validated on a folder dataset: every
    row's probability is the model's own output on the decoded, scaled image; AUROC is sklearn's."""
    from sklearn.metrics import roc_auc_score

    from medcam_core.data.decode import decode
    from medcam_core.outputs.job_folder import JobFolder
    from medcam_tui import evaluate_command

    import replicas

    monkeypatch.setattr(evaluate_command, "setup_logging", lambda *a, **k: None)
    data = tmp_path / "site-b"
    for cls in ("sick", "well"):
        for i in range(8):
            replicas.image(data / cls / f"{cls}{i}.png", size=40)
    small_nested["nested"].save(tmp_path / "nested.h5")
    softmax_and_sigmoid_twin[0].save(tmp_path / "softmax.keras")
    cases = (("nested.h5", "1", lambda x: small_nested["flat"].predict_on_batch(np.repeat(x, 3, -1))[:, 0]),
             ("softmax.keras", "0", lambda x: softmax_and_sigmoid_twin[0].predict_on_batch(x)[:, 0]))  # fmt: skip
    for name, positive, by_hand in cases:
        code, out, err = run_cli(
            monkeypatch, "evaluate", str(tmp_path / name), str(data), "--positive", "sick", "--preprocess", "scale",
            "--positive-index", positive, "--output", str(tmp_path / "out"),
        )  # fmt: skip
        assert code == EXIT_OK, err
        folder = JobFolder(tmp_path / "out" / "imported" / Path(name).stem).external("site-b")
        metrics = json.loads(folder.metrics_file.read_text())
        with open(folder.predictions_file) as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 16 and metrics["imported"] and metrics["threshold"]["value"] == 0.5
        x = np.stack([decode(Path(r["path"]), SIZE) for r in rows])[..., None].astype(np.float32) / 255.0
        p = np.array([float(r["probability"]) for r in rows])
        np.testing.assert_allclose(p, by_hand(x), atol=1e-5)
        labels = [int(r["label"]) for r in rows]
        assert metrics["test"]["auroc"] == pytest.approx(roc_auc_score(labels, p))
        assert f"AUROC {metrics['test']['auroc']:.3f}" in out


def test_gradcam_of_a_model_file_needs_images(tmp_path, monkeypatch) -> None:
    code, _, err = run_cli(monkeypatch, "gradcam", str(tmp_path / "m.keras"))  # refused before it is read
    assert code == EXIT_CONFIG and "name the images" in err and len(err.strip().splitlines()) == 1


def refused(model: keras.Model, tmp_path: Path, suffix: str = "keras", **options: object) -> str:
    path = tmp_path / f"model.{suffix}"
    model.save(path)
    with pytest.raises(MedcamError) as caught:
        Classifier.open(path, Options(**options))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_models_that_cannot_be_used_are_refused_in_one_line(tmp_path: Path) -> None:
    image = keras.Input((SIZE, SIZE, 3))
    flat = keras.layers.Flatten()(image)
    no_map = keras.Model(image, keras.layers.Dense(1, activation="sigmoid")(flat))
    path = tmp_path / "no_map.keras"
    no_map.save(path)
    with pytest.raises(GradCAMError, match="no layer with a 4-D output"):
        GradCAM(Classifier.open(path).model)
    three = keras.Model(image, keras.layers.Dense(3, activation="softmax")(flat))
    assert "3 outputs, more than two" in refused(three, tmp_path)
    linear = keras.Model(image, keras.layers.Dense(1)(flat))
    assert "1 output(s) with linear" in refused(linear, tmp_path, "h5")
    vector = keras.Input((10,))
    assert "is not an image" in refused(
        keras.Model(vector, keras.layers.Dense(1, activation="sigmoid")(vector)), tmp_path
    )
    two_heads = keras.Model(image, [keras.layers.Dense(1, activation="sigmoid")(flat)] * 2)
    assert "2 outputs; a binary classifier has one" in refused(two_heads, tmp_path)
    gray = tiny_cnn(keras.layers.Dense(1, activation="sigmoid"))
    assert "--preprocess scale or none" in refused(gray, tmp_path)  # densenet preprocessing makes 3 channels
    free = tiny_cnn(keras.layers.Dense(1, activation="sigmoid"), channels=3, size=None)
    free.save(tmp_path / "free.keras")
    assert Classifier.open(tmp_path / "free.keras").image_size == 224
    assert Classifier.open(tmp_path / "free.keras", Options(size=48)).image_size == 48
    with pytest.raises(UnusableModel, match="takes 32×32 images, not 48×48"):
        Classifier.open(tmp_path / "model.keras", Options(preprocess=Preprocess.SCALE, size=48))


def code_model(marker: Path) -> keras.Model:
    """A model whose Lambda layer writes `marker` whenever its Python code runs (building it runs it once)."""
    write = eval(f"lambda x: x * 1.0 if __import__('pathlib').Path({str(marker)!r}).write_text('ran') else x")
    image = keras.Input((SIZE, SIZE, 3))
    features = keras.layers.Lambda(write, name="writes_a_file")(keras.layers.Conv2D(2, 3)(image))
    return keras.Model(
        image, keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(features))
    )


@pytest.mark.parametrize("suffix", ["keras", "h5"])
def test_a_lambda_layer_is_refused_and_its_code_never_runs(suffix: str, tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "marker.txt"
    path = tmp_path / f"lambda.{suffix}"
    code_model(marker).save(path)
    marker.unlink()
    with pytest.raises(UnsafeModel, match=r"cannot be loaded safely: a Lambda layer 'writes_a_file' holds Python"):
        open_model(path)
    (tmp_path / "xrays").mkdir()
    Image.fromarray(np.zeros((SIZE, SIZE), np.uint8)).save(tmp_path / "xrays" / "one.png")
    code, out, err = run_cli(monkeypatch, "predict", str(path), str(tmp_path / "xrays"))
    assert code == EXIT_CONFIG and err.count("\n") == 1 and err.startswith("medcam-tui: error: ") and "Lambda" in err
    # Keras' own safe mode refuses it too, in both formats (Keras 3.15); the check above comes first
    with pytest.raises(ValueError, match="Lambda"):
        keras.saving.load_model(path, safe_mode=True, compile=False)
    assert not marker.exists()
    keras.saving.load_model(path, safe_mode=False, compile=False)  # the file really holds code that runs
    assert marker.read_text() == "ran"


@keras.saving.register_keras_serializable(package="Tutorial")
class Doubling(keras.layers.Layer):
    """A custom layer: this test process knows it, so Keras alone would build it."""

    def call(self, x):
        return x * 2.0


@pytest.mark.parametrize("suffix", ["keras", "h5"])
def test_an_unknown_custom_class_is_refused_by_name(suffix: str, tmp_path: Path) -> None:
    image = keras.Input((SIZE, SIZE, 3))
    features = Doubling()(keras.layers.Conv2D(2, 3)(image))
    model = keras.Model(
        image, keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(features))
    )
    model.save(tmp_path / f"custom.{suffix}")
    keras.saving.load_model(tmp_path / f"custom.{suffix}", safe_mode=True, compile=False)  # Keras would run it
    with pytest.raises(UnsafeModel, match="Doubling"):
        open_model(tmp_path / f"custom.{suffix}")


def test_files_that_are_not_models_say_what_they_are(tmp_path: Path) -> None:
    (tmp_path / "zip.keras").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (tmp_path / "text.h5").write_text("hello")
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    import h5py

    with h5py.File(tmp_path / "weights.h5", "w") as fh:
        fh.attrs["layer_names"] = []
    cases = {
        "zip.keras": "no config.json",
        "text.h5": "not an HDF5 file",
        "weights.h5": "holds weights only",
        "saved": "TensorFlow SavedModel",
        "absent.keras": "no such job folder or model file",
    }
    for name, words in cases.items():
        with pytest.raises(ModelFileError, match=words):
            Classifier.open(tmp_path / name)
    assert os.listdir(tmp_path / "saved") == ["saved_model.pb"]


def test_a_keras_function_that_is_not_a_layer_piece_is_refused_whatever_module_it_claims() -> None:
    """The published payload of CVE-2025-8747/9906 names `keras.models.load_model` as a "function" (and
    `keras.utils.get_file` as a class): a `keras.*` module is no licence, only activations, losses and
    metrics by name, and built-in classes, pass."""
    from medcam_core.inference.model_file import check_config

    payload = {"module": "keras.models", "class_name": "function", "config": "load_model"}
    assert "is not a Keras activation, loss or metric" in check_config({"layers": [payload]})
    getter = {"module": "keras.utils", "class_name": "get_file", "config": {}, "registered_name": None}
    assert "unknown class 'get_file'" in check_config({"layers": [getter]})
    relu = {"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "function"}
    dense = {"module": "keras.layers", "class_name": "Dense", "config": {"activation": relu}, "registered_name": None}
    adam = {"module": "keras.optimizers", "class_name": "Adam", "config": {}, "registered_name": None}
    assert check_config({"layers": [dense], "compile_config": {"optimizer": adam}}) is None
