"""The application: what turns the core (`rag`, `ingest`) into a service students and instructors use.

At the top: `app` (wiring, built once from settings), `cli` (the `mentor` command),
`serve` (`mentor serve`, the long-running process) and `errors` (what a user can get
wrong). The rest is grouped by job:

- `config`: the settings, read once at the edge and passed down;
- `service`: the platform-neutral commands (ask, reindex, status), answering off the
  event loop, the worker pool, reindexing and its schedule, event dedupe, the seam that
  chat platforms plug into;
- `store`: what is kept between runs, in the state database (reindex history, the question
  log and feedback, the per-course reindex lock, schedule claims) and on each host (pending
  questions);
- `ops`: what the operator sees (health, metrics, logs) and the one way to listen on a port.

`bot` may import `models`, `rag` and `ingest`; only `adapters` imports `bot`. Inside,
`config` and `store` import nothing of `bot` but `errors`, so everything else may use them.
"""
