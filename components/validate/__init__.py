"""validate: statistics, schema, anomalies and train/eval skew of a dataset (TFDV)."""
