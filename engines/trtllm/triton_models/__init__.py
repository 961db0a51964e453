"""Our Triton Python-backend models of the ``--engine`` ensemble, kept as real modules so ruff,
mypy and unit tests check them; ``prepare`` copies each file to ``<model>/1/model.py``.

They run inside the Triton TensorRT-LLM container, which provides ``triton_python_backend_utils``
(imported lazily, so this package imports anywhere), numpy and transformers.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def preprocessing_source() -> str:
    return (_HERE / "preprocessing.py").read_text(encoding="utf-8")


def postprocessing_source() -> str:
    return (_HERE / "postprocessing.py").read_text(encoding="utf-8")
