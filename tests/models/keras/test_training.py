"""`fit_keras` and `SelectBest`: Keras' fit with validation by a caller's score at chosen epochs,
best weights kept, early stopping, divergence; batches reach the model in order."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from lithoscope.models.keras.training import (  # noqa: E402
    adamw_warmup_cosine,
    fit_keras,
    grouped_validation_split,
)


def _tiny(seed: int = 0, learning_rate: float = 0.05) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _batches(steps: int, seen: list[int] | None = None):
    def batches(epoch: int):
        rng = np.random.default_rng(epoch)
        for _ in range(steps):
            if seen is not None:
                seen.append(epoch)
            x = rng.normal(size=(8, 4)).astype("float32")
            yield x, (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1)

    return batches


def test_scores_at_chosen_epochs_and_the_best_weights_come_back():
    model = _tiny()
    scores = iter([0.2, 0.9, 0.5, 0.4])  # epochs 3, 5, 7 and the last (8)
    snapshots = {}
    hooks = []

    def evaluate():
        snapshots[len(snapshots)] = [w.copy() for w in model.get_weights()]
        return next(scores)

    result = fit_keras(
        model,
        _batches(5),
        steps=5,
        epochs=8,
        evaluate=evaluate,
        eval_every=2,
        eval_from=3,
        on_epoch_begin=hooks.append,
    )
    assert hooks == list(range(1, 9))
    assert [e.get("score") for e in result.history] == [
        None, None, 0.2, None, 0.9, None, 0.5, 0.4
    ]  # fmt: skip
    assert (result.epochs, result.best_epoch, result.best_score) == (8, 5, 0.9)
    for got, kept in zip(model.get_weights(), snapshots[1], strict=True):
        np.testing.assert_array_equal(got, kept)
    summary = result.summary(40, 10, curves=True)
    assert summary["best_validation_top1"] == 0.9 and summary["best_epoch"] == 5
    assert len(summary["losses"]) == 8 and all(np.isfinite(summary["losses"]))


def test_patience_stops_training_in_epochs_without_improvement():
    model = _tiny()
    scores = iter([0.5, 0.7, 0.6, 0.6, 0.6, 0.6])
    seen: list[int] = []
    result = fit_keras(
        model, _batches(3, seen), steps=3, epochs=10, evaluate=lambda: next(scores), patience=2
    )
    assert result.epochs == 4 and result.best_epoch == 2
    assert seen == [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3  # no batch of a fifth epoch was drawn


def test_without_evaluate_the_final_weights_stay_and_training_learns():
    model = _tiny()
    x = np.random.default_rng(9).normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1)
    before = model.evaluate(x, y, verbose=0)
    result = fit_keras(model, _batches(20), steps=20, epochs=5, evaluate=None)
    assert result.best_epoch == 0 and result.summary(1, 0)["best_validation_top1"] is None
    assert model.evaluate(x, y, verbose=0) < before


def test_divergence_is_an_error_that_says_what_to_do():
    model = _tiny()

    def poisoned(epoch: int):
        for x, y in _batches(4)(epoch):
            yield np.full_like(x, np.nan) if epoch == 2 else x, y

    with pytest.raises(FloatingPointError, match="diverged at epoch 2 .*lower learning_rate"):
        fit_keras(model, poisoned, steps=4, epochs=3, evaluate=None)


def test_warm_up_then_cosine_schedule():
    opt = adamw_warmup_cosine(1e-2, 1e-4, steps=10, epochs=10)  # warm-up: 2 epochs = 20 steps
    lr = []
    for step in (0, 20, 60, 100):
        opt.iterations.assign(step)
        lr.append(float(opt.learning_rate))
    assert lr[0] == pytest.approx(1e-3) and lr[1] == pytest.approx(1e-2)
    assert lr[1] > lr[2] > lr[3] >= 0


def test_grouped_validation_split_keeps_samples_whole_and_classes_trained():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(20), 6)
    groups = np.repeat(np.arange(60), 2)  # three samples of two spectra per class
    train, val = grouped_validation_split(y, groups, 0.25, rng)
    assert not set(groups[train]) & set(groups[val])
    assert set(y[val]) <= set(y[train])
    assert 0.1 < val.size / y.size < 0.4
