"""The landing page at `/`: what the exporter is and links to its paths, as Prometheus exporters show."""

from __future__ import annotations

import html
from dataclasses import dataclass

from exporter import __version__

HEALTHY_PATH = "/-/healthy"
READY_PATH = "/-/ready"
RELOAD_PATH = "/-/reload"


@dataclass(frozen=True)
class LandingInfo:
    """What the landing page at `/` shows."""

    name: str = "GitHub Insights Exporter"
    description: str = "Prometheus exporter for GitHub's statistics REST endpoints"
    version: str = __version__
    links: tuple[tuple[str, str], ...] = ()  # extra (text, href) pairs


def landing_html(info: LandingInfo, telemetry_path: str) -> str:
    """The page's HTML, with links relative so they work behind a proxy that adds a path prefix."""

    def link(href: str) -> str:
        return html.escape(href.lstrip("/") or "./", quote=True)

    links = [("Metrics", telemetry_path), ("Health", HEALTHY_PATH), ("Readiness", READY_PATH), *info.links]
    items = "\n".join(
        f'      <li><a href="{link(href)}">{html.escape(text)}</a></li>' for text, href in links
    )
    name, description, version = (html.escape(v) for v in (info.name, info.description, info.version))
    return f"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>{name}</title>
    <style>
      body {{ font-family: sans-serif; margin: 2em; max-width: 50em; }}
      header {{ border-bottom: 1px solid #ccc; }}
    </style>
  </head>
  <body>
    <header><h1>{name}</h1></header>
    <main>
      <p>{description}</p>
      <p>Version: {version}</p>
      <ul>
{items}
      </ul>
    </main>
  </body>
</html>
"""
