"""github-insights-exporter: Prometheus metrics from GitHub's statistics REST endpoints."""

__version__ = "0.1.0"
