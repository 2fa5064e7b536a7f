"""Stage 2: F-labels, the foundation models' embeddings of each task's label texts (:mod:`.stage`), and the
numeric box F-labels of referring expressions (:mod:`.box`). The text encoders are in :mod:`pipeline.models.text`.

``minilm_path()`` is here too: the folder of the bundled all-MiniLM-L6-v2 that the README's offline commands use.
"""
from pipeline.models.text import minilm_path

__all__ = ["minilm_path"]
