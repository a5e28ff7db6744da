"""Estimators that identify minerals from preprocessed spectra.

* `base`: the contract every classifier shares (scikit-learn API, axis, top-k, persistence);
* `kinds`: the model kinds by name (`make_model`) and the class paths of older saved models;
* `scoring`: the shared maths (similarity features, class scores, softmax, temperature);
* `library`, `classical`: correlation library search and scikit-learn baselines;
* `keras`: the Keras 3 networks (layers, training, CNN, KAN), imported only when used.

Importing this package imports none of them.
"""
