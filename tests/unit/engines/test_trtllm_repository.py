"""`engines.trtllm`: repositories for both layouts from a small Llama config (no weights),
read back with Triton's protobuf schema and compared with the embedded engine's signatures."""

from __future__ import annotations

import json
import os
import py_compile
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from engines.contract import ENSEMBLE, LLMAPI, Dialect
from engines.embedded.repository import model_config, write_repository
from engines.errors import PrepareError
from engines.lm import hf_folder
from engines.trtllm import PrepareSettings, describe, plan, prepare
from engines.trtllm.triton_models import postprocessing, preprocessing

REPO = Path(__file__).resolve().parents[3]
SMOLLM = REPO / ".chatbot" / "cache" / "lm"

LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "max_position_embeddings": 4096,
    "num_attention_heads": 32,
    "num_hidden_layers": 4,
    "torch_dtype": "bfloat16",
}


@pytest.fixture(scope="module")
def smollm() -> Path:
    from engines.lm import default_model_file

    return hf_folder(default_model_file(), SMOLLM)


@pytest.fixture
def checkpoint(tmp_path: Path, smollm: Path) -> Path:
    folder = tmp_path / "Llama-tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(smollm / name, folder / name)
    return folder


def settings(checkpoint: Path, **values: object) -> PrepareSettings:
    return PrepareSettings.model_validate(
        {"checkpoint_dir": checkpoint, "output_dir": checkpoint.parent / "repo", **values}
    )


def parse(path: Path) -> mc.ModelConfig:
    return text_format.Parse(path.read_text(), mc.ModelConfig())


def signature(config: mc.ModelConfig) -> tuple[list[tuple[str, int, list[int], bool]], ...]:
    inputs = [(t.name, t.data_type, list(t.dims), t.optional) for t in config.input]
    outputs = [(t.name, t.data_type, list(t.dims), False) for t in config.output]
    return inputs, outputs


def embedded(dialect: Dialect, tmp_path: Path) -> mc.ModelConfig:
    root = write_repository(tmp_path / "embedded", None, "cpu", tmp_path / "cache")
    written = parse(root / dialect.model / "config.pbtxt")
    assert written == model_config(
        dialect, {k: v.string_value for k, v in written.parameters.items() if k != "dialect"}
    )
    return written


def test_llmapi_repository_matches_the_embedded_engine(checkpoint: Path, tmp_path: Path) -> None:
    result = prepare(settings(checkpoint, tp_size=2, gpus=2, enable_kv_cache_reuse=False))
    root = result.plan.settings.output_dir
    assert result.written and not result.built and not result.plan.commands
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "README.md",
        "tensorrt_llm/1/model.yaml",
        "tensorrt_llm/config.pbtxt",
    ]
    config = parse(root / "tensorrt_llm" / "config.pbtxt")
    assert config.name == LLMAPI.model and config.backend == "python"
    assert config.max_batch_size == 0 and config.model_transaction_policy.decoupled
    assert signature(config) == signature(embedded(LLMAPI, tmp_path))
    assert config.input[0].name == "text_input" and not config.input[0].optional

    values = yaml.safe_load((root / "tensorrt_llm" / "1" / "model.yaml").read_text())
    assert values == {
        "model": str(checkpoint.resolve()),
        "backend": "pytorch",
        "tensor_parallel_size": 2,
        "pipeline_parallel_size": 1,
        "max_batch_size": 64,
        "max_seq_len": 4096,
        "max_num_tokens": 8192,
        "kv_cache_config": {"free_gpu_memory_fraction": 0.9, "enable_block_reuse": False},
        "triton_config": {"max_batch_size": 0, "decoupled": True},
    }
    readme = (root / "README.md").read_text()
    assert "triton_backend/all_models/llmapi/tensorrt_llm/1" in readme


def test_llmapi_fp8_quantizes_with_modelopt_and_serves_the_result(checkpoint: Path) -> None:
    p = plan(settings(checkpoint, quantization="fp8", served_output_dir=Path("/models")))
    (argv,) = p.commands
    assert argv[1].endswith("quantization/quantize.py")
    assert argv[argv.index("--qformat") + 1] == "fp8"
    assert "--export_format" in argv and argv[argv.index("--export_format") + 1] == "hf"
    values = yaml.safe_load(p.files["tensorrt_llm/1/model.yaml"])
    assert values["model"] == "/models/tensorrt_llm/1/checkpoint-fp8"
    assert "build.sh" in p.files


def test_engine_repository_matches_the_embedded_engine(checkpoint: Path, tmp_path: Path) -> None:
    result = prepare(settings(checkpoint, engine=True, max_batch_size=16, max_seq_len=2048))
    root = result.plan.settings.output_dir
    configs = {d.name: parse(d / "config.pbtxt") for d in root.iterdir() if d.is_dir()}
    assert set(configs) == {"ensemble", "preprocessing", "tensorrt_llm", "postprocessing"}
    for name in configs:
        assert (root / name / "1").is_dir()
        assert configs[name].max_batch_size == 16

    ens = configs["ensemble"]
    assert ens.platform == "ensemble"
    assert signature(ens) == signature(embedded(ENSEMBLE, tmp_path))
    assert ens.max_batch_size > 0

    engine = configs["tensorrt_llm"]
    params = {k: v.string_value for k, v in engine.parameters.items()}
    assert engine.backend == "tensorrtllm" and engine.model_transaction_policy.decoupled
    assert params["gpt_model_type"] == "inflight_fused_batching"
    assert params["gpt_model_path"] == str(root / "tensorrt_llm" / "1")
    assert params["kv_cache_free_gpu_mem_fraction"] == "0.9"
    assert params["enable_kv_cache_reuse"] == "true"
    assert params["exclude_input_in_output"] == "true"
    pre_params = {k: v.string_value for k, v in configs["preprocessing"].parameters.items()}
    assert pre_params == {"tokenizer_dir": str(checkpoint.resolve()), "max_input_len": "1024"}

    # Every step names an existing model and existing tensors; every intermediate tensor is
    # produced before it is consumed; the ensemble's outputs are produced by some step.
    available = {t.name for t in ens.input}
    for step in ens.ensemble_scheduling.step:
        model = configs[step.model_name]
        assert set(step.input_map) <= {t.name for t in model.input}
        assert set(step.input_map.values()) <= available
        required = {t.name for t in model.input if not t.optional}
        assert required <= set(step.input_map)
        assert set(step.output_map) <= {t.name for t in model.output}
        available |= set(step.output_map.values())
    assert {t.name for t in ens.output} <= available
    for step in ens.ensemble_scheduling.step:  # mapped tensors agree on dtype
        model = configs[step.model_name]
        for inner, outer in step.input_map.items():
            ens_in = {t.name: t for t in ens.input}
            if outer in ens_in:
                assert ens_in[outer].data_type == {t.name: t for t in model.input}[inner].data_type

    for name in ("preprocessing", "postprocessing"):
        py_compile.compile(str(root / name / "1" / "model.py"), doraise=True)

    build = result.plan.commands
    convert, trtllm_build = build
    assert convert[1].endswith("models/core/llama/convert_checkpoint.py")
    assert trtllm_build[0] == "trtllm-build"
    flags = dict(zip(trtllm_build[1::2], trtllm_build[2::2], strict=True))
    assert flags["--output_dir"] == str(root / "tensorrt_llm" / "1")
    assert flags["--checkpoint_dir"] == convert[convert.index("--output_dir") + 1]
    assert flags["--max_batch_size"] == "16" and flags["--max_seq_len"] == "2048"
    assert flags["--max_input_len"] == "1024" and flags["--kv_cache_type"] == "paged"
    assert flags["--use_paged_context_fmha"] == flags["--remove_input_padding"] == "enable"
    assert "--use_fp8_context_fmha" not in flags
    script = (root / "build.sh").read_text()
    assert " ".join(trtllm_build) in script
    assert os.access(root / "build.sh", os.X_OK)


def test_engine_fp8_uses_modelopt_and_fp8_context_fmha(checkpoint: Path) -> None:
    p = plan(settings(checkpoint, engine=True, quantization="fp8", tp_size=2))
    quantize, build = p.commands
    assert quantize[1].endswith("quantization/quantize.py") and "--export_format" not in quantize
    assert quantize[quantize.index("--tp_size") + 1] == "2"
    assert build[build.index("--use_fp8_context_fmha") + 1] == "enable"


def test_real_prepare_runs_the_steps_when_the_tools_exist(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stand-ins for convert_checkpoint.py and trtllm-build that record their argv and write
    what the real ones would: the steps run in the staging folder, the result is renamed."""
    examples = tmp_path / "examples"
    script = examples / "models" / "core" / "llama" / "convert_checkpoint.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "import sys, pathlib\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('--output_dir') + 1])\n"
        "out.mkdir(parents=True)\n(out / 'config.json').write_text('{}')\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    build = bin_dir / "trtllm-build"
    build.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\n"
        "a = sys.argv\nckpt = pathlib.Path(a[a.index('--checkpoint_dir') + 1])\n"
        "assert (ckpt / 'config.json').is_file()\n"
        "out = pathlib.Path(a[a.index('--output_dir') + 1])\n"
        "(out / 'rank0.engine').write_bytes(b'engine')\n"
    )
    build.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = prepare(settings(checkpoint, engine=True, examples_dir=examples))
    root = result.plan.settings.output_dir
    assert result.built
    assert (root / "tensorrt_llm" / "1" / "rank0.engine").read_bytes() == b"engine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Llama-tiny", "bin", "examples", "repo"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"checkpoint": "missing"}, "does not exist"),
        ({"config": None}, "no config.json"),
        ({"config": {**LLAMA, "architectures": ["BertModel"]}}, "unsupported architecture"),
        (
            {"config": {k: v for k, v in LLAMA.items() if k != "max_position_embeddings"}},
            "max_position_embeddings",
        ),
        ({"tokenizer": False}, "no tokenizer"),
        ({"tp_size": 4, "gpus": 2}, "needs 4 GPUs, but --gpus is 2"),
        ({"tp_size": 2, "pp_size": 2, "gpus": 3}, "needs 4 GPUs"),
        ({"tp_size": 3}, "does not divide"),
        ({"max_seq_len": 8192}, "above the model's max_position_embeddings 4096"),
        ({"engine": True, "max_seq_len": 1024, "max_input_len": 1024}, "leaves no room"),
        ({"engine": True, "max_input_len": 3000, "max_num_tokens": 2048}, "max_num_tokens"),
        ({"output": "checkpoint"}, "outside the checkpoint"),
        ({"output": "not-empty"}, "not empty (use --force"),
    ],
)
def test_bad_inputs_raise_and_write_nothing(
    checkpoint: Path, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    values = dict(change)
    folder = checkpoint
    if values.pop("checkpoint", None):
        folder = tmp_path / "nowhere"
    if "config" in values:
        config = values.pop("config")
        (checkpoint / "config.json").unlink()
        if config is not None:
            (checkpoint / "config.json").write_text(json.dumps(config))
    if values.pop("tokenizer", True) is False:
        (checkpoint / "tokenizer.json").unlink()
    output = tmp_path / "out" / "repo"
    where = values.pop("output", None)
    if where == "checkpoint":
        output = checkpoint / "repo"
    elif where == "not-empty":
        output.mkdir(parents=True)
        (output / "keep.txt").write_text("mine")
    before = sorted(p.as_posix() for p in tmp_path.rglob("*"))
    with pytest.raises(PrepareError, match=message.replace("(", r"\(")):
        prepare(
            PrepareSettings.model_validate(
                {"checkpoint_dir": folder, "output_dir": output, **values}
            )
        )
    assert sorted(p.as_posix() for p in tmp_path.rglob("*")) == before


def test_force_replaces_an_old_repository(checkpoint: Path) -> None:
    old = checkpoint.parent / "repo"
    old.mkdir()
    (old / "stale").mkdir()
    prepare(settings(checkpoint, force=True))
    assert not (old / "stale").exists() and (old / "tensorrt_llm" / "config.pbtxt").is_file()


def test_failing_step_leaves_nothing(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = tmp_path / "examples"
    script = examples / "models" / "core" / "llama" / "convert_checkpoint.py"
    script.parent.mkdir(parents=True)
    script.write_text("raise SystemExit(3)\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    (bin_dir / "trtllm-build").symlink_to(shutil.which("true") or "/bin/true")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(PrepareError, match="exit code 3"):
        prepare(settings(checkpoint, engine=True, examples_dir=examples))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Llama-tiny", "bin", "examples"]


def test_dry_run_writes_nothing_and_describes_everything(checkpoint: Path) -> None:
    result = prepare(settings(checkpoint, engine=True), dry_run=True)
    assert not result.written and not (checkpoint.parent / "repo").exists()
    text = describe(result.plan)
    for name in result.plan.files:
        assert name in text
    assert "trtllm-build --checkpoint_dir" in text and "written to build.sh" in text


def test_preprocessing_and_postprocessing_logic_with_a_real_tokenizer(smollm: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm)
    ids = preprocessing.prompt_ids(tokenizer, [b"Hello ", b"world"], 100)
    assert tokenizer.decode(ids) == "Hello world"
    with pytest.raises(ValueError, match=r"at most 1$"):
        preprocessing.prompt_ids(tokenizer, [b"Hello world"], 1)

    words = preprocessing.stop_words_list(tokenizer, [b"\n\n", b"User:"])
    first = tokenizer.encode("\n\n", add_special_tokens=False)
    second = tokenizer.encode("User:", add_special_tokens=False)
    assert words.shape == (2, len(first) + len(second)) and words.dtype == np.int32
    assert list(words[0]) == first + second
    assert list(words[1][:2]) == [len(first), len(first) + len(second)]
    assert all(v == -1 for v in words[1][2:])
    assert preprocessing.stop_words_list(tokenizer, []).tolist() == [[0], [-1]]
    end_id, pad_id = preprocessing.special_ids(tokenizer)
    assert end_id == tokenizer.eos_token_id
    assert pad_id == (tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_id)

    tokens = [[*ids, end_id, 0, 0]]
    assert postprocessing.detokenize(tokenizer, tokens, [len(ids) + 1]) == [b"Hello world"]


def test_preprocessing_execute_through_a_stand_in_triton_module(
    smollm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only ``triton_python_backend_utils`` is replaced (it exists inside Triton only)."""

    class Tensor:
        def __init__(self, name: str, array: object) -> None:
            self.name, self.array = name, np.asarray(array)

        def as_numpy(self) -> np.ndarray:
            return self.array

    class Response:
        def __init__(self, output_tensors: list[Tensor] | None = None, error: object = None):
            self.tensors = {t.name: t.array for t in output_tensors or []}
            self.error = error

    stub = types.SimpleNamespace(
        Tensor=Tensor,
        InferenceResponse=Response,
        TritonError=str,
        get_input_tensor_by_name=lambda request, name: request.get(name),
    )
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", stub)
    params = {
        "tokenizer_dir": {"string_value": str(smollm)},
        "max_input_len": {"string_value": "64"},
    }
    model = preprocessing.TritonPythonModel()
    model.initialize({"model_config": json.dumps({"parameters": params})})
    ok = {
        "QUERY": Tensor("QUERY", np.array([[b"Hi there"]], dtype=np.object_)),
        "REQUEST_OUTPUT_LEN": Tensor("REQUEST_OUTPUT_LEN", np.array([[7]], dtype=np.int32)),
    }
    too_long = {**ok, "QUERY": Tensor("QUERY", np.array([[b"word " * 200]], dtype=np.object_))}
    first, second = model.execute([ok, too_long])
    assert first.error is None and second.error is not None and "at most 64" in second.error
    n = int(first.tensors["REQUEST_INPUT_LEN"][0][0])
    assert first.tensors["INPUT_ID"].shape == (1, n)
    assert first.tensors["REQUEST_OUTPUT_LEN"].tolist() == [[7]]
    assert first.tensors["STOP_WORDS_IDS"].tolist() == [[[0], [-1]]]
    assert first.tensors["OUT_END_ID"].dtype == np.int32
