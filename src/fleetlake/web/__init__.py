"""The dashboard: static pages served by the API, live over SSE, no CDN."""
