"""dropkey_lib: the small library behind the DropKey course notebooks."""

__version__ = "0.1.0"
