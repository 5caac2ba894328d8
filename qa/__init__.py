"""qa: retrieval question answering over Chinese documents, with cited passages."""

__version__ = "0.1.0"
