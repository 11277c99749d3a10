"""Machine-readable schemas of the musclekit dataset format (package data)."""
