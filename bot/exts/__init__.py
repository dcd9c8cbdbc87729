"""The bot's cogs, one per area: questions, admin, and the error handler."""
