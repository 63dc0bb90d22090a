"""Turning a course's files into indexed chunks: loaders, chunker, manifest, pipeline."""
