"""The ``equipoise`` command: the only layer that knows every other layer."""
