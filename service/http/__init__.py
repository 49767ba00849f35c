"""The InfluxDB-compatible HTTP/1.1 JSON API (issue 13): the same use cases as
the gRPC servicers, under InfluxDB 2.x's paths, field names and error bodies.

app.py builds the ASGI app, shapes.py converts JSON <-> domain, errors.py maps
domain errors to HTTP statuses, openapi.py describes it all, serve.py runs it
under uvicorn."""
