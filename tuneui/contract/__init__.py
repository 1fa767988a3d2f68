"""The contract between tuneui's front ends and its engine: RunConfig (with the cleaning options), the
typed events of a run, the typed results the UI shows, and the facade (`Engine`) the front ends call.

It imports nothing else of tuneui and nothing heavy (no torch, transformers, numpy or textual): every
layer above reads it, and starting the UI costs only pydantic. The import-linter contracts in
pyproject.toml keep it that way.
"""
