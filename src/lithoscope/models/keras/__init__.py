"""The Keras 3 networks: layers (`layers`), training and fast inference (`training`), the CNN
(`cnn`) and KAN (`kan`) classifiers.

Importing this package imports nothing; ``lithoscope.models.keras.cnn`` and friends import Keras.
"""
