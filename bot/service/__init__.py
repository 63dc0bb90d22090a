"""The platform-neutral service: the commands every chat adapter calls (ask, reindex,
status), answering off the event loop on one bounded worker pool, the reindex service and
its cron schedule, event dedupe, and the `ChatPlatform` seam. Adapters reach the core
only through here (and `app` for its wiring)."""
