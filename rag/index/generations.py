"""A course's index as generations behind an alias: create one, switch searches to it in
one step, drop the ones it replaced."""

from __future__ import annotations

from rag.index.connection import MilvusConnection, milvus_errors
from rag.index.names import collection_name
from rag.index.writes import MAX_VARCHAR


class Generations(MilvusConnection):
    @milvus_errors
    def ensure_collection(self, name: str, dimension: int) -> None:
        """Create a generation's collection if it is missing, and make sure it is loaded."""
        if name not in self.client.list_collections():
            self._create(name, dimension)
        self._load(name)

    @milvus_errors
    def live_generation(self, course: str) -> str | None:
        """The collection the course's alias points at (searches read it); None before the first ingest.

        An index from before aliases (a plain collection under the alias's name) counts as live.
        """
        alias = collection_name(course)
        collections = self.client.list_collections()
        if self.is_lite2:
            pointed = self._pointers.get(alias)
            if pointed in collections:
                return pointed
        for name in collections:
            if not self.is_lite2 and name.startswith(alias + "__") and alias in self.client.list_aliases(name).get("aliases", []):
                return name
        return alias if alias in collections else None

    @milvus_errors
    def publish(self, course: str, generation: str) -> None:
        """Point the course's alias at `generation` in one step, then drop the generations it replaced.

        Searches switch from the old collection to the new one between two requests;
        none of them sees an empty or half-built index.
        """
        alias = collection_name(course)
        collections = self.client.list_collections()
        live = self.live_generation(course)
        if live == alias:
            # The pre-alias layout: its collection holds the alias's name, so it must go
            # first. The only moment without an index, once, at the upgrade.
            self.client.drop_collection(alias)
            self._collection_fields.pop(alias, None)
            live = None
        if self.is_lite2:
            self._pointers.set(alias, generation)
        elif live is None:
            self.client.create_alias(generation, alias)
        elif live != generation:
            self.client.alter_alias(generation, alias)
        for name in collections:
            if name.startswith(alias + "__") and name != generation:
                self.client.drop_collection(name)
                self._collection_fields.pop(name, None)

    @milvus_errors
    def drop_course(self, course: str) -> None:
        """Remove the course's alias and every generation of its index."""
        alias = collection_name(course)
        live = self.live_generation(course)
        if self.is_lite2:
            self._pointers.set(alias, None)
        elif live is not None and live != alias:
            self.client.drop_alias(alias)
        for name in self.client.list_collections():
            if name == alias or name.startswith(alias + "__"):
                self.client.drop_collection(name)
                self._collection_fields.pop(name, None)

    def _create(self, name: str, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        with_bm25 = bool(self._server_has_bm25)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("source", DataType.VARCHAR, max_length=2048)
        schema.add_field("file_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("title", DataType.VARCHAR, max_length=2048)
        schema.add_field("headings", DataType.VARCHAR, max_length=4096)
        schema.add_field("locator", DataType.VARCHAR, max_length=1024)
        schema.add_field("url", DataType.VARCHAR, max_length=4096)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        # When the material is released (UTC epoch seconds): searches filter on it, so it appears on time without a reindex.
        schema.add_field("release_at", DataType.INT64)
        index_params = self.client.prepare_index_params()
        if self.is_lite2:
            # Milvus Lite 2.x refuses HNSW ("local mode only support FLAT IVF_FLAT AUTOINDEX").
            index_params.add_index("dense", index_type="AUTOINDEX", metric_type="COSINE")
        else:
            index_params.add_index("dense", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
        if with_bm25:
            # BM25 reads the heading path too: a section's heading often names the topic its body never repeats.
            schema.add_field(
                "search_text",
                DataType.VARCHAR,
                max_length=MAX_VARCHAR,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"},
            )
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["search_text"], output_field_names=["sparse"])
            )
            index_params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(name, schema=schema, index_params=index_params, consistency_level="Strong")
        self._collection_fields.pop(name, None)
