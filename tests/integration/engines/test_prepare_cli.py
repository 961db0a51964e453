"""`chatbot engine prepare` as a subprocess: the dry run prints the build argv and writes
nothing; a real prepare writes the repository; a bad input exits 1 with a one-line error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import REPO

CONFIG = {
    "architectures": ["MistralForCausalLM"],
    "max_position_embeddings": 32768,
    "num_attention_heads": 32,
    "num_hidden_layers": 2,
    "torch_dtype": "bfloat16",
}


def checkpoint(tmp_path: Path) -> Path:
    folder = tmp_path / "Mistral-tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    smollm = next((REPO / ".chatbot" / "cache" / "lm").glob("SmolLM2-*"), None)
    if smollm is not None:
        shutil.copy(smollm / "tokenizer.json", folder)
    else:
        (folder / "tokenizer.json").write_text("{}")  # presence is what prepare checks
    return folder


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatbot", "engine", "prepare", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )


def test_dry_run_prints_the_build_commands_and_writes_nothing(tmp_path: Path) -> None:
    folder, out = checkpoint(tmp_path), tmp_path / "repo"
    done = run(str(folder), "--output", str(out), "--engine", "--dry-run", "--tp", "2")
    assert done.returncode == 0, done.stderr
    assert not out.exists()
    expected = (
        f"trtllm-build --checkpoint_dir {out}.trtllm-checkpoint --output_dir "
        f"{out}/tensorrt_llm/1 --gemm_plugin auto --max_batch_size 64 --max_input_len 7168 "
        "--max_seq_len 8192 --max_num_tokens 8192 --kv_cache_type paged "
        "--use_paged_context_fmha enable --remove_input_padding enable"
    )
    assert expected in done.stdout
    assert "models/core/llama/convert_checkpoint.py" in done.stdout
    assert "ensemble/config.pbtxt" in done.stdout and "dry run: nothing was written" in done.stdout


def test_real_prepare_writes_the_llmapi_repository(tmp_path: Path) -> None:
    folder, out = checkpoint(tmp_path), tmp_path / "repo"
    done = run(str(folder), "-o", str(out), "--max-seq-len", "16384", "--kv-cache-fraction", "0.8")
    assert done.returncode == 0, done.stderr
    yaml_text = (out / "tensorrt_llm" / "1" / "model.yaml").read_text()
    assert "max_seq_len: 16384" in yaml_text and "free_gpu_memory_fraction: 0.8" in yaml_text
    assert f"wrote {out}" in done.stdout


def test_bad_input_exits_1_with_a_readable_error(tmp_path: Path) -> None:
    folder, out = checkpoint(tmp_path), tmp_path / "repo"
    done = run(str(folder), "-o", str(out), "--tp", "4", "--gpus", "2")
    assert done.returncode == 1
    assert done.stderr.startswith("error:") and "needs 4 GPUs" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr + done.stdout
    assert not out.exists()
    missing = run(str(tmp_path / "nowhere"), "-o", str(out))
    assert missing.returncode == 1 and "does not exist" in " ".join(missing.stderr.split())
