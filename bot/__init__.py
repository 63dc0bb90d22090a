"""The application: settings, wiring, the CLI and (later) the platform-neutral services."""
