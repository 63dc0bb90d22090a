"""What the service keeps between runs. The shared state lives in one database (`database`:
SQLite in the data dir, or the PostgreSQL replicas share): the reindex history, the question
log with its feedback and message links, the reindex lock's holder and schedule claims; the
ingest catalog's tables there are `ingest.manifest`'s. On each host: the lock files and the
`pending` questions. Imports `models`, `ingest.manifest`, `rag`'s owned lock and `bot.errors`,
nothing else of `bot`."""
