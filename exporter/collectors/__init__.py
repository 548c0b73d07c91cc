"""One module per endpoint family; this table is how the daemon finds them."""

from typing import Any

from exporter.collectors.api_insights import ApiInsightsCollector
from exporter.collectors.base import Collector, Target
from exporter.collectors.billing import BillingCollector
from exporter.collectors.billing_usage import BillingUsageCollector
from exporter.collectors.copilot import CopilotCollector
from exporter.collectors.copilot_seats import CopilotSeatsCollector
from exporter.collectors.copilot_usage import CopilotUsageCollector
from exporter.collectors.ghes_stats import GhesStatsCollector
from exporter.collectors.repo_traffic import RepoTrafficCollector
from exporter.collectors.server_statistics import ServerStatisticsCollector
from exporter.github.deployment import Deployment
from exporter.settings import Settings

COLLECTORS: dict[str, type[Collector[Any]]] = {
    collector.name: collector
    for collector in (
        ApiInsightsCollector,
        ServerStatisticsCollector,
        RepoTrafficCollector,
        BillingCollector,
        CopilotCollector,
        CopilotUsageCollector,
        BillingUsageCollector,
        GhesStatsCollector,
        CopilotSeatsCollector,
    )
}


def deployed_targets(collector: type[Collector], settings: Settings) -> list[Target]:
    """The collector's targets when `github.api_url` has its endpoints (its `deployments`), otherwise none."""
    here = Deployment.of(settings.github.api_url)
    return collector.targets(settings) if here in collector.deployments else []


__all__ = ["COLLECTORS", "Collector", "Target", "deployed_targets"]
