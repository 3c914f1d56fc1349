"""The Kilometro Rosso district assistant: grounded answers over the district's own content."""

__version__ = "0.1.0"
