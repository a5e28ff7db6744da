"""Wrote this folder with lithoscope at commit 2fdd456 (before models/ was reorganised).

Kept as the record of how the files were made; it imports the old module paths, so it runs only
on that commit: ``python make.py OUT_DIR`` from ``tests/``.
"""

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[4]))


def main(out: Path) -> None:
    from lithoscope.models.cnn import CNNClassifier  # the old path
    from lithoscope.models.kan import KANClassifier  # the old path

    import conftest

    X, y, groups, axis = conftest.raman_small.__wrapped__(Path("/work/shared/data"))
    train, test = conftest.split_small.__wrapped__((X, y, groups, axis))
    minerals = np.unique(y)[:10]
    tr = train[np.isin(y[train], minerals)]
    te = test[np.isin(y[test], minerals)]
    out.mkdir(parents=True, exist_ok=True)
    tiny = {"epochs": 2, "batch_size": 16, "validation_size": 0.2}
    cnn = CNNClassifier(axis=axis, channels=(4, 8), embedding_dim=8, hybrid_weight=0.5, **tiny)
    cnn.fit(X[tr], y[tr], groups=groups[tr]).save(out / "cnn")
    kan = KANClassifier(axis=axis, n_components=4, hidden=(4,), grid_size=3, **tiny)
    kan.fit(X[tr], y[tr], groups=groups[tr]).save(out / "kan")
    np.savez(
        out / "expected.npz",
        test_index=te,
        cnn_proba=cnn.predict_proba(X[te]),
        kan_proba=kan.predict_proba(X[te]),
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
