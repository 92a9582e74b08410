"""Alert: delivers a monitoring report to Cloud Logging, a webhook and Pub/Sub."""
