"""Tests of the evaluate component."""
