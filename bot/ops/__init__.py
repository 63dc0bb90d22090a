"""What the operator sees of a running service: `/healthz`, Prometheus metrics, log lines
(secrets redacted), and the one way every HTTP face of the bot listens on a port."""
