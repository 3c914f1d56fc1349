"""Vector store: embeddings, Chroma store, hybrid search."""
