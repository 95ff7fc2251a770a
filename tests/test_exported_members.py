"""The public API is curated: adding or removing a name is a deliberate change."""

import lockgate
import lockgate.kernels


def test_public_api_is_pinned():
    assert sorted(lockgate.__all__) == sorted([
        "CorruptObject", "LockgateError", "ObjectMissing", "RepoLocked", "SpecError",
        "SpecIssue", "StepError", "StoreError", "UsageError", "__version__",
        "load_pipeline", "run",
    ])
    for name in lockgate.__all__:
        assert hasattr(lockgate, name), name


def test_kernels_api_is_pinned():
    assert sorted(lockgate.kernels.__all__) == sorted([
        "roc_auc", "average_precision", "confusion_matrix", "precision", "recall", "f1",
        "accuracy", "log_loss", "mae", "rmse", "r2", "ks_2samp", "wasserstein", "psi",
        "jensen_shannon", "chi2", "chisquare", "z_test", "psi_categorical", "jensen_shannon_categorical",
        "drift_table", "DriftResult", "profile", "Profile", "streaming_drift",
        "group_metrics", "GroupMetrics", "demographic_parity_difference", "demographic_parity_ratio",
        "equalized_odds_difference", "equalized_odds_ratio", "equal_opportunity_difference",
        "equal_opportunity_ratio", "bootstrap_disparities", "permutation_importance",
    ])
    for name in lockgate.kernels.__all__:
        assert callable(getattr(lockgate.kernels, name)), name


def test_python_api_runs_a_pipeline(repo):
    from tests.conftest import write

    write(repo, "pipelines/p.yaml", "version: 1\nstages:\n  a: {cmd: echo hi > a.txt, outs: [a.txt]}\n")
    outcomes = lockgate.run(root=repo)
    assert [(o.stage, o.outcome.value) for o in outcomes] == [("a", "ran")]
    assert [o.outcome.value for o in lockgate.run(root=repo)] == ["cached"]
    assert list(lockgate.load_pipeline("p", root=repo).stages) == ["a"]
