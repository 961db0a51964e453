from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from engines.contract import DIALECTS
from engines.embedded.repository import write_repository


def test_repository_configs_parse_with_tritons_schema(tmp_path: Path) -> None:
    write_repository(tmp_path, None, "cpu", tmp_path / "cache")
    for dialect in DIALECTS.values():
        config = text_format.Parse(
            (tmp_path / dialect.model / "config.pbtxt").read_text(), mc.ModelConfig()
        )
        assert config.backend == "python"
        assert config.model_transaction_policy.decoupled
        assert config.max_batch_size == dialect.max_batch_size
        assert [(i.name, mc.DataType.Name(i.data_type)) for i in config.input] == [
            (t.name, "TYPE_STRING" if t.datatype == "BYTES" else f"TYPE_{t.datatype}")
            for t in dialect.inputs
        ]
        assert config.input[0].optional is False
        assert config.parameters["dialect"].string_value == dialect.name
        assert (tmp_path / dialect.model / "1" / "model.py").is_file()
