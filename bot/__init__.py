"""Byline's face: the cited answer, settings, the command line and the Discord bot."""
