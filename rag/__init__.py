"""Retrieval and generation: the embedder, the Milvus index and the searches over it."""
