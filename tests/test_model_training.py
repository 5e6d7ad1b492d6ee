"""A real DenseNet121 at 32 px: flat graph, fine-tuning policy, frozen split, callback, weights."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from medcam_core.errors import WeightsUnavailableError
from medcam_core.events import BatchProgress, EpochEnded, EpochStarted
from medcam_core.jobqueue.control import QueueControl
from medcam_core.train.callbacks import EventCallback, StopRequested
from medcam_core.train.input_pipeline import image_batches, tensor_batches, to_model_input
from medcam_core.train.model import apply_trainable, build_model, compile_model, resolve_weights, split_frozen

from conftest import tiny_preset

pytestmark = pytest.mark.cost(27)


@pytest.fixture(scope="module")
def built():
    return build_model(tiny_preset(), None)


def test_model_is_flat_with_the_plans_fine_tuning(built) -> None:
    model = built.model
    names = [layer.name for layer in model.layers]
    assert len(names) == 431
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)
    assert "relu" in names and "conv5_block16_2_conv" in names
    assert built.first_trainable == "conv5_block15_0_bn" and built.trainable_layers == 20
    assert not model.get_layer("conv5_block14_1_bn").trainable
    assert model.get_layer("conv5_block16_1_bn").trainable
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    head_256 = (1024 * 256 + 256) + (256 + 1)
    head_8 = (1024 * 8 + 8) + (8 + 1)
    assert trainable == 592_705 - head_256 + head_8  # DESIGN.md figure, with dense_units 8


def test_trainable_by_name_all_and_bad_name(built) -> None:
    model = built.model
    assert apply_trainable(model, "conv5_block16_0_bn") == "conv5_block16_0_bn"
    assert sum(layer.trainable for layer in model.layers) == 13
    apply_trainable(model, "all")
    assert split_frozen(model)[0] is None
    with pytest.raises(ValueError, match="names no layer"):
        apply_trainable(model, "conv9_nope")
    apply_trainable(model, 20)


def test_frozen_split_is_exact_and_shares_layers(built) -> None:
    split, why = split_frozen(built.model)
    assert split is not None and split.boundary == "conv5_block14_concat", why
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    full = built.model(x, training=False)
    cached = split.head(split.frozen(x, training=False), training=False)
    np.testing.assert_array_equal(np.asarray(full), np.asarray(cached))
    assert split.head.get_layer("prediction") is built.model.get_layer("prediction")


def test_one_epoch_cached_equals_plain() -> None:
    """Same initial weights, dropout off: training the head on cached features = training the model."""
    preset = tiny_preset(dropout=0.0, run_eagerly=True)
    a, b = build_model(preset, None), build_model(preset, None)
    for wa, wb in zip(a.model.weights, b.model.weights, strict=True):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy())
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, size=(24, 32, 32), dtype=np.uint8)
    labels = (rng.random(24) > 0.5).astype(np.float32)
    split, _ = split_frozen(b.model)
    feats = np.concatenate([split.frozen(x, training=False).numpy() for x in image_batches(images, None, 8, False, 0)])
    compile_model(a.model, 1e-3, run_eagerly=True)
    compile_model(split.head, 1e-3, run_eagerly=True)
    a.model.fit(image_batches(images, labels, 8, False, 0), epochs=1, verbose=0)
    split.head.fit(tensor_batches(feats, labels, 8, False, 0), epochs=1, verbose=0)
    changed = False
    for wa, wb, w0 in zip(
        a.model.trainable_weights,
        b.model.trainable_weights,
        build_model(preset, None).model.trainable_weights,
        strict=True,
    ):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), atol=1e-5, rtol=1e-4)
        changed |= not np.allclose(wa.numpy(), w0.numpy())
    assert changed


def _tiny_model() -> keras.Model:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))
    compile_model(model, 1e-2, run_eagerly=True)
    return model


def _data(n: int = 40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return tensor_batches(x, (x[:, 0] > 0).astype("float32"), 4, False, 0)


def test_callback_emits_epochs_and_throttled_batches() -> None:
    events = []
    callback = EventCallback("j", events.append, QueueControl(), batch_size=4, throttle_s=60)
    _tiny_model().fit(_data(), epochs=2, verbose=0, callbacks=[callback])
    kinds = [type(e) for e in events]
    assert kinds == [EpochStarted, BatchProgress, BatchProgress, EpochEnded] * 2
    first_batch = events[1]
    assert (first_batch.batch, first_batch.batches) == (1, 10)  # the first batch, then throttled to the last
    assert events[2].batch == 10
    ended = events[3]
    assert (
        ended.epoch == 1
        and ended.epochs == 2
        and "val_loss" not in ended.logs
        and ended.learning_rate == pytest.approx(1e-2)
    )
    with pytest.raises(ValueError, match="-1"):
        EventCallback("j", events.append, QueueControl(), batch_size=4, throttle_s=-1)


def test_callback_stops_at_the_next_batch_when_asked() -> None:
    control = QueueControl()
    seen = []

    def emit(event) -> None:
        seen.append(event)
        if isinstance(event, BatchProgress) and event.batch == 3:
            control.stop_job("j", "skipped")

    callback = EventCallback("j", emit, control, batch_size=4, throttle_s=0)
    ended = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ended.append(epoch))
    with pytest.raises(StopRequested) as info:
        _tiny_model().fit(_data(), epochs=3, verbose=0, callbacks=[record, callback])
    assert (info.value.status, info.value.reason) == ("skipped", "skipped by user")
    assert callback.stopped == ("skipped", "skipped by user")
    assert max(e.batch for e in seen if isinstance(e, BatchProgress)) == 3
    assert ended == []  # the partial epoch is not closed, so no backup or log records it


def test_callback_pause_blocks_training_until_resume() -> None:
    control = QueueControl(paused=True)
    batches = []
    callback = EventCallback(
        "j",
        lambda e: batches.append(e) if isinstance(e, BatchProgress) else None,
        control,
        batch_size=4,
        throttle_s=0,
    )
    thread = threading.Thread(target=lambda: _tiny_model().fit(_data(), epochs=1, verbose=0, callbacks=[callback]))
    thread.start()
    time.sleep(0.6)
    assert len(batches) == 1  # paused after the first batch
    control.resume()
    thread.join(10)
    assert len(batches) == 10


def test_weights_resolution_is_offline_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert resolve_weights("none") is None
    with pytest.raises(WeightsUnavailableError, match="not found"):
        resolve_weights(str(tmp_path / "missing.h5"))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_weights("imagenet")
    message = str(info.value)
    assert "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "keras" / "models") in message and 'weights = "none"' in message
    cached = tmp_path / "keras" / "models" / "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert resolve_weights("imagenet") == str(cached)


def test_precise_bn_sets_moving_statistics_to_training_set_averages() -> None:
    from medcam_core.train.fit import recalibrate_batchnorm

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.99, name="bn")(inputs))
    frozen = keras.Model(inputs, keras.layers.BatchNormalization(name="frozen_bn", trainable=False)(inputs))
    data = np.random.default_rng(0).normal(loc=[5.0, -2.0, 0.5], scale=[2.0, 1.0, 3.0], size=(64, 3)).astype("float32")
    batches = tensor_batches(data, None, 16, False, 0)
    assert recalibrate_batchnorm(model, batches) == 1
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), data.mean(axis=0), rtol=1e-5)
    per_batch_var = np.mean([data[i : i + 16].var(axis=0) for i in range(0, 64, 16)], axis=0)
    np.testing.assert_allclose(bn.moving_variance.numpy(), per_batch_var, rtol=1e-4)
    assert bn.momentum == 0.99
    assert recalibrate_batchnorm(frozen, batches) == 0  # frozen BatchNorm keeps its statistics


def test_gradcam_from_cached_features_equals_gradcam_from_images() -> None:
    from medcam_core.explain.cam import GradCAM, GradCAMError

    model = build_model(tiny_preset(image_size=64), None).model
    split, _ = split_frozen(model)
    gray = np.random.default_rng(3).integers(0, 256, (4, 64, 64), dtype=np.uint8)
    x = np.asarray(to_model_input(gray))
    features = split.frozen(x, training=False).numpy()
    for layer in ("relu", "conv5_block16_2_conv"):
        full = GradCAM(model, layer, traced=False)(x)
        head = GradCAM(model, layer, traced=False, start=split.boundary)(features)
        assert full.maps.shape == (4, 2, 2) and full.maps.any()
        np.testing.assert_allclose(head.maps, full.maps, atol=1e-4)
        np.testing.assert_allclose(head.probabilities, full.probabilities, rtol=1e-5, atol=1e-6)
    with pytest.raises(GradCAMError, match="does not come after"):
        GradCAM(model, "conv5_block1_0_bn", start=split.boundary)


def test_a_torn_training_backup_is_dropped_only_when_no_copy_is_readable(tmp_path: Path) -> None:
    """The soak found it: kill -9 during the backup's first write left a torn .h5 and the resumed job
    failed at fit ("file signature not found"). Keras falls back to its .bkp copy when one exists."""
    import h5py

    from medcam_core.train.fit import drop_unreadable_backup

    backup = tmp_path / ".backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(40))  # the header, then cut off
    assert "unreadable" in drop_unreadable_backup(backup) and not backup.exists()

    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"torn")
    with h5py.File(backup / "latest.weights.h5.bkp", "w") as fh:
        fh.attrs["epoch"] = 1
    assert drop_unreadable_backup(backup) is None and backup.is_dir()
    assert drop_unreadable_backup(tmp_path / "none") is None  # no backup: nothing to say


def test_the_best_checkpoint_is_renamed_into_place_whole(tmp_path: Path) -> None:
    """Keras writes the staging file; only a complete one is renamed over the checkpoint, so a kill
    during the write cannot leave a torn .h5 in a job folder (the soak caught one before)."""
    from medcam_core.train.fit import write_checkpoint

    model = _tiny_model()
    final, staging = tmp_path / "models" / "best.weights.h5", tmp_path / ".backup" / "staging.weights.h5"
    final.parent.mkdir()
    model.fit(_data(), epochs=2, verbose=0)
    write_checkpoint(model, final, staging)
    assert final.is_file() and not staging.exists()
    inputs = keras.Input((4,))
    copy = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))  # no optimizer to restore
    copy.load_weights(final)
    assert all(np.array_equal(a, b) for a, b in zip(copy.get_weights(), model.get_weights(), strict=True))
