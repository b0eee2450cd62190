"""DevTrack: a local-first developer dashboard built around its integration system."""

__version__ = "0.1.0"
