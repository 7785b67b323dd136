"""The vendor views. Each package has `create_app(core) -> Flask` and its own error format."""

from __future__ import annotations

from importlib import import_module

# vendor name -> (module, path prefix on the main port)
VENDOR_APPS = {
    "apsis": ("emulator.vendors.apsis", "/apsis"),
    "expertsender": ("emulator.vendors.expertsender", "/expertsender"),
    "netcore": ("emulator.vendors.netcore", "/netcore"),
}


def vendor_module(name: str):
    return import_module(VENDOR_APPS[name][0])
