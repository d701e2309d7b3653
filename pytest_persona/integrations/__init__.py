"""Where pytest-persona meets other frameworks.

``pytest_persona.integrations.transformers.PersonaCallback`` watches the persona while a
``transformers.Trainer`` (or a TRL trainer, which subclasses it) fine-tunes a model. Nothing is
imported here, so ``import pytest_persona.integrations`` costs nothing without transformers.
"""
