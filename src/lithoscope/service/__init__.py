"""The HTTP service of ``lithoscope serve``: identification, MinDB and the web page.

``create_app(settings)`` builds the FastAPI app (`lithoscope.service.app`); the routes
(`lithoscope.service.routes`) parse requests, call one library function (`identify_batch`,
`identify_mixtures`, a `MinDB` query, `learn`) and render its result as the CLI's JSON.
Needs the ``service`` extra: ``pip install 'lithoscope[service]'``.
"""

from __future__ import annotations

from lithoscope.service.app import create_app

__all__ = ["create_app"]
