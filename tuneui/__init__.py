"""tuneui: the headless fine-tuning engine behind the tuneui wizard.

The engine never imports the UI (`tuneui.screens`, the Textual wizard) nor textual; the layers and
the contracts that keep them apart are in docs/architecture.md and pyproject.toml's import-linter
configuration.
"""

__version__ = "0.1.0"
