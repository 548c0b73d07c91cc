"""One module per endpoint family; the registry the daemon, flags, docs and tests read the collectors from.

A collector registers itself by being a concrete `Collector` subclass with a `name` in a module of this
package: nothing here names it (node_exporter's `registerCollector`, done by discovery).
"""

import importlib
import inspect
import pkgutil
from typing import Any

from exporter.collectors.base import Collector, Target
from exporter.github.deployment import Deployment
from exporter.settings import Settings


def _discover() -> dict[str, type[Collector[Any]]]:
    """Every collector class defined in a module of this package, by name (alphabetical, so stable)."""
    found: dict[str, type[Collector[Any]]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, Collector) and cls.__module__ == module.__name__ and not inspect.isabstract(cls)
                    and "name" in vars(cls)):
                assert cls.name not in found, f"two collectors named {cls.name}: {found[cls.name]} and {cls}"
                found[cls.name] = cls
    return dict(sorted(found.items()))


COLLECTORS: dict[str, type[Collector[Any]]] = _discover()


def deployed_targets(collector: type[Collector], settings: Settings) -> list[Target]:
    """The collector's targets when `github.api_url` has its endpoints (its `deployments`), otherwise none."""
    here = Deployment.of(settings.github.api_url)
    return collector.targets(settings) if here in collector.deployments else []


__all__ = ["COLLECTORS", "Collector", "Target", "deployed_targets"]
