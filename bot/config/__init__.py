"""Configuration: one pydantic-settings object (`MENTOR_` variables, `.env`, `mentor.toml`),
built once at the edge (`cli`, `serve`) and passed down. Imports `models` and `bot.errors` only."""
