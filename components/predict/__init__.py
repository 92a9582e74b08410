"""Predict: score a batch with a registry version through its serving signature."""
