"""The settings object (qbank/config.py): the environment, types, bounds, and pydantic's names."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from qbank.config import DATA_DIR, Settings, SettingsError


@pytest.fixture(autouse=True)
def _no_qbank_variables(monkeypatch):
    import os

    for key in list(os.environ):
        if key.upper().startswith("QBANK_"):
            monkeypatch.delenv(key)


def test_defaults_keyword_arguments_and_the_environment(monkeypatch):
    assert Settings().rrf_k == 10 and Settings().rerank_top_n is None and Settings().model_fields_set == set()
    monkeypatch.setenv("qbank_rrf_k", "7")  # names are case-insensitive, values parsed by type
    monkeypatch.setenv("QBANK_USE_GPU", "false")
    monkeypatch.setenv("QBANK_RERANK_TOP_N", "30")
    monkeypatch.setenv("QBANK_INDEX_DIR", "/tmp/somewhere")
    monkeypatch.setenv("QBANK_NOT_A_SETTING", "x")  # ignored, as pydantic-settings did
    s = Settings(weight_dense=0.5)
    assert (s.rrf_k, s.use_gpu, s.rerank_top_n, s.index_dir, s.weight_dense) == (7, False, 30, Path("/tmp/somewhere"), 0.5)
    assert s.model_fields_set == {"rrf_k", "use_gpu", "rerank_top_n", "index_dir", "weight_dense"}
    assert Settings(rrf_k=3).rrf_k == 3  # an argument wins over the environment


@pytest.mark.parametrize("env, message", [
    ({"QBANK_RRF_K": "abc"}, "QBANK_RRF_K='abc': should be an integer"),
    ({"QBANK_RRF_K": "0"}, "QBANK_RRF_K='0': should be at least 1"),
    ({"QBANK_CHUNK_MAX_TOKENS": "999"}, "QBANK_CHUNK_MAX_TOKENS='999': should be at most 240"),
    ({"QBANK_USE_GPU": "maybe"}, "QBANK_USE_GPU='maybe': should be a boolean"),
    ({"QBANK_ANN": "ivf"}, "QBANK_ANN='ivf': should be one of 'auto', 'hnsw', 'flat'"),
    ({"QBANK_WEIGHT_DENSE": "heavy"}, "QBANK_WEIGHT_DENSE='heavy': should be a number"),
])
def test_a_bad_variable_is_one_line_naming_it(monkeypatch, env, message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as e:
        Settings()
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_bad_arguments_and_unknown_names():
    with pytest.raises(SettingsError, match="rrf_k=0: should be at least 1"):
        Settings(rrf_k=0)
    with pytest.raises(SettingsError, match="bank=3: should be a path"):
        Settings(bank=3)
    with pytest.raises(SettingsError, match="rrf_k=True: should be an integer"):
        Settings(rrf_k=True)
    with pytest.raises(TypeError, match="unknown setting"):
        Settings(rrf=3)
    with pytest.raises(Exception, match="cannot assign"):
        Settings().rrf_k = 3  # frozen


def test_copy_dump_and_round_trip(monkeypatch):
    s = Settings(rrf_k=4)
    c = s.model_copy(update={"weight_dense": 2.0})
    assert (c.rrf_k, c.weight_dense, c.model_fields_set) == (4, 2.0, {"rrf_k", "weight_dense"})
    with pytest.raises(SettingsError):
        s.model_copy(update={"rrf_k": -1})
    monkeypatch.setenv("QBANK_RRF_K", "99")  # a dump read back is the dump, whatever the environment says
    back = Settings.model_validate_json(s.model_dump_json())
    assert back == s and back.bank == DATA_DIR / "question_bank.txt" and hash(back) == hash(s)
    assert pickle.loads(pickle.dumps(s)) == s
    assert set(Settings.model_fields) == set(s.model_dump())


def test_the_cli_reports_a_bad_variable_in_one_line(tmp_path):
    import os

    p = subprocess.run([sys.executable, "-m", "qbank.ui.cli", "search", "kv cache"], capture_output=True, text=True,
                       env={**os.environ, "QBANK_RRF_K": "abc"})
    assert p.returncode == 2 and p.stderr == "error: QBANK_RRF_K='abc': should be an integer\n"


def test_importing_the_settings_skips_pydantic():
    out = subprocess.run([sys.executable, "-c", "import sys, qbank.config; print('pydantic' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
