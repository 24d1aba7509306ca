"""The run directory: where trainer, CLI and TUI meet."""
