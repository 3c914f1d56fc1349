"""Ingestion: sources -> extract -> chunk -> sync."""
