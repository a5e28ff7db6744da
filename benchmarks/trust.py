"""Trust and adaptation benchmark: conformal coverage, unknown minerals, few-shot, forgetting.

Usage:
    python benchmarks/trust.py [--mirror ../shared/data] [--models library,cnn] [--episodes 200]

Protocol (RRUFF Raman from a temporary MinDB filled from the mirror; one run, 2 CPU cores):
* 15 % of the minerals (seeded) are held out of everything: the "unknown"/novel minerals.
* The other minerals' spectra are split by RRUFF sample into train (64 %), calibration (16 %)
  and test (20 %); test keeps minerals seen in train.
* Conformal (APS, RAPS, Mondrian APS) is calibrated on calibration spectra of known minerals;
  coverage and mean set size are measured on test at 90 % and 95 %.
* The unknown detector's threshold is chosen on calibration (5 % false-unknown target);
  AUROC and detection rate use test spectra (known) against all spectra of novel minerals.
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
        from lithoscope.spectra.preprocessing import make_preset
        from lithoscope.uncertainty import (
            ConformalPredictor,
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
        X, y, g = ds.X, ds.y.astype(str), ds.groups.astype(str)
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
                ("APS", ConformalPredictor(method="aps")),
                ("RAPS", ConformalPredictor(method="raps")),
                ("APS Mondrian", ConformalPredictor(method="aps", mondrian=True)),
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
            console.print(table)
            top1_known = float(np.mean(model.classes_[p_test.argmax(1)] == y[test][k_test]))

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
            console.print(unk)

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
                    grown = _copy_with(model, chosen, sX, sy)
                    inc.append(np.mean(grown.predict(qX) == qy))
                fs.add_row(str(k_shot), f"{np.mean(accs):.3f}", f"{np.mean(inc):.3f}")
            console.print(fs)

            # forgetting after adding 10 novel minerals with up to 5 spectra each
            ten = [m for m in sorted(novel) if np.sum(y == m) >= 2][:10]
            add_X = np.vstack([X[np.flatnonzero(y == m)[:5]] for m in ten])
            add_y = np.concatenate([[m] * min(5, int(np.sum(y == m))) for m in ten])
            grown = _copy_with(model, ten, add_X, add_y)
            after = float(np.mean(grown.predict(X[test][k_test]) == y[test][k_test]))
            drop = 100 * (top1_known - after)
            console.print(
                f"[bold]{kind}[/bold] top-1 on known test spectra: {top1_known:.4f} before, "
                f"{after:.4f} after adding 10 minerals: forgetting {drop:.2f} points"
            )


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


def _copy_with(model, minerals, X, y):
    """A copy of ``model`` that also knows ``minerals`` (from their rows of X, y)."""
    import copy

    grown = copy.deepcopy(model)
    for m in minerals:
        grown.add_class(str(m), X[y == m])
    return grown


if __name__ == "__main__":
    main()
