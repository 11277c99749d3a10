"""The `musclekit` command line (typer). Each stage registers its commands from its own module."""
