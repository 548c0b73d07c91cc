"""GitHub's pagination: `page`/`per_page` slicing and the Link header, for every paginated route.

Handlers return the whole list; the pipeline slices it here, so each family
gets GitHub's paging (30 by default, at most 100, 422 for a non-integer) for free.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request

from exporter.simulator.routing import GitHubError


def paginate(request: Request, items: list[Any]) -> tuple[list[Any], str | None]:
    """One page of `items` and the Link header GitHub would send with it."""
    query = request.query_params

    def number(name: str, default: int) -> int:
        text = query.get(name)
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise GitHubError(422, f"Invalid request.\n\nInvalid value for {name}: {text!r} is not an integer.") \
                from None

    per_page = min(max(number("per_page", 30), 1), 100)
    page = max(number("page", 1), 1)
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    if last == 1 and page == 1:
        return chunk, None
    pairs = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "page"]
    base = str(request.url.replace(query=""))

    def url(p: int) -> str:
        return f"<{base}?{urlencode([*pairs, ('page', str(p))], safe=':,')}>"

    links = []
    if page > 1:
        links.append(f'{url(min(page - 1, last))}; rel="prev"')
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links.append(f'{url(1)}; rel="first"')
    return chunk, ", ".join(links)
