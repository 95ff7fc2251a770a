"""Bringing projects from other tools to lockgate unchanged (``lockgate init --from-dvc``).

Each module reads one tool's files and returns a conversion (the spec text, what
could not be carried over and why, the data to version); writing it is one
separate call. The team's scripts are never edited.
"""
