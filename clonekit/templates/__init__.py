"""Chat templates (Jinja) shipped with clonekit, read with importlib.resources."""
