"""Pipeline stages: each subpackage reads its input from disk and writes a musclekit dataset."""
