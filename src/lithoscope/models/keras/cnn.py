"""A 1-D CNN that learns a spectral similarity, and identifies minerals by matching in that space.

With about three reference spectra per mineral, a softmax network over ~1,600 minerals learns
slowly and cannot take a new mineral without retraining. `CNNClassifier` instead trains an
*embedding* (a unit vector per spectrum) with a normalised-softmax proxy loss (CosFace: cosine
to one learned proxy per mineral, with an additive margin) on heavily augmented spectra
(`lithoscope.physics.instrument`), then classifies by **matching**: the score of a mineral
blends the best cosine similarity between the query's embedding and the embeddings of that
mineral's reference spectra (all training spectra are kept as references) with the cosine to
the mineral's prototype (their normalised mean). A new mineral is added from a
few spectra with `CNNClassifier.add_class`, without retraining.

The score can be a **hybrid** with correlation library search: ``w * cosine(embedding) +
(1 - w) * library``, each the best reference of the mineral, where ``library`` is
``(1 - d) * pearson(sqrt intensities) + d * pearson(their first difference)`` (as
`LibrarySearch`); ``w`` and ``d`` are chosen on a grouped validation split carved from the
training data (``hybrid_weight='auto'``, ``derivative_weight='auto'``). Probabilities are a
softmax of the scores with a temperature fitted on the same validation split.

``head='kan'`` replaces the matching by a KAN classifier
(`lithoscope.models.keras.layers.KANLinear`) trained on the frozen embeddings of augmented
training spectra; it predicts only the minerals it was trained on (no `add_class`, no hybrid).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import numpy.typing as npt
from keras import layers, ops

from lithoscope.errors import InputError
from lithoscope.models.base import SpectralClassifier
from lithoscope.models.keras.layers import CosineProxies, PowerScale
from lithoscope.models.keras.training import (
    adamw_warmup_cosine,
    balanced_indices,
    check_positive_ints,
    compile_forward,
    fit_keras,
    grouped_validation_split,
    load_keras,
    make_augmenter,
)
from lithoscope.models.scoring import (
    class_max,
    class_starts,
    correlation_features,
    fit_temperature,
    softmax,
    top1_and_mrr,
)
from lithoscope.physics.instrument import SpectralAugmenter

__all__ = [
    "CNNClassifier",
    "build_encoder",
    "class_prototypes",
    "embedding_scores",
    "library_features",
]

#: kernel size and max-pool factor of each convolution block (first blocks see 1 cm-1 detail)
_KERNELS = (7, 5, 5, 3, 3, 3, 3)
_POOLS = (4, 2, 2, 2, 1, 1, 1)
#: hybrid and derivative weights tried on the validation split with hybrid_weight='auto'
_HYBRID_GRID = tuple(float(w) for w in np.round(np.linspace(0.0, 1.0, 11), 2))
_DERIVATIVE_GRID = (0.0, 0.25, 0.5, 0.75)
HEADS = ("match", "kan")


def build_encoder(
    n_points: int,
    *,
    channels: tuple[int, ...] = (16, 32, 64, 128, 128),
    embedding_dim: int = 128,
    dropout: float = 0.2,
    power: float = 0.5,
    seed: int = 0,
    name: str = "encoder",
) -> keras.Model:
    """The embedding network: intensity power, conv blocks, flatten, dense, unit norm.

    Each block is Conv1D (no bias) -> BatchNorm -> ReLU -> MaxPool; the pools (4, 2, 2, 2, 1...)
    shrink 1,301 points to 40 positions, and flattening keeps where the bands are.
    """
    inputs = keras.Input((n_points,), name="spectrum")
    h = PowerScale(power, name="power")(inputs)
    h = layers.Reshape((n_points, 1))(h)
    length = n_points
    for i, width in enumerate(channels):
        kernel = _KERNELS[min(i, len(_KERNELS) - 1)]
        pool = _POOLS[min(i, len(_POOLS) - 1)]
        h = layers.Conv1D(
            int(width),
            kernel,
            padding="same",
            use_bias=False,
            kernel_initializer=keras.initializers.HeNormal(seed=seed + i),
        )(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation("relu")(h)
        if pool > 1 and length // pool >= 4:
            h = layers.MaxPooling1D(pool)(h)
            length //= pool
    h = layers.Flatten()(h)
    if dropout > 0:
        h = layers.Dropout(dropout, seed=seed + 100)(h)
    h = layers.Dense(
        int(embedding_dim), kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 101)
    )(h)
    out = layers.UnitNormalization(name="embedding")(h)
    return keras.Model(inputs, out, name=name)


def _cosface_loss(scale: float, margin: float, n_classes: int) -> Any:
    def loss(y_true: Any, cosine: Any) -> Any:
        onehot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), n_classes)
        logits = scale * (cosine - margin * onehot)
        return ops.mean(ops.categorical_crossentropy(onehot, logits, from_logits=True))

    return loss


def library_features(X: np.ndarray, derivative_weight: float = 0.5, pool: int = 4) -> np.ndarray:
    """Rows whose dot product is the hybrid's library similarity (`correlation_features`).

    Square-root intensities (negative values clipped), averaged over ``pool`` neighbouring
    points (on the 1 cm-1 Raman grid, 4 points give the same validation top-1 as full
    resolution at a quarter of the memory and matching time; `CNNClassifier` pools about 4 axis
    units), and their first difference: a dot product is ``(1 - d) * pearson(sqrt) + d *
    pearson(diff sqrt)``. The settings are part of saved models (``reference_library_``).
    """
    return correlation_features(
        X,
        power=0.5,
        signed=False,
        derivative_weight=derivative_weight,
        derivative="difference",
        pool=pool,
    )


def class_prototypes(embeddings: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Unit mean embedding of each class; rows sorted by class, ``starts`` the first of each."""
    P = np.add.reduceat(np.asarray(embeddings, dtype=np.float64), starts, axis=0)
    norm = np.linalg.norm(P, axis=1, keepdims=True)
    return (P / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def embedding_scores(
    queries: np.ndarray, references: np.ndarray, starts: np.ndarray, prototype_weight: float
) -> np.ndarray:
    """``(1 - p) * best reference cosine + p * prototype cosine`` per class (NumPy)."""
    nearest = class_max(queries @ references.T, starts)
    if prototype_weight == 0:
        return nearest
    prototypes = class_prototypes(references, starts)
    return (1 - prototype_weight) * nearest + prototype_weight * (queries @ prototypes.T)


class CNNClassifier(SpectralClassifier):
    """1-D CNN embedding with proxy (CosFace) training, classifying by matching references.

    Parameters
    ----------
    axis : array_like, optional
        Spectral axis of array inputs (a `SpectralCollection` or `Dataset` brings its own).
    embedding_dim : int, default=128
    channels : tuple of int, default=(16, 32, 64, 128, 128)
        Filters of the convolution blocks.
    n_models : int, default=1
        Independently initialised encoders trained together; their unit embeddings are
        concatenated (scaled so that the result is a unit vector: the similarity is their mean).
    epochs : int, default=20
        Length of the learning-rate schedule. Validation top-1 is measured in the second half
        (the low learning-rate end of the cosine schedule) and the best weights are kept:
        validation sets of a few hundred spectra are too noisy to stop earlier.
    batch_size : int, default=64
    learning_rate : float, default=2e-3
        Peak of a warm-up + cosine-decay schedule (AdamW).
    weight_decay : float, default=1e-4
    dropout : float, default=0.2
    margin, scale : float, default=0.2, 30.0
        CosFace additive margin and logit scale.
    augment : bool or dict, default=True
        True: `SpectralAugmenter` defaults with small calibration shifts (``shift=1.5``,
        ``stretch=0.001``: larger shifts blur the few-cm-1 differences between members of a
        solid-solution series); a dict overrides its options; False: none.
    head : {'match', 'kan'}, default='match'
    prototype_weight : float in [0, 1], default=0.5
        The embedding score of a mineral is ``(1 - p) * best reference cosine + p * cosine to
        the mineral's prototype`` (unit mean of its reference embeddings, as in prototypical
        networks); 0.5 gained about a point of validation top-1 over 0 on three RRUFF splits.
    hybrid_weight : 'auto', float in [0, 1] or None, default='auto'
        Weight of the embedding similarity against sqrt-Pearson library search ('auto': chosen
        on the validation split; None: embedding only). Only with ``head='match'``.
    derivative_weight : 'auto' or float in [0, 1], default='auto'
        Weight of first-difference correlation inside the library part (as in
        `LibrarySearch`); 'auto': chosen on validation together with ``hybrid_weight``.
    validation_size : float, default=0.15
        Fraction of the training spectra (whole groups) held out for early stopping, the hybrid
        weight and the temperature; 0 disables all three (weight 1 or the given one, T = 0.05).
    patience : int, optional
        Stop after this many epochs without validation improvement (default: never).
    eval_every : int, default=1
    random_state : int, default=0
    verbose : int, default=0

    Attributes
    ----------
    model_ : keras.Model
        The encoder (spectrum -> unit embedding).
    reference_embeddings_ : ndarray of shape (n_references, embedding_dim * n_models)
    prototypes_ : ndarray of shape (n_classes, embedding_dim * n_models)
    reference_library_ : ndarray of shape (n_references, about n_points / 2)
        `library_features` of the references (for the hybrid score).
    reference_labels_ : ndarray of int
        Class index of each reference (sorted).
    hybrid_weight_, derivative_weight_, temperature_ : float
    history_ : dict
        Epochs, best epoch and validation scores of training.

    Notes
    -----
    ``fit(X, y, groups=...)`` takes the sample id of each spectrum (a `Dataset` brings its
    own): the validation split then never holds a sample that is also in training. Without
    groups each spectrum is its own group and validation is optimistic.
    """

    _EMBEDDING_FILE: ClassVar[str] = "model.keras"
    _HEAD_FILE: ClassVar[str] = "head.keras"

    def __init__(
        self,
        *,
        axis: npt.ArrayLike | None = None,
        embedding_dim: int = 128,
        channels: tuple[int, ...] = (16, 32, 64, 128, 128),
        n_models: int = 1,
        epochs: int = 20,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.2,
        margin: float = 0.2,
        scale: float = 30.0,
        augment: bool | dict[str, Any] = True,
        head: str = "match",
        prototype_weight: float = 0.5,
        hybrid_weight: str | float | None = "auto",
        derivative_weight: str | float = "auto",
        validation_size: float = 0.15,
        patience: int | None = None,
        eval_every: int = 1,
        random_state: int = 0,
        verbose: int = 0,
    ) -> None:
        self.axis = axis
        self.embedding_dim = embedding_dim
        self.channels = channels
        self.n_models = n_models
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.margin = margin
        self.scale = scale
        self.augment = augment
        self.head = head
        self.prototype_weight = prototype_weight
        self.hybrid_weight = hybrid_weight
        self.derivative_weight = derivative_weight
        self.validation_size = validation_size
        self.patience = patience
        self.eval_every = eval_every
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if self.head not in HEADS:
            raise InputError(f"head={self.head!r} is not one of {', '.join(HEADS)}")
        hw = self.hybrid_weight
        if not (hw is None or hw == "auto" or (isinstance(hw, float | int) and 0 <= hw <= 1)):
            raise InputError(
                f"hybrid_weight must be 'auto', None or a number in [0, 1], got {hw!r}"
            )
        pw = self.prototype_weight
        if not (isinstance(pw, float | int) and 0 <= pw <= 1):
            raise InputError(f"prototype_weight must be a number in [0, 1], got {pw!r}")
        dw = self.derivative_weight
        if not (dw == "auto" or (isinstance(dw, float | int) and 0 <= dw <= 1)):
            raise InputError(f"derivative_weight must be 'auto' or a number in [0, 1], got {dw!r}")
        if self.head == "kan" and isinstance(hw, float | int):
            raise InputError("hybrid_weight applies to head='match' only; use None or 'auto'")
        check_positive_ints(
            self, ("embedding_dim", "n_models", "epochs", "batch_size", "eval_every")
        )
        if not self.channels or any(int(c) < 1 for c in self.channels):
            raise InputError(f"channels must be positive integers, got {self.channels!r}")

    def _fit(self, X: np.ndarray, y_index: np.ndarray) -> None:
        self._check_params()
        groups = self._checked_groups(X.shape[0])
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(0, 2**31 - 1))
        augmenter = make_augmenter(self.augment)
        train, val = grouped_validation_split(y_index, groups, float(self.validation_size), rng)
        n_classes = self.classes_.size
        n_points = X.shape[1]

        encoders = [
            build_encoder(
                n_points,
                channels=tuple(int(c) for c in self.channels),
                embedding_dim=int(self.embedding_dim),
                dropout=float(self.dropout),
                seed=seed + 1000 * k,
                name=f"encoder_{k}",
            )
            for k in range(int(self.n_models))
        ]
        inputs = keras.Input((n_points,), name="spectrum")
        towers = [enc(inputs) for enc in encoders]
        cosines = [
            CosineProxies(n_classes, seed=seed + 500 + k, name=f"proxies_{k}")(t)
            for k, t in enumerate(towers)
        ]
        if len(towers) == 1:
            embedding = towers[0]
            trainer = keras.Model(inputs, cosines[0])
        else:
            embedding = layers.Concatenate()(towers)
            trainer = keras.Model(inputs, cosines)
        # concatenated unit vectors have norm sqrt(n_models): rescale to one
        embedding = layers.Rescaling(1.0 / np.sqrt(len(towers)), name="embedding")(embedding)
        encoder = keras.Model(inputs, embedding, name="cnn_encoder")

        steps = max(1, train.size // int(self.batch_size))
        loss = _cosface_loss(float(self.scale), float(self.margin), n_classes)
        trainer.compile(
            optimizer=adamw_warmup_cosine(
                float(self.learning_rate),
                float(self.weight_decay),
                steps=steps,
                epochs=int(self.epochs),
            ),
            loss=loss if len(towers) == 1 else [loss] * len(towers),
        )

        Xf = X.astype(np.float32)
        axis = self.axis_

        def batches(epoch: int) -> Iterator[tuple[np.ndarray, Any]]:
            index = balanced_indices(y_index[train], steps * int(self.batch_size), rng)
            for b in range(steps):
                rows = train[index[b * int(self.batch_size) : (b + 1) * int(self.batch_size)]]
                xb = X[rows]
                if augmenter is not None:
                    xb = augmenter(xb, axis, rng=rng)
                yb = y_index[rows].astype(np.int32)
                yield xb.astype(np.float32), (yb if len(towers) == 1 else [yb] * len(towers))

        evaluate = None
        if val.size:
            ref_rows = train[np.argsort(y_index[train], kind="stable")]
            starts = class_starts(y_index[ref_rows])
            present = np.unique(y_index[ref_rows])
            val_target = np.searchsorted(present, y_index[val])

            forward = compile_forward(encoder)

            def evaluate() -> float:
                forward.refresh()
                R = forward(Xf[ref_rows])
                Q = forward(Xf[val])
                scores = embedding_scores(Q, R, starts, float(self.prototype_weight))
                return top1_and_mrr(scores, val_target)[0]

        result = fit_keras(
            trainer,
            batches,
            steps=steps,
            epochs=int(self.epochs),
            evaluate=evaluate,
            eval_every=int(self.eval_every),
            eval_from=max(1, int(self.epochs) // 2 + 1),
            patience=self.patience,
            verbose=self.verbose,
        )
        self.model_ = encoder
        self._forward = compile_forward(encoder)
        self.history_ = result.summary(train.size, val.size, curves=True)
        embeddings = self._forward(Xf)
        if self.head == "kan":
            self._fit_kan_head(X, y_index, train, val, augmenter, rng, seed)
            self.derivative_weight_ = 0.0
        else:
            self._choose_hybrid_and_temperature(X, embeddings, y_index, train, val)
        library = library_features(X, self.derivative_weight_, self._pool)
        self._set_references(embeddings, library, y_index)

    def _choose_hybrid_and_temperature(
        self,
        X: np.ndarray,
        embeddings: np.ndarray,
        y_index: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
    ) -> None:
        """Hybrid and derivative weights (best validation top-1, then MRR), then temperature."""
        hw, dw = self.hybrid_weight, self.derivative_weight
        weights = _HYBRID_GRID if hw == "auto" else (1.0 if hw is None else float(hw),)
        derivatives = _DERIVATIVE_GRID if dw == "auto" else (float(dw),)
        if weights == (1.0,):  # embedding only: the library part plays no role
            derivatives = derivatives[:1]
        self.validation_scores_: dict[str, float] = {}
        if val.size == 0:
            self.hybrid_weight_ = weights[-1] if hw == "auto" else weights[0]
            self.derivative_weight_ = 0.5 if dw == "auto" else float(dw)
            self.temperature_ = 0.05
            return
        order = train[np.argsort(y_index[train], kind="stable")]
        starts = class_starts(y_index[order])
        present = np.unique(y_index[order])
        target = np.searchsorted(present, y_index[val])
        s_embed = embedding_scores(
            embeddings[val], embeddings[order], starts, float(self.prototype_weight)
        )
        # validation sets hold a few hundred spectra: a single top-1 is noisy, so each weight is
        # judged by the mean top-1 of itself and its neighbours within 0.2 (on RRUFF Raman the
        # best weights of different splits spread over 0.3-0.8), then by MRR
        table = []
        for d in derivatives:
            L = library_features(X[np.concatenate([val, order])], d, self._pool)
            s_library = class_max(L[: val.size] @ L[val.size :].T, starts)
            for w in weights:
                top1, mrr = top1_and_mrr(w * s_embed + (1 - w) * s_library, target)
                self.validation_scores_[f"top1_w{w:.2f}_d{d:.2f}"] = top1
                table.append((d, w, top1, mrr))
        results = np.array(table)
        best_key: tuple[float, float] | None = None
        for d, w, _, mrr in table:
            near = (results[:, 0] == d) & (np.abs(results[:, 1] - w) < 0.21)
            key = (float(results[near, 2].mean()), float(mrr))
            if best_key is None or key > best_key:
                best_key, self.hybrid_weight_, self.derivative_weight_ = key, float(w), float(d)
        L = library_features(X[np.concatenate([val, order])], self.derivative_weight_, self._pool)
        s_library = class_max(L[: val.size] @ L[val.size :].T, starts)
        scores = self.hybrid_weight_ * s_embed + (1 - self.hybrid_weight_) * s_library
        self.temperature_ = fit_temperature(scores, target)

    def _fit_kan_head(
        self,
        X: np.ndarray,
        y_index: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
        augmenter: SpectralAugmenter | None,
        rng: np.random.Generator,
        seed: int,
    ) -> None:
        from lithoscope.models.keras.kan import fit_kan_head

        self.head_ = fit_kan_head(
            self._forward,
            X,
            y_index,
            train,
            val,
            self.axis_,
            n_classes=self.classes_.size,
            augmenter=augmenter,
            rng=rng,
            seed=seed,
            verbose=self.verbose,
        )
        self._head_forward = compile_forward(self.head_)
        self.hybrid_weight_ = 1.0
        if val.size:
            logits = self._head_forward(self._forward(X[val]))
            self.temperature_ = fit_temperature(logits, y_index[val])
        else:
            self.temperature_ = 1.0

    def _set_references(
        self, embeddings: np.ndarray, library: np.ndarray, labels: np.ndarray
    ) -> None:
        order = np.argsort(labels, kind="stable")
        self.reference_embeddings_ = np.ascontiguousarray(embeddings[order], dtype=np.float32)
        self.reference_library_ = np.ascontiguousarray(library[order], dtype=np.float32)
        self.reference_labels_ = labels[order].astype(np.int64)
        self.prototypes_ = class_prototypes(
            self.reference_embeddings_, class_starts(self.reference_labels_)
        )
        if self.head == "match":
            self._make_scorer()

    @property
    def _pool(self) -> int:
        """Points averaged by `library_features`: about 4 axis units (4 points on index axes)."""
        step = float(np.median(np.diff(self.axis_))) if self.axis_.size > 1 else 1.0
        return max(1, round(4.0 / step)) if step > 0 else 4

    # ------------------------------------------------------------------ prediction
    def embed(self, X: Any) -> np.ndarray:
        """Unit embeddings of spectra, shape (n_spectra, embedding_dim * n_models)."""
        return self._forward(self._check_X(X))

    def _scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.head == "match" and self._scorer_weight != self.hybrid_weight_:
            self._make_scorer()  # hybrid_weight_ was changed by hand
        if self.head == "kan":
            scores = self._head_forward(self._forward(X)).astype(np.float64)
        elif self.hybrid_weight_ < 1:
            library = library_features(X, self.derivative_weight_, self._pool)
            scores = self._scorer(X, library).astype(np.float64)
        else:
            scores = self._scorer(X).astype(np.float64)
        return softmax(scores, self.temperature_), scores

    def _make_scorer(self) -> None:
        """Embedding, matching and hybrid in one compiled function (see `Forward`)."""
        n_classes = int(self.classes_.size)
        w = float(self.hybrid_weight_)

        def best(similarity: Any, labels: Any) -> Any:  # (batch, n_ref) -> (batch, n_classes)
            per_class = ops.segment_max(
                ops.transpose(similarity), labels, num_segments=n_classes, sorted=True
            )
            return ops.transpose(per_class)

        p = float(self.prototype_weight)

        def embed_score(embedding: Any, refs: Any, protos: Any, labels: Any) -> Any:
            nearest = best(ops.matmul(embedding, ops.transpose(refs)), labels)
            return (1 - p) * nearest + p * ops.matmul(embedding, ops.transpose(protos))

        if w < 1:

            def then(
                embedding: Any, library: Any, refs: Any, protos: Any, refs_lib: Any, labels: Any
            ) -> Any:
                s_lib = best(ops.matmul(library, ops.transpose(refs_lib)), labels)
                return w * embed_score(embedding, refs, protos, labels) + (1 - w) * s_lib

            constants = (self.reference_embeddings_, self.prototypes_, self.reference_library_)
        else:

            def then(embedding: Any, refs: Any, protos: Any, labels: Any) -> Any:
                return embed_score(embedding, refs, protos, labels)

            constants = (self.reference_embeddings_, self.prototypes_)
        labels = self.reference_labels_.astype(np.int32)
        self._scorer = compile_forward(self.model_, then=then, constants=(*constants, labels))
        self._scorer_weight = w

    # ------------------------------------------------------------------ few-shot
    def add_class(self, label: str, X_new: Any) -> CNNClassifier:
        """Add reference spectra of a mineral (new or known) without retraining.

        Parameters
        ----------
        label : str
            Mineral name; a new name becomes a new class (``classes_`` stays sorted).
        X_new : array_like or SpectralCollection
            One or more spectra on the model's axis, preprocessed like the training data.

        Raises
        ------
        InputError
            With ``head='kan'`` (its output layer has fixed classes), or spectra on another axis.
        """
        if self.head != "match":
            raise InputError(
                "add_class needs head='match'; a KAN head has one output per trained mineral"
            )
        X_arr = self._check_X(X_new)
        label = str(label)
        classes = np.union1d(self.classes_, [label])
        remap = np.searchsorted(classes, self.classes_)
        labels = np.concatenate(
            [
                remap[self.reference_labels_],
                np.full(X_arr.shape[0], np.searchsorted(classes, label)),
            ]
        )
        embeddings = np.concatenate([self.reference_embeddings_, self._forward(X_arr)])
        library = np.concatenate(
            [self.reference_library_, library_features(X_arr, self.derivative_weight_, self._pool)]
        )
        self.classes_ = classes
        self._set_references(embeddings, library, labels)
        return self

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "hybrid_weight": float(self.hybrid_weight_),
            "derivative_weight": float(self.derivative_weight_),
            "temperature": float(self.temperature_),
            "history": json.loads(json.dumps(self.history_, default=float)),
        }
        arrays = {
            "reference_embeddings_": self.reference_embeddings_,
            "reference_library_": self.reference_library_,
            "reference_labels_": self.reference_labels_,
        }
        return state, arrays

    def _save_extra(self, folder: Path) -> None:
        self.model_.save(folder / self._EMBEDDING_FILE)
        if self.head == "kan":
            self.head_.save(folder / self._HEAD_FILE)

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        self.hybrid_weight_ = float(state["hybrid_weight"])
        self.derivative_weight_ = float(state["derivative_weight"])
        self.temperature_ = float(state["temperature"])
        self.history_ = state.get("history", {})
        self.model_ = load_keras(folder / self._EMBEDDING_FILE)
        self._forward = compile_forward(self.model_)
        if self.head == "kan":
            self.head_ = load_keras(folder / self._HEAD_FILE)
            self._head_forward = compile_forward(self.head_)
        self._set_references(
            arrays["reference_embeddings_"],
            arrays["reference_library_"],
            arrays["reference_labels_"],
        )
