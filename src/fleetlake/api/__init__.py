"""The HTTP API: app factory, auth, error rendering, platform routers."""
