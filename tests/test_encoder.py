"""The fine-tuned encoder (pipeline/classify/encoder.py): numpy forward pass against the torch one,
fitting, calibration, saving, and its place in the stance model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from pipeline.classify.encoder import EncoderClassifier, NumpyBert, _fit_scaling, _softmax, find_base, load_base
from pipeline.errors import ModelError

TOY = [
    ("The two foreign ministers agreed to resume their annual dialogue.", "cooperation"),
    ("The ministry condemned the naval exercise and summoned the envoy.", "friction"),
    ("Seoul wants closer trade ties with Beijing but will not loosen its alliance to get them.", "hedging"),
    ("The report runs to forty pages and was published on Tuesday.", "none"),
]


def _toy(n: int = 8):
    texts = [t for t, _ in TOY] * n
    y = [lab for _, lab in TOY] * n
    groups = np.repeat(np.arange(n), len(TOY))
    return pd.DataFrame({"clean": texts}), np.array(y), groups


@pytest.fixture(scope="module")
def base_weights():
    return load_base(find_base())


@pytest.fixture(scope="module")
def toy_encoder():
    X, y, g = _toy()
    return EncoderClassifier(epochs=3, batch_size=8, max_length=32, learning_rate=1e-4).fit(X, y, groups=g)


def test_numpy_forward_matches_torch(base_weights):
    torch = pytest.importorskip("torch")
    from pipeline.classify.encoder import _batches, _tokenizer, _torch_modules

    net = _torch_modules(base_weights, 4, dropout=0.1).eval()
    ids = [e.ids for e in _tokenizer(32).encode_batch([t for t, _ in TOY] + ["Tokyo."])]
    for _, I, M in _batches(ids, 8):  # padded batch of unequal lengths: the mask must matter
        with torch.no_grad():
            ref = net.pooled(torch.from_numpy(I), torch.from_numpy(M)).numpy()
        got = NumpyBert(base_weights).pooled(I, M)
        assert np.abs(got - ref).max() < 1e-4
        alone = NumpyBert(base_weights).pooled(I[:1, : int(M[0].sum())], M[:1, : int(M[0].sum())])
        assert np.abs(alone - got[:1]).max() < 1e-4  # padding does not change a sentence's vector


def test_fit_learns_and_predicts_calibrated_probabilities(toy_encoder):
    X, y, _ = _toy(1)
    P = toy_encoder.predict_proba(X)
    assert P.shape == (4, 4)
    assert np.allclose(P.sum(1), 1.0)
    assert list(toy_encoder.classes_) == ["cooperation", "friction", "hedging", "none"]
    assert (toy_encoder.predict(X) == y).all()
    assert all(w.dtype == np.float16 for w in toy_encoder.weights_.values())
    # one of the 8 toy documents was held back for calibration: too few sentences to scale on
    assert toy_encoder.calibration_["documents"] == 1
    assert toy_encoder.temperature_ == 1.0 and "temperature" not in toy_encoder.calibration_
    assert toy_encoder.train_info_["sentences"] == 28


def test_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(4000, 4)) * 2.0
    y = np.array([rng.choice(4, p=p) for p in _softmax(true)])
    T, b = _fit_scaling(true * 3.0, y)  # logits three times too sharp
    assert T == pytest.approx(3.0, rel=0.1)
    assert np.abs(b).max() < 0.15


def test_skops_round_trip_and_audit(toy_encoder, tmp_path):
    import skops.io as sio

    X, _, _ = _toy(1)
    P = toy_encoder.predict_proba(X)  # builds the float32 network, which must not be saved
    sio.dump(toy_encoder, tmp_path / "e.skops")
    assert sio.get_untrusted_types(file=tmp_path / "e.skops") == ["pipeline.classify.encoder.EncoderClassifier"]
    back = sio.load(tmp_path / "e.skops", trusted=["pipeline.classify.encoder.EncoderClassifier"])
    assert "_net" not in back.__dict__
    assert np.allclose(back.predict_proba(X), P)
    other = sio.load(tmp_path / "e.skops", trusted=["pipeline.classify.encoder.EncoderClassifier"])
    other.vocab_sha256_ = "0" * 64  # fitted with another vocabulary: refused, not silently wrong
    with pytest.raises(ModelError, match="vocabulary"):
        other.predict_proba(X)


def test_missing_base_weights_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIEFS_ENCODER_BASE", str(tmp_path / "nowhere"))
    with pytest.raises(ModelError) as e:
        find_base()
    assert "nowhere" in str(e.value)
    (tmp_path / "model.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_base(find_base(tmp_path))


def test_stance_model_averages_the_encoder_in(mini_model_dir):
    from pipeline.classify.model import load_model

    full, fast = load_model(mini_model_dir), load_model(mini_model_dir, fast=True)
    assert full.encoder is not None and fast.encoder is None
    rows = pd.DataFrame({"masked": [t for t, _ in TOY], "cues": [""] * 4, "clean": [t for t, _ in TOY],
                         "eligible": [True] * 4})
    feats = full.pipeline.named_steps["features"].feature_names_in_
    lin = full.pipeline.predict_proba(rows[list(feats)])
    enc = full.encoder.predict_proba(rows)
    classes = list(full.pipeline.classes_)
    enc = enc[:, [list(full.encoder.classes_).index(c) for c in classes]]
    mixed = (lin + enc) / 2
    got = full.predict(rows, with_evidence=False)
    assert np.allclose(got["p_stance"], 1 - mixed[:, classes.index("none")])
    got_fast = fast.predict(rows, with_evidence=False)
    assert np.allclose(got_fast["p_stance"], 1 - lin[:, classes.index("none")])


def test_a_model_missing_its_encoder_file_is_refused(mini_model_dir, tmp_path):
    from pipeline.classify.model import load_model

    assert "Apache" in (mini_model_dir / "NOTICE-encoder").read_text()  # the weights' licence goes along
    broken = tmp_path / "m"
    shutil.copytree(mini_model_dir, broken)
    assert json.loads((broken / "card.json").read_text())["encoder_weight"] == 0.5
    (broken / "encoder.skops").unlink()
    with pytest.raises(ModelError, match="encoder.skops is missing"):
        load_model(broken)
    assert load_model(broken, fast=True).encoder is None


def test_a_corrupt_encoder_file_is_named(mini_model_dir, tmp_path):
    from pipeline.classify.model import load_model

    broken = tmp_path / "m"
    shutil.copytree(mini_model_dir, broken)
    (broken / "encoder.skops").write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="cannot read encoder.skops"):
        load_model(broken)


def test_worker_processes_use_one_blas_thread_each(mini_model_dir):
    from threadpoolctl import threadpool_info

    from pipeline import run

    try:
        run._init_worker(run.Settings(model_dir=str(mini_model_dir), fast=True))
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    finally:
        if run._BLAS_LIMIT is not None:
            run._BLAS_LIMIT.restore_original_limits()
        run._WORKER = run._BLAS_LIMIT = None
