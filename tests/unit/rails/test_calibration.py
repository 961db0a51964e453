"""One calibration file holds every threshold the rails decide by, and one vocabulary file the
injection patterns' word lists: each is what the code reads, and both ship in the wheel."""

from __future__ import annotations

import json
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from bench.fit_rails import set_thresholds
from chatbot.settings import Settings
from rails import PROFILES, grounding, injection, profile_path
from rails.calibration import CALIBRATION, CALIBRATION_PATH, Calibration
from rails.injection import CLASSIFIER_PATH, LinearClassifier, patterns

REPO = Path(__file__).resolve().parents[3]


def test_the_file_is_complete_and_saves_as_it_reads(tmp_path: Path) -> None:
    assert Calibration.load() == CALIBRATION
    copy = tmp_path / "calibration.json"
    CALIBRATION.save(copy)
    assert copy.read_text(encoding="utf-8") == CALIBRATION_PATH.read_text(encoding="utf-8")


def test_a_missing_threshold_fails_at_load(tmp_path: Path) -> None:
    data = CALIBRATION.to_dict()
    del data["grounding"]["semantic"]
    broken = tmp_path / "calibration.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TypeError, match="semantic"):
        Calibration.load(broken)


def test_the_classifier_reads_its_thresholds_from_the_calibration_file() -> None:
    model = LinearClassifier.load()
    assert (model.threshold, model.caution) == (
        CALIBRATION.injection.threshold,
        CALIBRATION.injection.caution,
    )
    weights = json.loads(CLASSIFIER_PATH.read_text(encoding="utf-8"))
    assert "threshold" not in weights and "caution" not in weights
    assert CALIBRATION.injection.conversation == injection.CONVERSATION_THRESHOLD


def test_grounding_defaults_are_the_calibration_file() -> None:
    defaults = grounding.Thresholds()
    for field in fields(defaults):
        assert getattr(defaults, field.name) == getattr(CALIBRATION.grounding, field.name)


@pytest.mark.parametrize("profile", PROFILES)
def test_nemo_reads_the_same_similarity_threshold(profile: str) -> None:
    """NeMo reads the topical threshold from each profile's config.yml: it must be the
    calibration file's."""
    raw = yaml.safe_load((profile_path(profile) / "config.yml").read_text(encoding="utf-8"))
    user_messages = raw["rails"]["dialog"]["user_messages"]
    assert user_messages["embeddings_only_similarity_threshold"] == CALIBRATION.topical.similarity


def test_settings_default_to_the_calibration_file() -> None:
    model_fields = Settings.model_fields
    assert model_fields["on_topic_threshold"].default == CALIBRATION.faq.on_topic
    assert model_fields["suggest_threshold"].default == CALIBRATION.faq.suggest
    assert model_fields["curated_threshold"].default == CALIBRATION.faq.curated
    assert model_fields["entry_threshold"].default == CALIBRATION.faq.entry
    assert model_fields["answer_threshold"].default == CALIBRATION.faq.answer


def test_the_fitting_tool_records_a_chosen_threshold(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    CALIBRATION.save(path)
    updated = set_thresholds(["injection.conversation=0.9", "grounding.max_missing=2"], path)
    assert updated.injection.conversation == 0.9 and updated.grounding.max_missing == 2
    assert updated.topical == CALIBRATION.topical
    with pytest.raises(SystemExit, match=r"SECTION\.KEY"):
        set_thresholds(["injection.unknown=1"], path)


def test_the_vocabulary_is_the_data_the_patterns_are_built_from() -> None:
    vocabulary = patterns.vocabulary()
    assert patterns.VOCABULARY_PATH.parent == REPO / "rails" / "vocabulary"
    assert all(
        words and all(isinstance(w, str) and w for w in words) for words in vocabulary.values()
    )
    # Every list's words make one of the alternations the multilingual patterns start with.
    lists = {name: "|".join(words) for name, words in vocabulary.items()}
    assert set(patterns._LISTS) <= set(lists.values())


def test_the_data_files_ship_in_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["rails"]
    shipped = {p for glob in globs for p in (REPO / "rails").glob(glob)}
    wanted = {CALIBRATION_PATH, *patterns.VOCABULARY_PATH.parent.glob("*.yaml")}
    assert wanted <= shipped
