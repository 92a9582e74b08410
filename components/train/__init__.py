"""Train: fit a TensorFlow model on a dataset artifact and export it as a SavedModel."""
