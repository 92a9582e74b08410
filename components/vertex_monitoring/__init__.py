"""Vertex monitoring: sets up Vertex AI Model Monitoring for a deployed model."""
