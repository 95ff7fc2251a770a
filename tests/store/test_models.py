"""Models: skops inside Arrow IPC, trusted-type loading, reproducible bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from lockgate.errors import StoreError, UntrustedModel
from lockgate.hashing import digest_bytes
from lockgate.store.artifacts import (
    ArtifactRef,
    WrongRecord,
    decode_metadata,
    encode_model,
    file_content_digest,
    load_model,
    load_model_file,
    model_file_metadata,
    model_metadata,
    save_model,
    save_model_file,
)
from lockgate.store.base import ObjectStore
from lockgate.store.memory import MemoryStore

FEATURES = ["plan", "region", "tenure"]


class Memorizer(ClassifierMixin, BaseEstimator):
    """A custom estimator that skops does not know: must not load untrusted."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Memorizer:
        self.answer_ = int(np.bincount(np.asarray(y, dtype=int)).argmax())
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.answer_)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(0)
    X = rng.randint(0, 4, size=(200, 3))
    y = (X[:, 0] + rng.randint(0, 2, 200) > 2).astype(int)
    return X, y


def _forest(seed: int = 7) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=10, max_depth=4, random_state=seed).fit(*_data())


def _pipeline() -> Pipeline:
    steps = [("onehot", OneHotEncoder(handle_unknown="ignore")), ("lr", LogisticRegression())]
    return Pipeline(steps).fit(*_data())


@pytest.mark.parametrize("make", [_forest, _pipeline], ids=["forest", "pipeline"])
def test_model_round_trip_with_metadata(store: ObjectStore, make) -> None:  # type: ignore[no-untyped-def]
    model = make()
    ref = save_model(
        store, model, feature_names=FEATURES, training_data_hash=digest_bytes(b"train")
    )
    assert ref.kind == "model" and ref.object == digest_bytes(store.get_bytes(ref.object))
    assert ref.digest == file_content_digest(store.get_bytes(ref.object))
    loaded = load_model(store, ref)
    X, _ = _data()
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))

    meta = model_metadata(store, ref)
    cls = type(model)
    assert meta["class"] == f"{cls.__module__}.{cls.__qualname__}"
    assert meta["feature_names"] == FEATURES
    assert meta["training_data_hash"] == digest_bytes(b"train")
    assert meta["format"] == "lockgate-model/1"
    assert set(meta["versions"]) >= {"python", "scikit-learn", "skops", "numpy"}


def test_model_file_is_arrow_ipc_with_one_skops_column(store: ObjectStore) -> None:
    ref = save_model(store, _pipeline())
    table = pa.ipc.open_file(pa.py_buffer(store.get_bytes(ref.object))).read_all()
    assert table.column_names == ["skops"] and table.num_rows == 1
    assert table.schema.field("skops").type == pa.large_binary()
    assert set(table.schema.metadata) == {b"lockgate.format", b"lockgate.model"}


def test_feature_names_default_to_those_seen_in_fit(store: ObjectStore) -> None:
    import polars as pl

    X, y = _data()
    frame = pl.DataFrame(X, schema=FEATURES)
    ref = save_model(store, LogisticRegression().fit(frame, y))
    assert model_metadata(store, ref)["feature_names"] == FEATURES


def test_untrusted_custom_class_is_refused(store: ObjectStore) -> None:
    X, y = _data()
    ref = save_model(store, Memorizer().fit(X, y))
    with pytest.raises(UntrustedModel) as info:
        load_model(store, ref)
    qualname = f"{Memorizer.__module__}.Memorizer"
    assert info.value.types == [qualname]
    assert qualname in str(info.value) and "trusted=" in str(info.value)
    assert isinstance(info.value, StoreError)
    loaded = load_model(store, ref, trusted=[qualname])
    assert loaded.predict(X[:3]).tolist() == [Memorizer().fit(X, y).answer_] * 3


def test_same_model_gives_same_bytes_in_another_process(tmp_path: Path) -> None:
    here = digest_bytes(encode_model(_forest(), feature_names=FEATURES))
    code = (
        "from tests.store.test_models import _forest, FEATURES\n"
        "from lockgate.store.artifacts import encode_model\n"
        "from lockgate.hashing import digest_bytes\n"
        "print(digest_bytes(encode_model(_forest(), feature_names=FEATURES)))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == here
    assert digest_bytes(encode_model(_forest(), feature_names=FEATURES)) == here
    assert save_model(MemoryStore(), _forest(), feature_names=FEATURES).object == here


def test_a_model_digest_names_the_model_not_the_python_that_trained_it(monkeypatch) -> None:
    """The README example reran its gates on a machine whose Python was 3.11.2, not
    3.11.7: the library versions recorded in the file were part of the model's digest."""
    from lockgate.store import models

    first = save_model(MemoryStore(), _forest(), feature_names=FEATURES)
    monkeypatch.setattr(models, "_library_versions", lambda: {"python": "3.11.2", "numpy": "9.9"})
    store = MemoryStore()
    second = save_model(store, _forest(), feature_names=FEATURES)
    assert second.object != first.object  # the file records where it was trained ...
    assert second.digest == first.digest  # ... the digest is the model's
    assert decode_metadata(store.get_bytes(second.object))["versions"]["python"] == "3.11.2"
    other = save_model(store, _forest(seed=1), feature_names=FEATURES)
    assert other.digest != first.digest  # another fit is another model
    forged = ArtifactRef("model", first.digest, other.object, {})
    with pytest.raises(WrongRecord, match="does not hold model"):
        load_model(store, forged)


def test_foreign_model_file_gets_skops_trust_defaults(tmp_path: Path) -> None:
    path = tmp_path / "forest.model"
    save_model_file(_forest(), path)
    with pytest.raises(UntrustedModel) as info:
        load_model_file(path)
    assert info.value.types == ["sklearn.tree._tree.Tree"]
    X, _ = _data()
    expected = _forest().predict(X)
    np.testing.assert_array_equal(load_model_file(path, vetted=True).predict(X), expected)
    trusted = load_model_file(path, trusted=["sklearn.tree._tree.Tree"])
    np.testing.assert_array_equal(trusted.predict(X), expected)


def test_model_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "exported" / "churn.model"
    path.parent.mkdir()
    digest = save_model_file(_pipeline(), path, feature_names=FEATURES)
    assert digest == digest_bytes(path.read_bytes())
    X, _ = _data()
    np.testing.assert_array_equal(load_model_file(path).predict(X), _pipeline().predict(X))
    assert model_file_metadata(path)["feature_names"] == FEATURES


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is not a lockgate model file"),
        (b"garbage, not arrow at all" * 10, "is not a lockgate model file"),
        (None, "not a lockgate model"),
    ],
    ids=["empty", "garbage", "other-arrow"],
)
def test_not_a_model_file_is_a_clear_error(
    tmp_path: Path, content: bytes | None, match: str
) -> None:
    path = tmp_path / "bad.model"
    if content is None:
        table = pa.table({"a": [1]})
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        path.write_bytes(content)
    with pytest.raises(StoreError, match=match) as info:
        load_model_file(path)
    assert str(path) in str(info.value)


def test_corrupt_payload_inside_a_valid_model_file(tmp_path: Path) -> None:
    good = pa.ipc.open_file(pa.py_buffer(encode_model(_pipeline()))).read_all()
    broken = good.set_column(
        0, good.schema.field(0), pa.array([b"PK not a zip"], pa.large_binary())
    )
    path = tmp_path / "broken.model"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, broken.schema) as writer:
        writer.write_table(broken)
    with pytest.raises(StoreError, match="skops payload is unreadable"):
        load_model_file(path)
