"""Ingest service: loaders -> chunks -> embeddings -> versioned FAISS + BM25 index, and search.

``ingest`` never imports ``chatbot``; the chatbot builds the config objects below from its
settings and calls :func:`ingest.pipeline.run_ingest` and :class:`ingest.search.Retriever`.
"""
