"""opstui: a keyboard-driven terminal console for operating servers on AWS."""

__version__ = "0.1.0"
