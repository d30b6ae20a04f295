"""DSepConv frame interpolation: core library, command line and desktop app."""

__version__ = "0.1.0"
