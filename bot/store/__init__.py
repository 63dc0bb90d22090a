"""What the service keeps on disk between runs: the reindex history, the question log with
its feedback and message links, and the per-course reindex lock. SQLite files and lock
files in the data dir; imports `models`, `ingest`'s SQLite helper, `rag`'s owned lock and
`bot.errors`, nothing else of `bot`."""
