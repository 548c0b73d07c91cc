"""The exporter's HTTP side, one concern per module.

`app` builds the Starlette app (landing page in `landing`), `middleware` puts
it behind the web config, `reload` applies a changed web config file,
`serve` runs it with uvicorn on sockets from `listen`, `thread` gives it a
loop of its own. `webconfig` reads exporter-toolkit's file and `guard` bounds
what a client can hold. Import from the modules; this package re-exports nothing.
"""
