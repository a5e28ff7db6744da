"""Raman mixtures of 2-4 minerals: presence (multi-label) and abundances, NNLS vs network vs both.

Usage:
    python benchmarks/mixtures.py [--mirror ../shared/data] [--epochs 30] [--steps 100]
                                  [--n-test 600] [--quick]

Protocol (the test side is never used for fitting, thresholds or any choice):
  * RRUFF Raman from a temporary MinDB filled from the mirror, the grouped split of
    benchmarks/identification.py (`grouped_split`, 20 % of samples, seed 0);
  * minerals: the species of the rock-type assemblages (lithoscope/data/assemblages.csv) that
    have training spectra; test mixtures use only test-side spectra of minerals that also have
    training spectra;
  * mixtures: `make_mixtures` (2-4 minerals of one lunar, Martian or meteorite rock type,
    fractions >= 5 vol %, efficiency-weighted linear mixing, calibration warp, band ratios,
    background and noise), efficiencies from `physics.mixing.efficiencies_for`;
  * NNLS (`NNLSUnmixer`, all training references, Legendre background): per-mineral thresholds
    and the sd scale are calibrated on validation mixtures made of a grouped validation split of
    the training side (references without those samples), then the references are refitted on
    the whole training side; Lasso(positive=True) as the sparse variant;
  * network (`MultiLabelClassifier`): trained on mixtures of training-side spectra, thresholds
    on its own grouped validation split of the training side;
  * combined: presence where the mean of the two calibrated scores (each mapped so that its
    threshold sits at 0.5) exceeds 0.5; abundances by NNLS restricted to those minerals.
Reported: presence micro-F1, macro-F1 (minerals present in the test mixtures), subset accuracy;
abundance MAE in vol % over the minerals truly present; NNLS 95 % interval coverage; by number of
components. A last table re-draws the test mixtures with efficiencies perturbed (log-normal,
sd 0.4 in ln) while the models keep the table's values: what wrong efficiencies cost.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parents[1]


def metrics(Y: np.ndarray, P: np.ndarray, A: np.ndarray, Ahat: np.ndarray | None) -> dict:
    present = Y.sum(axis=0) > 0
    out = {
        "micro": float(f1_score(Y, P, average="micro", zero_division=0)),
        "macro": float(f1_score(Y[:, present], P[:, present], average="macro", zero_division=0)),
        "subset": float(np.mean(np.all(Y == P, axis=1))),
        "mae": np.nan,
    }
    if Ahat is not None:
        out["mae"] = float(100 * np.abs(Ahat - A)[Y == 1].mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100, help="batches per epoch")
    parser.add_argument("--n-test", type=int, default=600, help="test mixtures")
    parser.add_argument("--n-val", type=int, default=400, help="NNLS validation mixtures")
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--no-lasso", action="store_true")
    parser.add_argument("--quick", action="store_true", help="4 epochs x 30 steps, 200 mixtures")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.steps, args.n_test, args.n_val = 4, 30, 200, 150
    warnings.simplefilter("ignore")
    console = Console(width=160)
    command = " ".join(["python", "benchmarks/mixtures.py", *sys.argv[1:]])
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        from lithoscope.data.datasets import DatasetSpec, build_dataset, grouped_split
        from lithoscope.data.ingest import ingest
        from lithoscope.data.mixtures import assemblage_species, make_mixtures
        from lithoscope.mindb import connect
        from lithoscope.models.keras.multilabel import MultiLabelClassifier
        from lithoscope.models.keras.training import grouped_validation_split
        from lithoscope.models.mixture import combined_scores
        from lithoscope.models.unmixing import NNLSUnmixer
        from lithoscope.physics.mixing import efficiencies_for
        from lithoscope.pipeline.mixture import fit_mixture_model
        from lithoscope.spectra.preprocessing import make_preset

        with connect() as db:
            db.build()
            ingest(db, "rruff-ima", mirror=args.mirror, progress=False)
            ingest(db, "rruff-raman", mirror=args.mirror, progress=False)
            pipe = make_preset("raman")
            ds = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
            y = ds.y.astype(str)
            species_groups = db.species_groups(sorted(set(y.tolist())))
        X, groups, axis = ds.X, np.asarray(ds.groups).astype(str), np.asarray(ds.axis)

    train, test = grouped_split(y, groups, test_size=0.2, random_state=0)
    wanted = set(assemblage_species())
    train = train[np.isin(y[train], sorted(wanted))]
    classes = np.array(sorted(set(y[train].tolist())))
    eff_values, status = efficiencies_for(classes.tolist(), species_groups)
    efficiencies = dict(zip(classes.tolist(), eff_values.tolist(), strict=True))
    test_pure = {m: X[test][y[test] == m] for m in classes.tolist() if np.any(y[test] == m)}
    console.print(
        f"{classes.size} minerals with training spectra ({train.size} spectra); "
        f"{len(test_pure)} of them have test-side spectra: {', '.join(sorted(test_pure))}"
    )
    rng_test = np.random.default_rng(12345)
    test_mix = make_mixtures(
        test_pure, n=args.n_test, rng=rng_test, classes=classes, x=axis, efficiencies=efficiencies
    )

    # ---------------------------------------------------------------- NNLS, validation
    y_index = np.searchsorted(classes, y[train])
    fit_part, val_part = grouped_validation_split(
        y_index, groups[train], 0.2, np.random.default_rng(0)
    )
    val_pure = {
        m: X[train][val_part][y[train][val_part] == m]
        for m in classes.tolist()
        if np.any(y[train][val_part] == m)
    }
    val_mix = make_mixtures(
        val_pure,
        n=args.n_val,
        rng=np.random.default_rng(777),
        classes=classes,
        x=axis,
        efficiencies=efficiencies,
    )
    results: dict[str, dict] = {}
    timings: dict[str, float] = {}
    predictions: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    coverage = {}
    for name, method in (("NNLS", "nnls"), ("Lasso(positive)", "lasso")):
        if method == "lasso" and args.no_lasso:
            continue
        t0 = time.perf_counter()
        params = {
            "axis": axis,
            "method": method,
            "alpha": 1e-4,
            "efficiencies": efficiencies,
            "n_bootstrap": args.bootstrap if method == "nnls" else 0,
        }
        # every class keeps its references: the validation spectra are held out only for
        # classes that have other training samples (grouped_validation_split)
        probe = NNLSUnmixer(**params).fit(X[train][fit_part], y[train][fit_part])
        if probe.classes_.size != classes.size:
            raise SystemExit("validation split removed a class; use another seed")
        probe.calibrate(val_mix.X, val_mix.Y, val_mix.A if method == "nnls" else None)
        unmixer = NNLSUnmixer(**params).fit(X[train], y[train])
        unmixer.thresholds_ = probe.thresholds_.copy()
        unmixer.sd_scale_ = probe.sd_scale_
        if method == "nnls":
            A_hat, sd = unmixer.predict_abundances(test_mix.X)
            inside = np.abs(A_hat - test_mix.A)[test_mix.Y == 1] <= 1.96 * sd[test_mix.Y == 1]
            coverage[name] = float(inside.mean())
            nnls_model, A_nnls = unmixer, A_hat
        else:
            A_hat = unmixer.predict_abundances(test_mix.X, return_sd=False)
        P = (A_hat > unmixer.thresholds_[None, :]).astype(int)
        timings[name] = time.perf_counter() - t0
        predictions[name] = (P, A_hat)
        results[name] = metrics(test_mix.Y, P, test_mix.A, A_hat)
        console.print(f"{name}: {results[name]} in {timings[name]:.0f} s", highlight=False)

    # ---------------------------------------------------------------- network
    t0 = time.perf_counter()
    net = MultiLabelClassifier(
        axis=axis,
        efficiencies=efficiencies,
        epochs=args.epochs,
        steps_per_epoch=args.steps,
        random_state=0,
    ).fit(X[train], y[train], groups=groups[train])
    if not np.array_equal(net.classes_, classes):
        raise SystemExit("the network's classes differ from the references'")
    proba = net.predict_proba(test_mix.X)
    P = (proba > net.thresholds_[None, :]).astype(int)
    A_net = net.predict_abundances(test_mix.X)
    timings["network"] = time.perf_counter() - t0
    predictions["network"] = (P, A_net)
    results["network"] = metrics(test_mix.Y, P, test_mix.A, A_net)
    console.print(f"network: {results['network']} in {timings['network']:.0f} s")

    # ---------------------------------------------------------------- combined
    t0 = time.perf_counter()
    # the product's rule (lithoscope.models.mixture.combined_scores, MixtureModel.predict)
    P = (combined_scores(A_nnls, nnls_model.thresholds_, proba, net.thresholds_) > 0.5).astype(int)
    A_comb = nnls_model.predict_abundances(test_mix.X, return_sd=False, candidates=P)
    timings["combined"] = time.perf_counter() - t0
    predictions["combined"] = (P, A_comb)
    results["combined"] = metrics(test_mix.Y, P, test_mix.A, A_comb)
    P_only = predictions["network"][0]
    A_net_nnls = nnls_model.predict_abundances(test_mix.X, return_sd=False, candidates=P_only)
    results["network -> NNLS abundances"] = metrics(test_mix.Y, P_only, test_mix.A, A_net_nnls)
    predictions["network -> NNLS abundances"] = (P_only, A_net_nnls)

    # ------------------------------------------ the product's answer: probabilities and sets
    # what `train --mixture` builds (`fit_mixture_model`): references and network from the
    # training side without the validation samples, thresholds, presence probabilities, the
    # 90 % conformal set and the sd scale from mixtures of the validation samples; then the
    # served `MixtureModel.predict` on the test mixtures
    t0 = time.perf_counter()
    fit_idx, cal_idx = train[fit_part], train[val_part]
    served = fit_mixture_model(
        X,
        y,
        axis,
        fit_idx,
        cal_idx,
        groups=species_groups,
        sample_ids=groups,
        network_params={"epochs": args.epochs, "steps_per_epoch": args.steps},
    )
    pred = served.predict(test_mix.X)
    # the served classes are the minerals with references on its training side
    cols = np.searchsorted(served.classes, classes)
    known = (cols < served.classes.size) & (
        served.classes[np.minimum(cols, served.classes.size - 1)] == classes
    )
    truth = np.zeros((test_mix.Y.shape[0], served.classes.size), dtype=bool)
    true_a = np.zeros(truth.shape)
    truth[:, cols[known]] = test_mix.Y[:, known].astype(bool)
    true_a[:, cols[known]] = test_mix.A[:, known]
    lost = int(test_mix.Y[:, ~known].sum())
    covered = np.all(pred.possible | ~truth, axis=1)
    brier = float(np.mean((pred.presence - truth) ** 2))
    base = float(np.mean((truth.mean() - truth) ** 2))
    hit = truth & pred.present
    within = np.mean(np.abs(pred.abundance - true_a)[hit] <= pred.abundance_sd[hit])
    served_r = metrics(truth.astype(int), pred.present.astype(int), true_a, pred.abundance)
    honest = (
        f"served answer (train --mixture path, {time.perf_counter() - t0:.0f} s; "
        f"{lost} true minerals without training references outside its classes): micro-F1 "
        f"{served_r['micro']:.3f}, MAE {served_r['mae']:.1f} vol %; presence probability "
        f"Brier {brier:.3f} (constant {base:.3f}); 90 % conformal sets hold every present "
        f"mineral in {covered.mean():.3f} of the test mixtures, "
        f"{pred.possible.sum(axis=1).mean():.1f} minerals on average (truth "
        f"{truth.sum(axis=1).mean():.1f}); {within:.2f} of present minerals' true fractions "
        "within 1 sd"
    )
    console.print(honest)

    # ---------------------------------------------------------------- tables
    table = Table(
        title=f"Raman mixtures of 2-4 minerals ({args.n_test} test mixtures of test-side "
        f"RRUFF samples, {classes.size} candidate minerals)"
    )
    for col in ("method", "micro-F1", "macro-F1", "subset acc", "MAE vol %", "95 % cover", "s"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{r['micro']:.3f}",
            f"{r['macro']:.3f}",
            f"{r['subset']:.3f}",
            f"{r['mae']:.1f}",
            f"{coverage[name]:.2f}" if name in coverage else "",
            f"{timings.get(name, 0):.0f}",
        )
    console.print(table)

    by_k = Table(title="By number of minerals in the mixture (micro-F1 / subset acc / MAE vol %)")
    by_k.add_column("method")
    ks = sorted(set(test_mix.n_components.tolist()))
    for k in ks:
        by_k.add_column(f"{k} (n={int(np.sum(test_mix.n_components == k))})", justify="right")
    for name, (P, A_hat) in predictions.items():
        row = [name]
        for k in ks:
            sel = test_mix.n_components == k
            r = metrics(test_mix.Y[sel], P[sel], test_mix.A[sel], A_hat[sel])
            row.append(f"{r['micro']:.3f} / {r['subset']:.3f} / {r['mae']:.1f}")
        by_k.add_row(*row)
    console.print(by_k)

    # ---------------------------------------------------------------- wrong efficiencies
    rng = np.random.default_rng(99)
    perturbed = {m: v * float(np.exp(rng.normal(0.0, 0.4))) for m, v in efficiencies.items()}
    shifted = make_mixtures(
        test_pure,
        n=args.n_test,
        rng=np.random.default_rng(12345),
        classes=classes,
        x=axis,
        efficiencies=perturbed,
    )
    sens = Table(title="Test mixtures drawn with perturbed efficiencies (x exp(N(0, 0.4)))")
    for col in ("method", "micro-F1", "MAE vol %"):
        sens.add_column(col, justify="left" if col == "method" else "right")
    A_hat = nnls_model.predict_abundances(shifted.X, return_sd=False)
    r = metrics(shifted.Y, (A_hat > nnls_model.thresholds_).astype(int), shifted.A, A_hat)
    sens.add_row("NNLS", f"{r['micro']:.3f}", f"{r['mae']:.1f}")
    r = metrics(shifted.Y, net.predict(shifted.X), shifted.A, net.predict_abundances(shifted.X))
    sens.add_row("network", f"{r['micro']:.3f}", f"{r['mae']:.1f}")
    console.print(sens)

    eff_table = Table(title="Relative Raman efficiencies used (quartz 464 cm-1 = 1)")
    for col in ("mineral", "group", "efficiency", "status"):
        eff_table.add_column(col)
    for m, v, s in zip(classes.tolist(), eff_values.tolist(), status, strict=True):
        eff_table.add_row(m, str(species_groups.get(m) or ""), f"{v:.2f}", s)
    console.print(eff_table)
    targets = results["combined"]
    console.print(
        f"targets: presence micro-F1 >= 0.90 (best: "
        f"{max(r['micro'] for r in results.values()):.3f}); abundance MAE <= 5 vol % (best: "
        f"{min(r['mae'] for r in results.values()):.1f}); combined {targets['micro']:.3f} / "
        f"{targets['mae']:.1f}"
    )
    console.print(honest)
    console.print(f"total {time.perf_counter() - start:.0f} s; reproduce with: {command}")


if __name__ == "__main__":
    main()
