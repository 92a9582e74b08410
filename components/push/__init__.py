"""Push: registers a blessed model, its schema and baseline statistics in the model registry."""
