"""tuneui: the headless fine-tuning engine behind the tuneui wizard.

This package must never import textual or screens; the UI lives in `screens/`.
"""

__version__ = "0.1.0"
