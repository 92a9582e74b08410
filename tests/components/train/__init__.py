"""Tests of the train component."""
