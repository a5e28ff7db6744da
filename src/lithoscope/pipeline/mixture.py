"""Mixtures and rocks: which minerals a spectrum of a rock holds, how much of each, the rock name.

Training (`fit_mixture_model`, called by ``lithoscope train --mixture``): the bundle's method
gets a `MixtureModel` whose reference library is the training-side spectra of the minerals of
real planetary rock types (`lithoscope.data.mixtures.load_assemblages`) that MinDB holds spectra
of. The unmixer's per-mineral presence thresholds are chosen (best F1) on synthetic mixtures of
2-4 minerals built from the calibration-side spectra only, so no spectrum both teaches and
judges.

VNIR is different (`fit_modal_mixture_model`): MinDB holds VNIR spectra of rocks, meteorites
and mixtures with measured modes (``korda2024``), so the mixture model is a `ModalMixtureModel`,
a regressor of the modes (olivine, orthopyroxene, clinopyroxene, plagioclase) and their
chemistry learned from the training-side labelled spectra and calibrated on the calibration side.

Serving (`identify_mixtures`): one preprocessing call and one unmixing call per batch; per
spectrum the minerals present (with probability, volume % and its sd, and for VNIR their
chemistry), and the rock they make (`lithoscope.rocks.name_rock` on the modal mineralogy, with
the planetary context of the measurement and, for VNIR, the predicted An of plagioclase, Fa of
olivine and Fs of orthopyroxene). `MixtureResult.to_json` is the JSON contract of
``identify --mixture --json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lithoscope.errors import InputError, LithoscopeError

__all__ = [
    "MixtureResult",
    "evaluate_mixture_model",
    "fit_mixture_model",
    "fit_modal_mixture_model",
    "identify_mixtures",
    "mixture_species",
]

#: minerals shown besides the present ones: presence probability at least this
SHOW_POSSIBLE = 0.2
#: predicted chemistry (VNIR) names the rock only when its sd is at most this (mol %): the
#: schemes' boundaries are a few mol % apart (H/L/LL chondrites by Fa, FAN at An 90)
ROCK_CHEMISTRY_SD = 5.0


def mixture_species(classes: Sequence[str]) -> list[str]:
    """The minerals of the planetary rock types (`load_assemblages`) among ``classes``."""
    from lithoscope.data.mixtures import assemblage_species

    wanted = {s.lower() for s in assemblage_species()}
    return sorted(str(c) for c in classes if str(c).lower() in wanted)


def fit_mixture_model(
    X: np.ndarray,
    y: np.ndarray,
    axis: np.ndarray,
    fit_idx: np.ndarray,
    cal_idx: np.ndarray,
    *,
    groups: dict[str, str | None] | None = None,
    sample_ids: np.ndarray | None = None,
    network: bool = True,
    network_params: dict[str, Any] | None = None,
    n_validation: int = 600,
    random_state: int = 0,
) -> Any:
    """A `MixtureModel` on the rock-forming minerals of a method's preprocessed spectra.

    The unmixer's references and the network's training mixtures come from the training side
    (``fit_idx``); validation mixtures of the calibration side (``cal_idx``) choose, on one half,
    the unmixer's presence thresholds and sd scale, and on the other half the map from scores to
    presence probabilities, where the validation figures are measured too.

    Parameters
    ----------
    X : ndarray (n, p)
        Preprocessed spectra of the dataset.
    y : ndarray of str (n,)
        Their minerals.
    axis : ndarray (p,)
    fit_idx, cal_idx : ndarray of int
        Training side (references) and calibration side (validation mixtures).
    groups : dict, optional
        Species -> group (`MinDB.species_groups`), for group-level Raman efficiencies.
    sample_ids : ndarray of str (n,), optional
        Sample of each spectrum: the network's own validation split keeps samples whole.
    network : bool, default=True
        Also train the multi-label network (`MultiLabelClassifier`); the presence decision
        is then `combined_scores` of both.
    network_params : dict, optional
        Parameters of the network (``epochs``, ``steps_per_epoch``...).
    n_validation : int, default=600
        Validation mixtures drawn from the calibration side.
    random_state : int, default=0

    Returns
    -------
    MixtureModel

    Raises
    ------
    InputError
        Fewer than two rock-forming minerals with training spectra.
    """
    from lithoscope.data.mixtures import make_mixtures
    from lithoscope.models.mixture import MixtureModel
    from lithoscope.models.unmixing import NNLSUnmixer
    from lithoscope.physics.mixing import efficiencies_for

    y = np.asarray(y).astype(str)
    species = mixture_species(np.unique(y[fit_idx]))
    if len(species) < 2:
        raise InputError(
            f"MinDB holds training spectra of {len(species)} rock-forming mineral(s) of the "
            "planetary rock types; a mixture model needs at least 2 (ingest rruff-raman)"
        )
    eff, status = efficiencies_for(species, groups or {})
    efficiencies = dict(zip(species, eff.tolist(), strict=True))
    rows = fit_idx[np.isin(y[fit_idx], species)]
    unmixer = NNLSUnmixer(axis=axis, efficiencies=efficiencies, random_state=random_state)
    unmixer.fit(X[rows], y[rows])
    summary: dict[str, Any] = {
        "minerals": len(species),
        "reference_spectra": int(rows.size),
        "efficiencies": {
            s: {"value": float(v), "status": st}
            for s, v, st in zip(species, eff, status, strict=True)
        },
    }
    net = None
    if network:
        from lithoscope.models.keras.multilabel import MultiLabelClassifier

        net = MultiLabelClassifier(
            axis=axis,
            efficiencies=efficiencies,
            random_state=random_state,
            **(network_params or {}),
        )
        net.fit(X[rows], y[rows], groups=None if sample_ids is None else sample_ids[rows])
        summary["network"] = {k: v for k, v in (network_params or {}).items()}
    cal_rows = cal_idx[np.isin(y[cal_idx], species)]
    by_species = {s: X[cal_rows[y[cal_rows] == s]] for s in np.unique(y[cal_rows])}
    try:
        mixtures = make_mixtures(
            by_species,
            n=n_validation,
            rng=np.random.default_rng(random_state),
            classes=unmixer.classes_.tolist(),
            x=axis,
            efficiencies=efficiencies,
        )
    except InputError as exc:  # too few rock-forming minerals on the calibration side
        summary["validation"] = {"skipped": str(exc)}
        return MixtureModel(unmixer, net, summary)
    half = mixtures.X.shape[0] // 2
    first, second = slice(0, half), slice(half, None)
    unmixer.calibrate(mixtures.X[first], mixtures.Y[first], mixtures.A[first])
    model = MixtureModel(unmixer, net, summary)
    model.calibrate_presence(mixtures.X[second], mixtures.Y[second], mixtures.A[second])
    summary["validation"] = {
        "mixtures": int(mixtures.X.shape[0]),
        "calibration_minerals": len(by_species),
        "sd_scale": model.sd_scale,
        **_scores(model.predict(mixtures.X[second]), mixtures.Y[second], mixtures.A[second]),
    }
    return model


def _modal_labelled(
    db: Any, method: str, pipeline: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MinDB's ``method`` spectra with all four modes: preprocessed ``X``, `TARGETS` ``y``,
    and each spectrum's grouping key (MinDB's ``group``: its material, which its grain-size
    splits share)."""
    import pandas as pd

    from lithoscope.models.modal import CHEMISTRY_TARGETS, MODES, korda_targets

    stored = db.spectra_arrays(method=method, extra=True)
    rows = [
        i
        for i, meta in enumerate(stored.metadata)
        if len((meta["extra"].get("modes") or {}).keys() & set(MODES)) == len(MODES)
    ]
    if not rows:
        raise InputError(
            f"MinDB holds no {method} spectra with modal labels; a mixture model "
            "learns from them (lithoscope data ingest korda2024)"
        )
    metas = [stored.metadata[i] for i in rows]
    labels = pd.DataFrame(
        [{**m["extra"]["modes"], **(m["extra"].get("chemistry") or {})} for m in metas],
        columns=[*MODES, *CHEMISTRY_TARGETS],
        dtype=np.float64,
    )
    material = np.array([str(m["group"]) for m in metas])
    spectra = stored.to_spectra()
    X = np.asarray(pipeline.transform([spectra[i] for i in rows]), dtype=np.float64)
    return X, korda_targets(labels), material


def _on_side(material: np.ndarray, groups: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    """Whether each labelled spectrum's material is a group of the dataset's ``idx`` side."""
    if idx is None or not len(idx):
        return np.zeros(material.size, dtype=bool)
    return np.isin(material, np.asarray(groups)[np.asarray(idx, dtype=int)].astype(str))


def evaluate_mixture_model(
    db: Any,
    dataset: Any,
    model: Any,
    test_idx: np.ndarray,
    *,
    pipeline: Any,
    n_mixtures: int = 600,
    random_state: int = 0,
) -> dict[str, Any]:
    """A mixture model's figures on the dataset's test side, which it never learned from.

    For a `ModalMixtureModel` (VNIR): MinDB's spectra with measured modes whose material has a
    sample on the test side (`fit_modal_mixture_model` leaves them out), scored by
    `modal_scores`. For a `MixtureModel`: ``n_mixtures`` synthetic mixtures of 2-4 minerals of
    planetary rock types (`make_mixtures`) drawn from the test side's spectra of its minerals,
    scored by presence micro-F1 and abundance MAE over the minerals present (the measures of
    ``benchmarks/mixtures.py``).

    Parameters
    ----------
    db : MinDB
    dataset : Dataset
        The identification model's dataset (preprocessed ``X``, ``y``, sample ``groups``).
    model : MixtureModel or ModalMixtureModel
    test_idx : ndarray of int
        The dataset's test side.
    pipeline : sklearn Pipeline
        The method's preprocessing (for MinDB's labelled VNIR spectra).
    n_mixtures : int, default=600
    random_state : int, default=0

    Returns
    -------
    dict
        ``on`` (what was scored), the counts and the figures; ``skipped`` with the reason
        when the test side cannot make any.
    """
    from lithoscope.data.mixtures import make_mixtures
    from lithoscope.models.modal import ModalMixtureModel, modal_scores

    test_idx = np.asarray(test_idx, dtype=int)
    if isinstance(model, ModalMixtureModel):
        X, y, material = _modal_labelled(db, dataset.spec.method, pipeline)
        tested = _on_side(material, dataset.groups, test_idx)
        if not tested.any():
            return {"on": "test samples with measured modes", "skipped": "none on the test side"}
        return {
            "on": "test samples with measured modes",
            "materials": int(np.unique(material[tested]).size),
            **modal_scores(model.predict(X[tested]), y[tested]),
        }
    classes = np.asarray(model.unmixer.classes_).astype(str)
    y = np.asarray(dataset.y).astype(str)
    rows = test_idx[np.isin(y[test_idx], classes)]
    by_species = {s: dataset.X[rows[y[rows] == s]] for s in np.unique(y[rows])}
    on = "mixtures of test spectra"
    try:
        mixtures = make_mixtures(
            by_species,
            n=n_mixtures,
            rng=np.random.default_rng(random_state),
            classes=classes.tolist(),
            x=np.asarray(dataset.axis),
            efficiencies=dict(zip(classes, model.unmixer.efficiencies_.tolist(), strict=True)),
        )
    except InputError as exc:  # too few rock-forming minerals on the test side
        return {"on": on, "skipped": str(exc)}
    return {
        "on": on,
        "mixtures": int(mixtures.X.shape[0]),
        "test_minerals": len(by_species),
        **_scores(model.predict(mixtures.X), mixtures.Y, mixtures.A),
    }


def _scores(pred: Any, Y: np.ndarray, A: np.ndarray) -> dict[str, float]:
    """Micro-F1 of presence and abundance MAE (vol %, over the minerals truly present) on
    mixtures with known truth (the measures of benchmarks/mixtures.py)."""
    present = pred.present.astype(bool)
    truth = np.asarray(Y).astype(bool)
    tp = float((present & truth).sum())
    f1 = 2 * tp / max(1.0, float(present.sum() + truth.sum()))
    mae = float(np.abs(pred.abundance - A)[truth].mean() * 100)
    return {"micro_f1": round(f1, 4), "abundance_mae_vol_pct": round(mae, 2)}


def fit_modal_mixture_model(
    db: Any,
    dataset: Any,
    fit_idx: np.ndarray,
    cal_idx: np.ndarray,
    *,
    pipeline: Any,
    in_calibration: Callable[[np.ndarray], np.ndarray],
    test_idx: np.ndarray | None = None,
    params: dict[str, Any] | None = None,
    random_state: int = 0,
) -> Any:
    """The VNIR mixture model: a `ModalMixtureModel` on MinDB's spectra with modal labels.

    The spectra are read through MinDB (``modes`` and ``chemistry`` in their metadata, see
    `lithoscope.data.vnir.korda_spectra`) and preprocessed with the method's ``pipeline``. The
    split follows the identification model's: a material (``material`` in the metadata: the
    grain-size splits of one sample) is on the calibration side when one of its spectra is in
    ``cal_idx``, on the training side when one is in ``fit_idx``, and otherwise where
    ``in_calibration`` puts it (the hash of its key, as for multi-method training). A
    `ModalRegressor` ensemble learns from the training side; the calibration side chooses the
    presence threshold and scales the sd (`ModalMixtureModel.calibrate`).

    Parameters
    ----------
    db : MinDB
    dataset : Dataset
        The identification model's training set (its groups decide the split).
    fit_idx, cal_idx : ndarray of int
        Its training and calibration sides.
    pipeline : sklearn Pipeline
        The method's preprocessing (starting with ``ToGrid``).
    in_calibration : callable
        ``keys -> bool array``: whether a material outside the dataset is held out.
    test_idx : ndarray of int, optional
        The dataset's test side: a material with a spectrum of one of its samples is left out
        of both sides (`evaluate_mixture_model` scores on it).
    params : dict, optional
        `ModalRegressor` parameters (default: the MLP with 5 members for the sd).
    random_state : int, default=0

    Returns
    -------
    ModalMixtureModel

    Raises
    ------
    InputError
        Fewer than 10 labelled spectra on the training side.
    """
    from lithoscope.models.modal import ModalMixtureModel, ModalRegressor

    X, y, material = _modal_labelled(db, dataset.spec.method, pipeline)
    tested = _on_side(material, dataset.groups, test_idx)
    held = in_calibration(material)
    held[_on_side(material, dataset.groups, fit_idx)] = False
    held[_on_side(material, dataset.groups, cal_idx)] = True
    # the identification model's test samples are neither learned from nor calibrated on
    X, y, material, held = X[~tested], y[~tested], material[~tested], held[~tested]
    if (~held).sum() < 10:
        raise InputError(
            f"{int((~held).sum())} labelled {dataset.spec.method} spectra on the training side; "
            "a modal mixture model needs at least 10"
        )
    grid = np.asarray(dataset.axis, dtype=np.float64)
    settings = {"method": "mlp", "n_members": 5, "random_state": random_state, **(params or {})}
    regressor = ModalRegressor(wavelength_nm=grid, **settings).fit(X[~held], y[~held])
    summary: dict[str, Any] = {
        "kind": "modal",
        "training_spectra": int((~held).sum()),
        "calibration_spectra": int(held.sum()),
        "materials": {
            "training": int(np.unique(material[~held]).size),
            "calibration": int(np.unique(material[held]).size),
        },
        "regressor": {k: v for k, v in settings.items() if k != "wavelength_nm"},
    }
    model = ModalMixtureModel(regressor, summary=summary)
    return model.calibrate(X[held], y[held])


@dataclass
class MixtureResult:
    """The answer for one spectrum of a rock or mixture.

    ``to_json()`` is the contract of ``identify --mixture --json``::

        {"input", "method", "model", "abundance_unit": "vol %",
         "minerals": [{"mineral", "present", "present_probability", "abundance",
                       "abundance_sd", "formula", "group"}],
         "rock": {"name", "scheme", "field", "reasoning"} | null,
         "prediction_set": [minerals that cannot be ruled out] | null, "confidence_level",
         "warnings": [...], "refused": null | "why"}

    For VNIR (a `ModalMixtureModel`) each mineral also has ``"chemistry"`` and
    ``"chemistry_sd"`` in mol % (olivine ``{"Fo"}``, pyroxenes ``{"Fs", "Wo"}``, plagioclase
    ``{"An"}``), and there is no fitted spectrum to plot.
    """

    input: str
    method: str
    model: str
    minerals: list[dict[str, Any]] = field(default_factory=list)
    rock: dict[str, Any] | None = None
    prediction_set: list[str] | None = None
    confidence_level: float | None = None
    warnings: list[str] = field(default_factory=list)
    refused: str | None = None
    # for plots: the preprocessed spectrum, its fit, the components and the axis
    axis: np.ndarray | None = None
    spectrum: np.ndarray | None = None
    fitted: np.ndarray | None = None
    components: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "method": self.method,
            "model": self.model,
            "abundance_unit": "vol %",
            "minerals": self.minerals,
            "rock": self.rock,
            "prediction_set": self.prediction_set,
            "confidence_level": self.confidence_level,
            "warnings": self.warnings,
            "refused": self.refused,
        }


def identify_mixtures(
    measurements: Sequence[Any],
    bundles: Any,
    *,
    method: str | None = None,
    plagioclase_an: float | None = None,
    facts: Callable[[list[str]], dict[str, dict[str, Any]]] | None = None,
) -> list[MixtureResult]:
    """Minerals, abundances and the rock name of each measurement's spectrum.

    Parameters
    ----------
    measurements : sequence of Measurement
        One spectrum each (of ``method``, or their only one); the context's body chooses the
        planetary rock classes.
    bundles : IdentificationModel or callable
        The bundle (or ``method -> bundle``) whose method has a mixture model.
    method : str, optional
        Which spectrum of each measurement to use (default: its only one).
    plagioclase_an : float, optional
        Anorthite content of the plagioclase (mol %) for the rock name.
    facts : callable, optional
        ``names -> {name: {"formula", "group", ...}}`` (`MinDB.summaries`), added per mineral.

    Returns
    -------
    list of MixtureResult
        In the order given; a spectrum that cannot be used is a result with ``refused``.
    """
    bundle_of = bundles if callable(bundles) else (lambda _m: bundles)
    results: list[MixtureResult] = [None] * len(measurements)  # type: ignore[list-item]
    by_method: dict[str, list[tuple[int, Any]]] = {}
    for i, m in enumerate(measurements):
        chosen = method or (m.methods[0] if len(m.methods) == 1 else None)
        if chosen is None or chosen not in m.methods:
            results[i] = MixtureResult(
                m.name,
                "+".join(m.methods),
                "",
                refused=f"a mixture is unmixed from one spectrum; give --method (it has "
                f"{', '.join(m.methods)})",
            )
            continue
        by_method.setdefault(chosen, []).append((i, m))
    for meth, items in by_method.items():
        try:
            bundle = bundle_of(meth)
            part = bundle.part(meth)
        except LithoscopeError as exc:
            for i, m in items:
                results[i] = MixtureResult(m.name, meth, "", refused=str(exc))
            continue
        model = part.mixture
        if model is None:
            why = (
                f"model {bundle.name} has no mixture model for {meth}; train one with "
                f"lithoscope train --method {meth} --mixture"
            )
            for i, m in items:
                results[i] = MixtureResult(m.name, meth, bundle.name, refused=why)
            continue
        X, coverage = part.preprocess([m.spectra[meth] for _, m in items])
        pred = model.predict(X)
        fitted = components = None
        if getattr(model, "unmixer", None) is not None:  # a VNIR modal model fits no spectrum
            fitted, components, _ = model.unmixer.reconstruct(X, candidates=pred.present)
        names = [str(c) for c in pred.classes]
        known = facts(names) if facts is not None else {}
        for row, (i, m) in enumerate(items):
            result = MixtureResult(m.name, meth, bundle.name, axis=part.grid, spectrum=X[row])
            if coverage[row] < 0.5:
                result.warnings.append(
                    f"the spectrum covers {coverage[row]:.0%} of the model's axis; "
                    "minerals whose bands lie outside it cannot be seen"
                )
            result.minerals = _minerals(pred, row, known)
            if pred.possible is not None:
                order = np.argsort(-pred.presence[row], kind="stable")
                result.prediction_set = [names[j] for j in order if pred.possible[row, j]]
                result.confidence_level = model.conformal["confidence"]
            if fitted is not None and components is not None:
                result.fitted = fitted[row]
                result.components = {
                    names[j]: components[row, j] for j in np.flatnonzero(pred.present[row])
                }
            result.rock = _rock(result, getattr(m.context, "body", None), plagioclase_an)
            results[i] = result
    return results


def _minerals(pred: Any, row: int, known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Present minerals by abundance, then possible ones by probability."""
    present = np.flatnonzero(pred.present[row])
    present = present[np.argsort(-pred.abundance[row, present], kind="stable")]
    possible = np.flatnonzero(~pred.present[row] & (pred.presence[row] >= SHOW_POSSIBLE))
    possible = possible[np.argsort(-pred.presence[row, possible], kind="stable")]
    out = []
    for j in [*present.tolist(), *possible.tolist()]:
        name = str(pred.classes[j])
        info = known.get(name, {})
        out.append(
            {
                "mineral": name,
                "present": bool(pred.present[row, j]),
                "present_probability": round(float(pred.presence[row, j]), 4),
                "abundance": round(float(pred.abundance[row, j]) * 100, 2),
                "abundance_sd": round(float(pred.abundance_sd[row, j]) * 100, 2),
                "formula": info.get("formula"),
                "group": info.get("group"),
            }
        )
        if hasattr(pred, "chemistry_of"):  # VNIR: mol % of Fo, Fs, Wo, An and their sd
            out[-1]["chemistry"], out[-1]["chemistry_sd"] = pred.chemistry_of(row, name)
    return out


#: predicted chemistry the rock name uses: (mineral, name in the answer, name_rock argument);
#: olivine Fa is 100 - Fo
_ROCK_CHEMISTRY = (
    ("plagioclase", "An", "plagioclase_an"),
    ("olivine", "Fo", "olivine_fa"),
    ("orthopyroxene", "Fs", "pyroxene_fs"),
)


def _rock(result: MixtureResult, body: str | None, an: float | None) -> dict[str, Any] | None:
    """The rock name of the present minerals' modes; minerals the schemes do not know are left
    out and said so. Predicted chemistry (VNIR) gives An (unless ``an`` is given), olivine Fa
    and low-Ca pyroxene Fs when its sd is at most `ROCK_CHEMISTRY_SD`."""
    from lithoscope.rocks import name_rock
    from lithoscope.rocks.minerals import mineral_info

    modes, unknown = {}, []
    for m in result.minerals:
        if not m["present"]:
            continue
        try:
            mineral_info(m["mineral"])
        except InputError:
            unknown.append(m["mineral"])
            continue
        modes[m["mineral"]] = m["abundance"]
    if unknown:
        result.warnings.append(
            f"{', '.join(unknown)} left out of the rock name (not a mineral the rock schemes know)"
        )
    if not modes:
        return None
    known = {"plagioclase_an": an}
    present = {m["mineral"]: m for m in result.minerals if m["present"]}
    for mineral, name, key in _ROCK_CHEMISTRY:
        m = present.get(mineral)
        if known.get(key) is not None or m is None or name not in (m.get("chemistry") or {}):
            continue
        value, sd = m["chemistry"][name], m["chemistry_sd"][name]
        if sd > ROCK_CHEMISTRY_SD:
            result.warnings.append(
                f"{mineral} {name} {value:.0f} +- {sd:.0f} mol % is too uncertain "
                f"(sd > {ROCK_CHEMISTRY_SD:g}) to name the rock: left out"
            )
            continue
        known[key] = 100.0 - value if name == "Fo" else value
    try:
        rock = name_rock(modes, body=body, **known)
    except InputError as exc:
        result.warnings.append(f"no rock name: {exc}")
        return None
    return rock.to_json()
