"""One module per endpoint family; this table is how the daemon finds them."""

from exporter.collectors.api_insights import ApiInsightsCollector
from exporter.collectors.base import Collector
from exporter.collectors.copilot import CopilotCollector
from exporter.collectors.copilot_usage import CopilotUsageCollector

COLLECTORS: dict[str, type[Collector]] = {
    collector.name: collector
    for collector in (ApiInsightsCollector, CopilotCollector, CopilotUsageCollector)
}

__all__ = ["COLLECTORS", "Collector"]
