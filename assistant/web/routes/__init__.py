"""One module per group of routes; ``api.create_app`` includes their routers."""
