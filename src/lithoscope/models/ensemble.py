"""`EnsembleClassifier`: the weighted mean of several models of one method.

Library search and the network err on different spectra: on a grouped validation split of RRUFF
Raman (375 spectra of samples carved from the training side) library search alone reached
top-1 0.808, the hybrid CNN 0.827, and the mean of their probabilities 0.840 (weights 0.25-0.5
for the library gave the same; 0.75 gave 0.835), so the default is the plain mean.

Each member is a model kind of `lithoscope.models.kinds` fitted on the same spectra (with the
same sample groups, which the members use for their own validation splits); the probabilities
and the class scores (similarities: every default member matches spectra) are averaged with
``weights``. Members are saved in sub-folders and loaded with the same checks as any model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lithoscope.errors import InputError
from lithoscope.models.base import SpectralClassifier

__all__ = ["EnsembleClassifier"]


class EnsembleClassifier(SpectralClassifier):
    """Weighted mean of the probabilities (and scores) of member models.

    Parameters
    ----------
    axis : array_like, optional
        Axis of array inputs.
    members : sequence of str, default=('library', 'cnn')
        Model kinds (`lithoscope.models.kinds.MODEL_KINDS`).
    weights : sequence of float, optional
        One per member, normalised to sum 1; default equal.
    method : str, optional
        The method of the spectra, for the members' per-method defaults (`METHOD_DEFAULTS`).
    member_params : mapping of str to dict, optional
        Parameters per member kind (``{"cnn": {"epochs": 20}}``).
    random_state : int, default=0
        Seed of the members that take one (unless ``member_params`` sets theirs).

    Attributes
    ----------
    members_ : list of SpectralClassifier
    weights_ : ndarray
    """

    #: class scores are similarities (library search and the matching CNN)
    similarity_scores = True

    def __init__(
        self,
        *,
        axis: Any = None,
        members: Sequence[str] = ("library", "cnn"),
        weights: Sequence[float] | None = None,
        method: str | None = None,
        member_params: Mapping[str, Mapping[str, Any]] | None = None,
        random_state: int = 0,
    ) -> None:
        self.axis = axis
        self.members = members
        self.weights = weights
        self.method = method
        self.member_params = member_params
        self.random_state = random_state

    def _check_params(self) -> tuple[list[str], np.ndarray]:
        from lithoscope.models.kinds import MODEL_KINDS

        kinds = [str(k) for k in self.members]
        if len(kinds) < 2 or "ensemble" in kinds:
            raise InputError(
                f"members must name at least 2 model kinds (not ensemble), got {kinds}"
            )
        unknown = [k for k in kinds if k not in MODEL_KINDS]
        if unknown:
            raise InputError(f"members: {', '.join(unknown)} not one of {', '.join(MODEL_KINDS)}")
        w = np.ones(len(kinds)) if self.weights is None else np.asarray(self.weights, float)
        if w.shape != (len(kinds),) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise InputError(
                f"weights must be {len(kinds)} non-negative numbers with a positive sum, "
                f"got {self.weights!r}"
            )
        params = dict(self.member_params or {})
        extra = sorted(set(params) - set(kinds))
        if extra:
            raise InputError(f"member_params names kinds that are not members: {', '.join(extra)}")
        return kinds, w / w.sum()

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        from lithoscope.models.kinds import make_model

        kinds, self.weights_ = self._check_params()
        labels = self.classes_[y]
        groups = self._checked_groups(X.shape[0])
        self.members_ = []
        for kind in kinds:
            params = dict((self.member_params or {}).get(kind, {}))
            member = make_model(kind, method=self.method, axis=self.axis_, **params)
            if "random_state" in member.get_params() and "random_state" not in params:
                member.set_params(random_state=self.random_state)
            self.members_.append(member.fit(X, labels, groups=groups))
        self._check_classes()

    def _check_classes(self) -> None:
        for member in self.members_:
            if not np.array_equal(np.asarray(member.classes_).astype(str), self.classes_):
                raise InputError(
                    f"ensemble member {type(member).__name__} holds other classes than the "
                    "ensemble; retrain the model"
                )

    def _scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        proba = np.zeros((X.shape[0], self.classes_.size))
        scores = np.zeros_like(proba)
        for w, member in zip(self.weights_, self.members_, strict=True):
            p, s = member.predict_scores(X)
            proba += w * p
            scores += w * s
        return proba, scores

    def add_class(self, label: str, X: Any) -> EnsembleClassifier:
        """Add (or extend) a mineral in every member (members that cannot refuse)."""
        for member in self.members_:
            member.add_class(label, X)
        self.classes_ = np.asarray(self.members_[0].classes_).astype(str)
        self._check_classes()
        return self

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"n_members": len(self.members_)}, {"weights_": self.weights_}

    def _save_extra(self, folder: Path) -> None:
        for i, member in enumerate(self.members_):
            member.save(folder / f"member{i}")

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        from lithoscope.models.base import load_model

        n = int(state["n_members"])
        self.weights_ = np.asarray(arrays["weights_"], dtype=np.float64)
        if self.weights_.shape != (n,):
            raise InputError(f"{folder}: weights_ has shape {self.weights_.shape}, not ({n},)")
        self.members_ = [load_model(folder / f"member{i}") for i in range(n)]
        self._check_classes()
