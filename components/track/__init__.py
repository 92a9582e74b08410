"""Track: records every training run, blessed or not, in MLflow and Vertex AI Experiments."""
