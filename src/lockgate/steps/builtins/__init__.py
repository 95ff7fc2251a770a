"""Builtin step implementations; each module defines ``Options`` and ``run``."""
