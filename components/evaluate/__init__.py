"""Evaluate: score a model on the test split, compare it with the champion, bless or not."""
