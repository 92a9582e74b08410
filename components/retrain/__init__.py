"""Retrain: starts the training pipeline when monitoring detected drift."""
