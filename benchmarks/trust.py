"""Trust and adaptation benchmark: conformal coverage, unknown minerals, few-shot, forgetting.

Usage:
    python benchmarks/trust.py [--mirror ../shared/data] [--models library,cnn] [--episodes 200]

Protocol (RRUFF Raman from a temporary MinDB filled from the mirror; one run, 2 CPU cores):
* 15 % of the minerals (seeded) are held out of everything: the "unknown"/novel minerals.
* The other minerals' spectra are split by RRUFF sample into train (64 %), calibration (16 %)
  and test (20 %); test keeps minerals seen in train.
* Conformal (LAC, the default; APS; RAPS; Mondrian LAC) is calibrated on calibration spectra of
  known minerals (whole samples never trained on); coverage and mean set size on test at 90 % and
  95 %, and the coverage per stratum (mineral group, laser).
* Planetary context: per body, on the test spectra of minerals reported there, top-1, coverage
  and set size without and with the `ContextPrior` (fitted on the calibration spectra).
* The unknown detector's threshold is chosen on calibration (5 % false-unknown target);
  AUROC and detection rate use test spectra (known) against all spectra of novel minerals.
* One-shot across lasers: each novel mineral with spectra at two or more lasers is learned from
  one spectrum (plus its instrument-model `reference_views`, as ``lithoscope learn`` does) and
  asked with its spectra at the other lasers, against all known minerals.
* Few-shot: N-way K-shot episodes among novel minerals with >= K+1 spectra from >= 2 samples
  (support and query from different samples where possible): a new library of the N minerals
  built from the K supports (embedding for the CNN), accuracy on the queries. Also
  "incremental": the N minerals added to the full model with `add_class`, queries answered
  against all ~1,500 minerals.
* Forgetting: top-1 on the known test spectra before and after adding 10 novel minerals.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--models", default="library")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--n-way", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    console = Console(width=200)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LITHOSCOPE_DATA_DIR"] = tmp
        from lithoscope.config import get_settings

        get_settings.cache_clear()
        from lithoscope.data.datasets import DatasetSpec, build_dataset, grouped_split
        from lithoscope.data.ingest import ingest
        from lithoscope.mindb import connect
        from lithoscope.models.kinds import make_model
        from lithoscope.physics.instrument import reference_views
        from lithoscope.spectra.preprocessing import make_preset
        from lithoscope.uncertainty import (
            ConformalPredictor,
            ContextPrior,
            UnknownDetector,
            auroc,
            coverage,
            labels_to_index,
            mean_set_size,
        )
        from lithoscope.uncertainty.calibration import unknown_score_for

        with connect() as db:
            db.build()
            ingest(db, "rruff-ima", mirror=args.mirror, progress=False)
            ingest(db, "rruff-raman", mirror=args.mirror, progress=False)
            pipe = make_preset("raman")
            ds = build_dataset(db, DatasetSpec.from_pipeline(pipe), pipeline=pipe)
            reported = db.species_reported()
            groups_of = db.species_groups(np.unique(ds.y.astype(str)).tolist())
        X, y, g = ds.X, ds.y.astype(str), ds.groups.astype(str)
        lasers = np.array([m.get("laser_nm") or 0 for m in ds.collection.metadata], dtype=float)
        rng = np.random.default_rng(0)
        minerals = np.unique(y)
        novel = set(rng.choice(minerals, size=int(0.15 * minerals.size), replace=False).tolist())
        is_novel = np.isin(y, list(novel))
        known_idx = np.flatnonzero(~is_novel)
        rest, test = grouped_split(y[known_idx], g[known_idx], test_size=0.2, random_state=0)
        rest, test = known_idx[rest], known_idx[test]
        train, cal = grouped_split(
            y[rest], g[rest], test_size=0.2, random_state=1, seen_classes_only=False
        )
        train, cal = rest[train], rest[cal]

        for kind in args.models.split(","):
            summary: dict[str, tuple] = {}
            model = make_model(kind, axis=ds.axis, method="raman")
            model.fit(X[train], y[train], groups=g[train])
            p_cal, s_cal = model.predict_proba(X[cal]), model.class_scores(X[cal])
            yi_cal, k_cal = labels_to_index(model.classes_, y[cal])
            yi_test, k_test = labels_to_index(model.classes_, y[test])
            p_test, s_test = (
                model.predict_proba(X[test][k_test]),
                model.class_scores(X[test][k_test]),
            )

            table = Table(title=f"Conformal prediction sets ({kind}, {k_test.sum()} test spectra)")
            for col in ("method", "confidence", "coverage", "mean set size", "singleton share"):
                table.add_column(col)
            for name, cp in (
                ("LAC (default)", ConformalPredictor(method="lac")),
                ("APS", ConformalPredictor(method="aps")),
                ("RAPS", ConformalPredictor(method="raps")),
                ("LAC Mondrian", ConformalPredictor(method="lac", mondrian=True)),
            ):
                cp.calibrate(p_cal[k_cal], yi_cal)
                for conf in (0.9, 0.95):
                    sets = cp.predict_sets(p_test, confidence=conf)
                    table.add_row(
                        name,
                        f"{conf:.2f}",
                        f"{coverage(sets, yi_test):.3f}",
                        f"{mean_set_size(sets):.2f}",
                        f"{np.mean([len(s) == 1 for s in sets]):.2f}",
                    )
                    summary[f"{name} {conf:.2f}"] = (coverage(sets, yi_test), mean_set_size(sets))
            console.print(table)
            top1_known = float(np.mean(model.classes_[p_test.argmax(1)] == y[test][k_test]))
            lac = ConformalPredictor(method="lac").calibrate(p_cal[k_cal], yi_cal)
            _strata(console, lac, p_test, yi_test, y[test][k_test], lasers[test][k_test], groups_of)

            # planetary context
            prior = ContextPrior().fit(p_cal[k_cal], yi_cal, model.classes_, reported)
            ctx = Table(
                title=f"Planetary context ({kind}): test spectra of minerals reported there"
            )
            for col in (
                "body",
                "n",
                "strength",
                "top-1 without / with",
                "90 % coverage without / with",
                "90 % set size without / with",
            ):
                ctx.add_column(col)
            for body in ("moon", "mars", "meteorite"):
                on = np.isin(y[test][k_test], reported[body])
                if on.sum() == 0:
                    continue
                P0, yb = p_test[on], yi_test[on]
                P1 = prior.posterior(P0, body)
                cp_b = prior.conformal(body) or lac
                s0 = lac.predict_sets(P0, confidence=0.9)
                s1 = cp_b.predict_sets(P1, confidence=0.9)
                t0, t1_ = np.mean(P0.argmax(1) == yb), np.mean(P1.argmax(1) == yb)
                ctx.add_row(
                    body,
                    str(int(on.sum())),
                    f"{prior.strength_[body]:g}",
                    f"{t0:.3f} / {t1_:.3f}",
                    f"{coverage(s0, yb):.3f} / {coverage(s1, yb):.3f}",
                    f"{mean_set_size(s0):.2f} / {mean_set_size(s1):.2f}",
                )
                summary[f"context {body}"] = (t0, t1_, mean_set_size(s0), mean_set_size(s1))
            console.print(ctx)

            det = UnknownDetector(score=unknown_score_for(model), false_unknown_rate=0.05)
            det.fit(p_cal[k_cal], s_cal[k_cal], yi_cal)
            nov = np.flatnonzero(is_novel)
            p_nov, s_nov = model.predict_proba(X[nov]), model.class_scores(X[nov])
            sk = det.unknown_score(p_test, s_test)
            su = det.unknown_score(p_nov, s_nov)
            unk = Table(
                title=f"Unknown minerals ({kind}; {len(novel)} minerals, {nov.size} spectra)"
            )
            for col in (
                "score",
                "AUROC",
                "false-unknown rate (known test)",
                "novel called unknown",
            ):
                unk.add_column(col)
            unk.add_row(
                det.score,
                f"{auroc(sk, su):.3f}",
                f"{np.mean(sk > det.threshold_):.3f}",
                f"{np.mean(su > det.threshold_):.3f}",
            )
            known_groups = {groups_of[c] for c in model.classes_ if c in groups_of}
            mate = np.array([groups_of.get(m) in known_groups for m in y[nov]])
            for label, rows in (
                ("  novel with a group-mate in the library", mate),
                ("  novel with none", ~mate),
            ):
                if rows.any():
                    unk.add_row(
                        f"{label} ({rows.sum()} spectra)",
                        f"{auroc(sk, su[rows]):.3f}",
                        "",
                        f"{np.mean(su[rows] > det.threshold_):.3f}",
                    )
            summary["unknown"] = (auroc(sk, su), float(np.mean(sk > det.threshold_)))
            console.print(unk)

            # one-shot across lasers, against all known minerals
            hits, hits_plain = [], []
            n_minerals = 0
            for m in sorted(novel):
                idx = np.flatnonzero(y == m)
                if np.unique(lasers[idx]).size < 2:
                    continue
                n_minerals += 1
                one, queries = idx[0], idx[lasers[idx] != lasers[idx[0]]]
                for views, out in ((32, hits), (0, hits_plain)):
                    grown = _copy_with(
                        model,
                        [m],
                        reference_views(X[[one]], ds.axis, n_views=views),
                        np.array([m] * (1 + views)),
                    )
                    out.extend(grown.predict(X[queries]) == m)
            console.print(
                f"[bold]{kind}[/bold] one-shot across lasers ({n_minerals} novel minerals, "
                f"{len(hits)} queries at another laser, against all minerals): top-1 "
                f"{np.mean(hits):.3f} with 32 instrument-model views, {np.mean(hits_plain):.3f} "
                "with the one spectrum alone"
            )
            summary["one-shot across lasers"] = (float(np.mean(hits)), float(np.mean(hits_plain)))

            # few-shot episodes among novel minerals
            fs = Table(title=f"Few-shot ({kind}): {args.n_way}-way, {args.episodes} episodes")
            for col in ("K", "episodic accuracy", "incremental top-1 (all minerals)"):
                fs.add_column(col)
            for k_shot in (1, 5):
                eligible = [m for m in novel if np.sum(y == m) >= k_shot + 1]
                if len(eligible) < args.n_way:
                    fs.add_row(
                        str(k_shot),
                        "n/a",
                        f"only {len(eligible)} minerals with >= {k_shot + 1} spectra",
                    )
                    continue
                accs, inc = [], []
                erng = np.random.default_rng(k_shot)
                for _ in range(args.episodes):
                    chosen = erng.choice(eligible, size=args.n_way, replace=False)
                    sup_X, sup_y, q_X, q_y = [], [], [], []
                    for m in chosen:
                        sup, qry = _support_query(np.flatnonzero(y == m), g, k_shot, erng)
                        sup_X.append(X[sup])
                        sup_y += [m] * sup.size
                        q_X.append(X[qry])
                        q_y += [m] * qry.size
                    sX, qX = np.vstack(sup_X), np.vstack(q_X)
                    sy, qy = np.array(sup_y), np.array(q_y)
                    if hasattr(model, "embed"):
                        # the trained encoder, matching queries to the supports' embeddings
                        Es, Eq = model.embed(sX), model.embed(qX)
                        best = sy[np.argmax(Eq @ Es.T, axis=1)]
                        accs.append(np.mean(best == qy))
                    else:
                        episode = make_model(kind, axis=ds.axis, method="raman").fit(sX, sy)
                        accs.append(np.mean(episode.predict(qX) == qy))
                    grown = _copy_with(model, chosen, sX, sy, views=ds.axis)
                    inc.append(np.mean(grown.predict(qX) == qy))
                fs.add_row(str(k_shot), f"{np.mean(accs):.3f}", f"{np.mean(inc):.3f}")
            console.print(fs)

            # forgetting after adding 10 novel minerals with up to 5 spectra each
            ten = [m for m in sorted(novel) if np.sum(y == m) >= 2][:10]
            add_X = np.vstack([X[np.flatnonzero(y == m)[:5]] for m in ten])
            add_y = np.concatenate([[m] * min(5, int(np.sum(y == m))) for m in ten])
            grown = _copy_with(model, ten, add_X, add_y, views=ds.axis)
            after = float(np.mean(grown.predict(X[test][k_test]) == y[test][k_test]))
            drop = 100 * (top1_known - after)
            console.print(
                f"[bold]{kind}[/bold] top-1 on known test spectra: {top1_known:.4f} before, "
                f"{after:.4f} after adding 10 minerals: forgetting {drop:.2f} points"
            )
            _summary(kind, summary, drop)


def _support_query(idx, groups, k, rng):
    """K supports and the queries of one mineral: queries from one sample, supports from the
    others where there are enough, else from the remaining spectra."""
    sample_ids = np.unique(groups[idx])
    q_group = rng.choice(sample_ids)
    in_q = groups[idx] == q_group
    pool = idx[~in_q] if (~in_q).sum() >= k else idx
    sup = rng.choice(pool, size=k, replace=False)
    qry = np.setdiff1d(idx[in_q], sup)
    if qry.size == 0:
        qry = np.setdiff1d(idx, sup)[:1]
    return sup, qry


def _copy_with(model, minerals, X, y, views=None):
    """A copy of ``model`` that also knows ``minerals`` (from their rows of X, y); with
    ``views`` (the axis) each mineral's spectra get 32 instrument-model variants, as ``learn``
    adds them."""
    import copy

    from lithoscope.physics.instrument import reference_views

    grown = copy.deepcopy(model)
    for m in minerals:
        rows = X[y == m]
        if views is not None:
            rows = reference_views(rows, views)
        grown.add_class(str(m), rows)
    return grown


def _summary(kind, s, drop):
    """The figures of the trust issue in one markdown table, beside their targets."""
    rows = [("measurement", "figure", "target")]
    for level, target in ((0.9, "0.88-0.92 / <= 2"), (0.95, "0.93-0.97")):
        cov, size = s[f"LAC (default) {level:.2f}"]
        rows.append(
            (f"LAC coverage / mean set size at {level:.0%}", f"{cov:.3f} / {size:.2f}", target)
        )
    for body in ("moon", "mars", "meteorite"):
        if f"context {body}" in s:
            t0, t1, z0, z1 = s[f"context {body}"]
            rows.append(
                (
                    f"{body}: top-1 / 90 % set size without -> with context",
                    f"{t0:.3f} / {z0:.2f} -> {t1:.3f} / {z1:.2f}",
                    "set <= 1.3 with context",
                )
            )
    a, fur = s["unknown"]
    rows.append(
        ("unknown-mineral AUROC / known called unknown", f"{a:.3f} / {fur:.1%}", ">= 0.95 / <= 5 %")
    )
    one, plain = s["one-shot across lasers"]
    rows.append(
        (
            "one-shot across lasers top-1 (views / one spectrum)",
            f"{one:.3f} / {plain:.3f}",
            ">= 0.80",
        )
    )
    rows.append(("forgetting after adding 10 minerals", f"{drop:.2f} points", "< 1 point"))
    print(f"\n{kind}:")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def _strata(console, cp, proba, y_index, names, lasers, groups_of):
    """Coverage of the 90 % sets per mineral group (the planetary ones) and per laser."""
    sets = cp.predict_sets(proba, confidence=0.9)
    hit = np.array([yi in s for yi, s in zip(y_index, sets, strict=True)])
    size = np.array([len(s) for s in sets])
    table = Table(title="Coverage of 90 % LAC sets by stratum (test spectra)")
    for col in ("stratum", "n", "coverage", "mean set size"):
        table.add_column(col)
    group = np.array([groups_of.get(n, "-") for n in names])
    for name in (
        "olivine",
        "garnet",
        "orthopyroxene",
        "high-ca pyroxene",
        "plagioclase",
        "tourmaline",
        "amphibole",
        "mica",
        "spinel group",
        "silica",
        "calcite group",
    ):
        rows = group == name
        if rows.sum() >= 3:
            table.add_row(
                f"group {name}",
                str(rows.sum()),
                f"{hit[rows].mean():.3f}",
                f"{size[rows].mean():.2f}",
            )
    rows = ~np.isin(group, ["-"])
    table.add_row(
        "any group", str(rows.sum()), f"{hit[rows].mean():.3f}", f"{size[rows].mean():.2f}"
    )
    table.add_row(
        "no group", str((~rows).sum()), f"{hit[~rows].mean():.3f}", f"{size[~rows].mean():.2f}"
    )
    for laser in np.unique(lasers):
        rows = lasers == laser
        table.add_row(
            f"laser {laser:g} nm",
            str(rows.sum()),
            f"{hit[rows].mean():.3f}",
            f"{size[rows].mean():.2f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
