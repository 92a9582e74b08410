"""Monitor: training-serving skew, drift and schema anomalies of serving data (TFDV)."""
