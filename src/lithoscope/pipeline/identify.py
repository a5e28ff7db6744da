"""Identify minerals in measurements: `identify_batch`, the one path every caller takes.

The command line, the web service and the Dask job all call `identify_batch` with measurements
and an `IdentificationModel` (or a function giving the bundle of each method) and render the
`Identification` objects it returns. A single spectrum is the one-row batch of a one-method
measurement.

Per method present in the batch: preprocessing runs once over all its spectra (the bundle's fast
batch path, the same numbers as training), the estimator is called once, then the conformal
prediction sets and the unknown verdicts are computed for the whole batch; explanations are
optional. A spectrum that covers too little of the model's range is called unknown with a
warning (its closest matches are still listed), and one that holds no usable signal is refused
with a one-line reason instead of an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lithoscope.errors import InputError, LithoscopeError
from lithoscope.models.scoring import top_k
from lithoscope.pipeline.bundle import IdentificationModel, MethodModel
from lithoscope.spectra.measurement import Measurement
from lithoscope.spectra.spectrum import Spectrum

__all__ = [
    "MIN_COVERAGE",
    "MIN_POINTS",
    "WARN_COVERAGE",
    "Identification",
    "IdentifyCache",
    "identify_batch",
]

#: below this share of the model's axis range covered, a spectrum is called unknown (no RRUFF
#: Raman spectrum of the mirror covers less than 0.5 of 100-1400 cm-1; the far-infrared RRUFF
#: spectra, 50-700 cm-1, cover 0.08 of the infrared model's 400-4000 cm-1)
MIN_COVERAGE = 0.5
#: below this share, the answer carries a warning (1 % of the mirror's Raman spectra)
WARN_COVERAGE = 0.75
#: fewer measured points than this inside the model's range: not a spectrum
MIN_POINTS = 10


@dataclass
class Identification:
    """The answer for one measurement; `to_dict` is the JSON contract of ``identify``.

    A one-method measurement fills the fields directly. A measurement of several methods gets the
    fused answer at the top level (`fuse_methods`: candidates of the product of the methods'
    probabilities, ``methods`` naming them) and one `Identification` per method in
    ``by_method``.

    Attributes
    ----------
    input : str
        The measurement's name (file name).
    method : str
        ``raman``, or ``raman+ir`` for several.
    model : str
        ``NAME@VERSION`` of the bundle(s).
    candidates : list of dict
        Best first: ``mineral``, ``probability``, ``score`` and MinDB facts (``formula``,
        ``bodies``, ``occurs``).
    prediction_set : list of str or None
        The conformal set at ``confidence_level`` (None when the model is not calibrated; a
        warning then says so).
    unknown, unknown_score
        The unknown-mineral verdict and its score.
    coverage : float or None
        Share of the model's axis range that the spectrum covers.
    warnings : list of str
    refused : str or None
        Why no answer was given (no candidates then).
    explanation : dict or None
        `explain_identification` output, when asked.
    composition : dict or None
        Solid-solution composition when the answer is an olivine, pyroxene or plagioclase
        (``{"Fo": 89.0, "Fo_sd": 4.0, "method": ...}``; see `lithoscope.physics.composition`).
    group : dict or None
        The group of the best candidate (``name``, ``probability``: the summed probability of
        its species, ``species``: its members ranked, ``level``: ``"group"`` when the spectrum
        does not separate the species (the prediction set holds several species of the group and
        nothing else), else ``"species"``).
    x, grid, attribution, spectrum
        Not in the JSON: the preprocessed spectrum the model saw, its axis, the per-point
        attribution and the input spectrum (for plots).
    """

    input: str
    method: str
    model: str
    candidates: list[dict[str, Any]] = field(default_factory=list)
    prediction_set: list[str] | None = None
    confidence_level: float | None = None
    unknown: bool | None = None
    unknown_score: float | None = None
    coverage: float | None = None
    warnings: list[str] = field(default_factory=list)
    refused: str | None = None
    explanation: dict[str, Any] | None = None
    group: dict[str, Any] | None = None
    composition: dict[str, Any] | None = None
    sample_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    by_method: dict[str, Identification] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)
    x: np.ndarray | None = field(default=None, repr=False)
    proba: np.ndarray | None = field(default=None, repr=False)
    classes: np.ndarray | None = field(default=None, repr=False)
    prior: Any = field(default=None, repr=False)
    grid: np.ndarray | None = field(default=None, repr=False)
    attribution: np.ndarray | None = field(default=None, repr=False)
    spectrum: Spectrum | None = field(default=None, repr=False)

    @property
    def top(self) -> str | None:
        """The best candidate's mineral, or None."""
        return self.candidates[0]["mineral"] if self.candidates else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready answer (the ``identify --json`` line)."""
        out: dict[str, Any] = {
            "input": self.input,
            "method": self.method,
            "model": self.model,
            "candidates": self.candidates,
            "prediction_set": self.prediction_set,
            "confidence_level": self.confidence_level,
            "unknown": self.unknown,
            "unknown_score": self.unknown_score,
            "coverage": self.coverage,
            "warnings": self.warnings,
        }
        if self.group is not None:
            out["group"] = self.group
        if self.composition is not None:
            out["composition"] = self.composition
        if self.refused is not None:
            out["refused"] = self.refused
        if self.explanation is not None:
            out["explanation"] = self.explanation
        if self.sample_id is not None:
            out["sample_id"] = self.sample_id
        if self.context:
            out["context"] = self.context
        if self.methods:
            out["methods"] = list(self.methods)
        if self.by_method:
            out["by_method"] = {m: r.to_dict() for m, r in self.by_method.items()}
        return out


class IdentifyCache:
    """What answers reuse across calls: MinDB facts of minerals and reference bands.

    Keep one per process (the service does) so that each mineral is looked up once.

    Parameters
    ----------
    db : MinDB, optional
        Without it candidates carry names and probabilities only, and explanations have no
        reference bands.
    """

    def __init__(self, db: Any = None) -> None:
        self.db = db
        self._facts: dict[str, dict[str, Any]] = {}
        self._bands: dict[int, Any] = {}

    def facts(self, mineral: str) -> dict[str, Any]:
        """Formula, bodies and settings of a mineral from MinDB (empty without MinDB)."""
        if mineral not in self._facts:
            self.prefetch([mineral])
        return self._facts.get(mineral, {})

    def prefetch(self, minerals: Iterable[str]) -> None:
        """Look up the facts of the minerals not seen yet, all in one `MinDB.summaries` call."""
        if self.db is None:
            return
        new = [m for m in dict.fromkeys(minerals) if m not in self._facts]
        if not new:
            return
        found = self.db.summaries(new)
        for mineral in new:
            summary = found.get(mineral)
            if summary is None:
                self._facts[mineral] = {}
                continue
            settings: list[str] = []
            for occ in summary["occurrences"]:
                text = f"{occ['body']}: {occ['setting']}"
                if text not in settings:
                    settings.append(text)
            self._facts[mineral] = {
                "formula": summary["formula"],
                "bodies": summary["bodies"],
                "occurs": settings[:5],
            }

    def bands_for(self, part: MethodModel) -> Callable[[str], list[dict[str, Any]]]:
        """``mineral -> reference bands`` found with ``part``'s preprocessing."""
        if self.db is None:
            return lambda mineral: []
        key = id(part)
        if key not in self._bands:
            from lithoscope.explain import BandCache

            self._bands[key] = BandCache(
                self.db, pipeline_for=lambda method: part.pipeline, max_spectra=8
            ).for_method(part.method)
        return self._bands[key]


ModelSource = IdentificationModel | Mapping[str, IdentificationModel] | Callable[[str], Any]


def _resolver(model: ModelSource) -> Callable[[str], IdentificationModel]:
    if isinstance(model, IdentificationModel):
        return lambda method: model
    if isinstance(model, Mapping):

        def pick(method: str) -> IdentificationModel:
            if method not in model:
                raise InputError(f"no {method} model given; pass one for {method} spectra")
            return model[method]

        return pick
    if callable(model):
        return model
    raise InputError(f"model must be an IdentificationModel, got {type(model).__name__}")


def identify_batch(
    measurements: Iterable[Measurement | Spectrum],
    model: ModelSource,
    *,
    db: Any = None,
    top: int = 5,
    confidence: float = 0.9,
    explain: bool = False,
    cache: IdentifyCache | None = None,
    min_coverage: float = MIN_COVERAGE,
    warn_coverage: float = WARN_COVERAGE,
) -> list[Identification]:
    """Identify every measurement; one preprocessing pass and one model call per method.

    Parameters
    ----------
    measurements : iterable of Measurement or Spectrum
        A bare spectrum is its own one-method measurement.
    model : IdentificationModel, mapping of method to one, or callable ``method -> bundle``
        The registry's ``lambda m: registry.load(spec, method=m)[0]`` fits the last form.
    db : MinDB, optional
        For facts shown with each candidate and the explanation's reference bands.
    top : int, default=5
        Candidates per answer.
    confidence : float, default=0.9
        Level of the conformal prediction sets.
    explain : bool, default=False
        Add the explanation (attribution regions, peak table) and keep the per-point
        attribution on the result.
    cache : IdentifyCache, optional
        Facts and bands reused across calls (default: a new one over ``db``).
    min_coverage, warn_coverage : float
        Below ``min_coverage`` of the model's range covered the answer is "unknown"; below
        ``warn_coverage`` it carries a warning.

    Returns
    -------
    list of Identification
        One per measurement, in order.

    Raises
    ------
    InputError
        Bad arguments, or no model for a method present (a bad spectrum never raises: its
        answer is refused with the reason).
    """
    if top < 1:
        raise InputError(f"top must be at least 1, got {top}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    items = [m if isinstance(m, Measurement) else Measurement.of(m) for m in measurements]
    resolve = _resolver(model)
    cache = cache or IdentifyCache(db)
    by_method: dict[str, list[int]] = {}
    for i, m in enumerate(items):
        for method in m.methods:
            by_method.setdefault(method, []).append(i)
    answers: list[dict[str, Identification]] = [{} for _ in items]
    bundles: dict[str, IdentificationModel] = {}
    evidence_only: dict[int, str] = {}
    for method, rows in by_method.items():
        try:
            bundle = bundles[method] = resolve(method)
            part = bundle.part(method)
        except InputError as exc:
            # a LIBS spectrum without a LIBS model still tells the elements (chemistry check)
            if method != "libs" or any(len(items[i]) == 1 for i in rows):
                raise
            for i in rows:
                evidence_only[i] = f"no libs model ({exc}); the LIBS spectrum is used as evidence"
            continue
        results = _identify_method(
            part,
            bundle.name,
            [items[i][method] for i in rows],
            [items[i].name for i in rows],
            [items[i].context.body for i in rows],
            top=top,
            confidence=confidence,
            explain=explain,
            cache=cache,
            min_coverage=min_coverage,
            warn_coverage=warn_coverage,
        )
        for i, result in zip(rows, results, strict=True):
            answers[i][method] = result
    out = []
    for i, (m, answer) in enumerate(zip(items, answers, strict=True)):
        if len(answer) == 1:
            result = next(iter(answer.values()))
        else:
            result = fuse_methods(
                m.name,
                answer,
                m.context,
                top=top,
                cache=cache,
                fusion=_fusion_of([bundles[k] for k in answer], answer),
                confidence=confidence,
            )
        if i in evidence_only:
            result.warnings.append(evidence_only[i])
        result.sample_id = m.sample_id
        result.context = m.context.to_dict()
        evidence = _chemistry_evidence(m, result)
        if evidence is not None:
            check_candidates(result, evidence)
        out.append(result)
    return out


def _chemistry_evidence(measurement: Measurement, result: Identification) -> Any:
    """What LIBS (a LIBS spectrum of the measurement) or the user (measured chemistry, detected
    elements in the context) says about the sample's elements; None when nothing does."""
    from lithoscope.physics.consistency import ChemistryEvidence

    if "libs" in measurement:
        from lithoscope.physics.libs import detect_elements

        try:
            return ChemistryEvidence.from_detection(detect_elements(measurement["libs"]))
        except LithoscopeError as exc:  # bad spectrum, or no atomic data (no mirror offline)
            result.warnings.append(f"no element detection from the LIBS spectrum: {exc}")
    return ChemistryEvidence.from_context(measurement.context)


def check_candidates(result: Identification, evidence: Any) -> None:
    """Check every candidate's formula against the chemistry ``evidence`` and re-rank.

    Each candidate gets ``"consistency": {"score", "contradictions"}``; the candidates'
    probabilities are re-weighted by `lithoscope.physics.consistency.rerank` (their total mass
    kept) and re-sorted, and a warning names the best candidate's contradictions.
    """
    from lithoscope.physics.consistency import consistency_batch, rerank

    candidates = result.candidates
    if not candidates:
        return
    checks = consistency_batch([c.get("formula") for c in candidates], evidence)
    scored = [(c, k) for c, k in zip(candidates, checks, strict=True) if k is not None]
    for c, k in scored:
        c["consistency"] = k.to_dict()
    if not scored:
        result.warnings.append("no candidate formula to check against the chemistry (no MinDB)")
        return
    proba = np.array([c["probability"] for c, _ in scored])
    weighted = rerank(proba[None, :], [k.score for _, k in scored])[0] * proba.sum()
    for (c, _), p in zip(scored, weighted, strict=True):
        c["probability"] = float(p)
    candidates.sort(key=lambda c: -c["probability"])
    best = candidates[0].get("consistency")
    if best and best["contradictions"]:
        result.warnings.append(
            f"{candidates[0]['mineral']} contradicts the chemistry: "
            + "; ".join(best["contradictions"])
        )


def _identify_method(
    part: MethodModel,
    model_name: str,
    spectra: Sequence[Spectrum],
    names: Sequence[str],
    bodies: Sequence[str | None],
    *,
    top: int,
    confidence: float,
    explain: bool,
    cache: IdentifyCache,
    min_coverage: float,
    warn_coverage: float,
) -> list[Identification]:
    grid = part.grid
    X, coverage = part.preprocess(spectra)
    refused = _refusals(spectra, X, coverage, grid)
    ok = np.flatnonzero([r is None for r in refused])
    results = [
        Identification(
            input=name,
            method=part.method,
            model=model_name,
            coverage=round(float(c), 4),
            refused=reason,
            spectrum=s,
        )
        for name, c, reason, s in zip(names, coverage, refused, spectra, strict=True)
    ]
    for i in np.flatnonzero([r is not None for r in refused]):
        results[i].warnings.append(f"not identified: {refused[i]}")
    if ok.size == 0:
        return results
    estimator = part.estimator
    Xok = X[ok]
    proba, scores = estimator.predict_scores(Xok)
    classes = estimator.classes_
    sets = unknown = unknown_score = None
    if part.conformal is not None:
        sets = part.conformal.predict_sets(proba, confidence=confidence)
    ok_bodies = [bodies[i] for i in ok]
    prior = _apply_context(part, proba, sets, ok_bodies, confidence, results, ok)
    if prior is not None:
        proba, sets = prior.proba, prior.sets
    k = min(top, proba.shape[1])
    order = top_k(proba, k)
    if part.unknown is not None:
        unknown_score = part.unknown.unknown_score(proba, scores)
        unknown = unknown_score > part.unknown.threshold_
    missing = part.missing_calibration()
    unit = _unit(spectra[0])
    cache.prefetch(str(c) for c in classes[np.unique(order)])
    base = proba if prior is None else prior.base
    for row, i in enumerate(ok):
        r = results[i]
        r.x, r.grid = Xok[row], grid
        r.proba, r.classes, r.prior = base[row], classes, part.context
        r.candidates = [
            {
                "mineral": str(classes[j]),
                "probability": float(proba[row, j]),
                "score": float(scores[row, j]),
                **cache.facts(str(classes[j])),
            }
            for j in order[row]
        ]
        if prior is not None:
            prior.annotate(row, order[row], r.candidates)
        if sets is not None:
            r.prediction_set = [str(classes[j]) for j in sets[row]]
            r.confidence_level = confidence
        if part.groups:
            row_set = None if sets is None else sets[row]
            r.group = _group_answer(part, proba[row], order[row][0], row_set)
        if unknown is not None:
            r.unknown = bool(unknown[row])
            r.unknown_score = float(unknown_score[row])
        if missing:
            r.warnings.append(missing)
        c = coverage[i]
        if c < warn_coverage:
            span = f"{grid[0]:g}-{grid[-1]:g} {unit}"
            if c < min_coverage:
                r.unknown = True
                r.warnings.append(
                    f"the spectrum covers only {c:.0%} of the model's range ({span}); called "
                    "unknown, the candidates are only the closest matches"
                )
            else:
                r.warnings.append(f"the spectrum covers {c:.0%} of the model's range ({span})")
    if part.composition is not None:
        _add_composition(part, Xok, [results[i] for i in ok])
    if explain:
        from lithoscope.explain import explain_batch

        explanations = explain_batch(
            estimator,
            Xok,
            grid,
            [[c["mineral"] for c in results[i].candidates[:3]] for i in ok],
            cache.bands_for(part),
            include_attribution=True,
        )
        for i, expl in zip(ok, explanations, strict=True):
            results[i].attribution = expl.pop("attribution")
            results[i].explanation = expl
    return results


@dataclass
class _Prior:
    """Context-weighted probabilities and sets of a batch, and the marks on candidates."""

    proba: np.ndarray
    sets: list[np.ndarray] | None
    base: np.ndarray
    rows_body: list[str | None]
    context: Any

    def annotate(self, row: int, order: np.ndarray, candidates: list[dict[str, Any]]) -> None:
        body = self.rows_body[row]
        if body is None:
            return
        from lithoscope.uncertainty.context import BODY_NAMES

        reported = self.context.reported(body)
        for j, c in zip(order, candidates, strict=True):
            c["probability_without_context"] = float(self.base[row, j])
            c["reported_on_body"] = bool(reported[j])
            if not reported[j]:
                c["note"] = f"not reported on {BODY_NAMES.get(body, body)}"


def _apply_context(
    part: MethodModel,
    proba: np.ndarray,
    sets: list[np.ndarray] | None,
    bodies: Sequence[str | None],
    confidence: float,
    results: list[Identification],
    ok: np.ndarray,
) -> _Prior | None:
    """Re-weight rows whose measurement names a body by the model's `ContextPrior`."""
    wanted = sorted({b for b in bodies if b is not None})
    if not wanted:
        return None
    context = part.context
    usable = set(context.bodies) if context is not None else set()
    out = proba.copy()
    new_sets = list(sets) if sets is not None else None
    rows_body: list[str | None] = [None] * len(bodies)
    for body in wanted:
        rows = np.flatnonzero([b == body for b in bodies])
        if body not in usable:
            why = (
                "this model has no context prior (retrain it with MinDB occurrences)"
                if context is None
                else f"this model has no prior for {body} (it has: {', '.join(sorted(usable))})"
            )
            for i in ok[rows]:
                results[i].warnings.append(f"context {body!r} not used: {why}")
            continue
        out[rows] = context.posterior(proba[rows], body)
        for r in rows:
            rows_body[r] = body
        cp = context.conformal(body)
        if new_sets is not None and cp is not None:
            for r, s in zip(rows, cp.predict_sets(out[rows], confidence=confidence), strict=True):
                new_sets[r] = s
        elif new_sets is not None:
            for i in ok[rows]:
                results[i].warnings.append(
                    f"too few calibration spectra of minerals reported on {body}: the prediction "
                    "set is calibrated without context"
                )
    if all(b is None for b in rows_body):
        return None
    return _Prior(out, new_sets, proba, rows_body, context)


def _group_answer(
    part: MethodModel, proba: np.ndarray, best: int, prediction_set: np.ndarray | None
) -> dict[str, Any] | None:
    """The best candidate's group, its summed probability and ranked species, and the level."""
    index, names = part.group_index
    g = index[best]
    if g < 0:
        return None
    members = np.flatnonzero(index == g)
    ranked = members[np.argsort(-proba[members], kind="stable")]
    probability = float(proba[members].sum())
    if prediction_set is not None:
        in_group = index[np.asarray(prediction_set)] == g
        level = "group" if len(prediction_set) >= 2 and bool(np.all(in_group)) else "species"
    else:
        level = "group" if proba[best] < 0.5 and probability >= 0.9 else "species"
    classes = part.classes
    return {
        "name": names[g],
        "probability": probability,
        "species": [str(classes[j]) for j in ranked[:10] if proba[j] > 0.001 or j == best],
        "level": level,
    }


def fuse_methods(
    name: str,
    answers: Mapping[str, Identification],
    context: Any,
    *,
    top: int = 5,
    cache: IdentifyCache | None = None,
    fusion: Any = None,
    confidence: float = 0.9,
) -> Identification:
    """The fused answer of one measurement from its per-method answers (late fusion).

    The methods' probabilities (before any planetary prior) are multiplied over the union of
    their minerals (`lithoscope.models.fusion.late_fusion`; each raised to the per-method weight
    that ``fusion`` chose on its calibration samples, else equal); a planetary context is
    applied once, to the fused posterior (each method's `ContextPrior` says which of its
    minerals are reported on the body; the strongest strength is used). The answer is
    "unknown" only when every method calls the spectrum unknown, unless ``fusion`` (a
    `FusionCalibration` of a bundle whose methods were trained together) has an unknown
    detector of the fused answer. The
    prediction set comes from ``fusion`` too; separately trained models have none, and the
    answer says so.
    """
    from lithoscope.models.fusion import late_fusion

    usable = {m: r for m, r in answers.items() if r.proba is not None}
    refused = [m for m in answers if m not in usable]
    result = Identification(
        input=name,
        method="+".join(answers),
        model=", ".join(dict.fromkeys(r.model for r in answers.values())),
        by_method=dict(answers),
        methods=list(answers),
    )
    for m in refused:
        result.warnings.append(f"{m} not used: {answers[m].refused or 'no answer'}")
    if not usable:
        result.refused = "no method gave an answer (see by_method)"
        return result
    fused_classes = fusion.classes if fusion is not None else None
    classes, proba = late_fusion(
        {m: (r.classes, r.proba[None, :]) for m, r in usable.items()},
        classes=fused_classes,
        weights=fusion.weights if fusion is not None else None,
    )
    proba = fused_raw = proba[0]
    if fusion is not None and body_of(context) is None:
        result.prediction_set = [
            str(classes[j]) for j in fusion.conformal.predict_sets(proba[None, :], confidence)[0]
        ]
        result.confidence_level = confidence
    body = body_of(context)
    reported = None
    if body is not None:
        proba, reported = _fused_context(proba, classes, body, usable, result)
    order = np.argsort(-proba, kind="stable")[:top]
    cache = cache or IdentifyCache(None)
    cache.prefetch(str(classes[j]) for j in order)
    result.candidates = [
        {
            "mineral": str(classes[j]),
            "probability": float(proba[j]),
            "by_method": {m: _method_probability(r, str(classes[j])) for m, r in usable.items()},
            **cache.facts(str(classes[j])),
        }
        for j in order
    ]
    if reported is not None:
        from lithoscope.uncertainty.context import BODY_NAMES

        for j, c in zip(order, result.candidates, strict=True):
            c["reported_on_body"] = bool(reported[j])
            if not reported[j]:
                c["note"] = f"not reported on {BODY_NAMES.get(body, body)}"
    verdicts = [r.unknown for r in usable.values() if r.unknown is not None]
    if fusion is not None and fusion.unknown is not None and fused_classes is not None:
        score = fusion.unknown.unknown_score(fused_raw[None, :], None)[0]
        result.unknown_score = float(score)
        result.unknown = bool(score > fusion.unknown.threshold_)
    elif verdicts:
        result.unknown = all(verdicts)
    result.proba, result.classes = proba, classes
    if result.prediction_set is None:
        why = (
            "these models were calibrated one method at a time; train them together "
            "(lithoscope train --method raman,ir) for fused sets"
            if fusion is None
            else "the fused sets are calibrated without planetary context"
        )
        result.warnings.append(f"no prediction set for the fused answer: {why}")
    return result


def body_of(context: Any) -> str | None:
    return getattr(context, "body", None)


def _fusion_of(bundles: list[IdentificationModel], answers: Mapping[str, Any]) -> Any:
    """The fusion calibration that covers these methods, if one bundle serves them all and its
    classes still hold every method's classes (``learn`` adds minerals one method at a time)."""
    first = bundles[0]
    if any(b is not first for b in bundles) or first.fusion is None:
        return None
    if not set(answers) <= set(first.fusion.methods):
        return None
    known = set(first.fusion.classes.tolist())
    if any(not set(first.part(m).classes.tolist()) <= known for m in answers):
        return None
    return first.fusion


def _method_probability(result: Identification, mineral: str) -> float | None:
    """``mineral``'s probability in one method's answer (None: that model does not know it)."""
    hit = np.flatnonzero(result.classes == mineral)
    return float(result.proba[hit[0]]) if hit.size else None


def _fused_context(
    proba: np.ndarray,
    classes: np.ndarray,
    body: str,
    answers: Mapping[str, Identification],
    result: Identification,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The fused probabilities under ``body``'s prior (once, not once per method), and which
    of ``classes`` are reported there (None when no model has a prior for ``body``)."""
    reported: set[str] = set()
    strengths = []
    for r in answers.values():
        if r.prior is not None and body in r.prior.bodies:
            reported.update(r.prior.classes_[r.prior.reported(body)].tolist())
            strengths.append(r.prior.strength_[body])
    if not strengths:
        result.warnings.append(f"context {body!r} not used: no model has a prior for it")
        return proba, None
    is_reported = np.isin(classes, list(reported))
    weighted = proba * np.where(is_reported, 1.0, np.exp(-max(strengths)))
    return weighted / weighted.sum(), is_reported


def _add_composition(part: MethodModel, X: np.ndarray, results: list[Identification]) -> None:
    """Composition of the rows answered as an olivine, pyroxene or plagioclase (one batch)."""
    from lithoscope.physics.composition import estimate_composition, family_of

    families = []
    for r in results:
        family = family_of(r.top)
        if family is None and r.group is not None and r.group["level"] == "group":
            family = family_of(r.group["name"])
        families.append(family)
    if not any(families):
        return
    answers = estimate_composition(X, part.grid, families, estimator=part.composition)
    for r, answer in zip(results, answers, strict=True):
        r.composition = answer


def _unit(spectrum: Spectrum) -> str:
    return spectrum.unit.value


def _refusals(
    spectra: Sequence[Spectrum], X: np.ndarray, coverage: np.ndarray, grid: np.ndarray
) -> list[str | None]:
    """Why each spectrum cannot be identified, or None (vectorised checks, then reasons)."""
    lo, hi = float(grid[0]), float(grid[-1])
    finite = np.all(np.isfinite(X), axis=1)
    signal = finite & (np.nanmax(np.where(np.isfinite(X), X, -np.inf), axis=1) > 0)
    out: list[str | None] = []
    for i, s in enumerate(spectra):
        inside = int(np.count_nonzero((s.axis >= lo) & (s.axis <= hi)))
        if coverage[i] <= 0 or inside == 0:
            out.append(
                f"it does not overlap the model's range ({lo:g}-{hi:g} {s.unit.value}; "
                f"measured {s.axis[0]:g}-{s.axis[-1]:g}); use a model of its range"
            )
        elif inside < MIN_POINTS:
            out.append(
                f"only {inside} measured point(s) fall in the model's range ({lo:g}-{hi:g}); "
                f"a spectrum needs at least {MIN_POINTS}"
            )
        elif np.ptp(s.intensities) == 0:
            out.append("its intensities are constant; there is no spectrum to identify")
        elif s.intensities.max() <= 0:
            out.append(
                "every intensity is zero or negative; check that the file's second column is "
                "the intensity (not inverted or log-scaled)"
            )
        elif not signal[i]:
            out.append(
                "no positive signal is left after preprocessing (all-negative or flat "
                "intensities); check the file's intensity column"
            )
        else:
            out.append(None)
    return out
