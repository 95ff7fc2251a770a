"""A small DVC project of our own (never example-get-started's code or data): a
``dvc.yaml``, ``params.yaml``, a ``.dvc``-tracked data file and tiny scripts that read
``params.yaml`` themselves with PyYAML, as DVC projects do. They write a folder output,
a dvclive-style nested ``metrics.json`` and a plots JSON, and record what they read
in ``seen.txt`` and how often they ran in ``runs/NAME`` (neither is an output)."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

DVC_YAML = """
vars:
  - report.yaml:report
stages:
  prepare:
    cmd: python src/prepare.py data/data.csv
    deps:
    - data/data.csv
    - src/prepare.py
    params:
    - prepare.seed
    - prepare.split
    outs:
    - data/prepared
  featurize:
    cmd: python src/featurize.py data/prepared data/features
    deps:
    - data/prepared
    - src/featurize.py
    params:
    - featurize.max_features
    outs:
    - data/features
  train:
    cmd: python src/train.py data/features model.json
    deps:
    - data/features
    - src/train.py
    params:
    - train.smoothing
    outs:
    - model.json
  evaluate:
    cmd: python src/evaluate.py model.json data/features
    deps:
    - data/features
    - model.json
    - src/evaluate.py
    outs:
    - eval
  history:
    cmd: python src/history.py
    deps:
    - eval/metrics.json
    - src/history.py
    outs:
    - history.log:
        persist: true
  report:
    cmd: python src/report.py "${report.title}"
    deps:
    - eval/metrics.json
    - src/report.py
    outs:
    - report.txt:
        cache: false
    always_changed: true
metrics:
- eval/metrics.json
plots:
- PRC:
    template: simple
    x: recall
    y:
      eval/plots/prc/test.json: precision
artifacts:
  word-model:
    path: model.json
    type: model
    desc: Word weights that flag questions about R
"""

PARAMS = """\
prepare:
  split: 0.25
  seed: 7
featurize:
  max_features: 12
train:
  smoothing: 1.0
"""

REPORT = """\
report:
  title: Scores
unused: 1
"""

_MARK = """
import os
def mark(name):
    os.makedirs("runs", exist_ok=True)
    with open(os.path.join("runs", name), "a") as f:
        f.write("x\\n")
"""

PREPARE = _MARK + """
import random, sys, yaml
params = yaml.safe_load(open("params.yaml"))["prepare"]
random.seed(params["seed"])
os.makedirs("data/prepared", exist_ok=True)
rows = open(sys.argv[1]).read().splitlines()[1:]
with open("data/prepared/train.tsv", "w") as train, open("data/prepared/test.tsv", "w") as test:
    for row in rows:
        (test if random.random() < params["split"] else train).write(row + "\\n")
with open("seen.txt", "a") as f:
    f.write(f"prepare split={params['split']}\\n")
mark("prepare")
"""

FEATURIZE = _MARK + """
import collections, json, sys, yaml
params = yaml.safe_load(open("params.yaml"))["featurize"]
src, out = sys.argv[1], sys.argv[2]
def read(name):
    rows = []
    for line in open(os.path.join(src, name)):
        _, label, text = line.rstrip("\\n").split(",", 2)
        rows.append((int(label), text.split()))
    return rows
train = read("train.tsv")
counts = collections.Counter(w for _, words in train for w in words)
vocab = [w for w, _ in counts.most_common(params["max_features"])]
os.makedirs(out, exist_ok=True)
for name, rows in (("train", train), ("test", read("test.tsv"))):
    feats = [[label, [words.count(w) for w in vocab]] for label, words in rows]
    json.dump({"vocab": vocab, "rows": feats}, open(os.path.join(out, name + ".json"), "w"))
with open("seen.txt", "a") as f:
    f.write(f"featurize max_features={params['max_features']}\\n")
mark("featurize")
"""

TRAIN = _MARK + """
import json, math, sys, yaml
params = yaml.safe_load(open("params.yaml"))["train"]
data = json.load(open(os.path.join(sys.argv[1], "train.json")))
a = params["smoothing"]
weights = []
for j in range(len(data["vocab"])):
    pos = sum(row[1][j] for row in data["rows"] if row[0] == 1) + a
    neg = sum(row[1][j] for row in data["rows"] if row[0] == 0) + a
    weights.append(math.log(pos / neg))
json.dump({"vocab": data["vocab"], "weights": weights}, open(sys.argv[2], "w"))
mark("train")
"""

EVALUATE = _MARK + """
import json, sys
model = json.load(open(sys.argv[1]))
def scores(name):
    data = json.load(open(os.path.join(sys.argv[2], name + ".json")))
    return [(row[0], sum(c * w for c, w in zip(row[1], model["weights"]))) for row in data["rows"]]
def avg_prec(pairs):
    pairs = sorted(pairs, key=lambda p: -p[1])
    hits, total, curve = 0, sum(y for y, _ in pairs) or 1, []
    ap = 0.0
    for i, (y, s) in enumerate(pairs, 1):
        if y:
            hits += 1
            ap += hits / i
        curve.append({"precision": hits / i, "recall": hits / total, "threshold": s})
    return ap / total, curve
summary = {"avg_prec": {}, "n": {}}
os.makedirs("eval/plots/prc", exist_ok=True)
for name in ("train", "test"):
    pairs = scores(name)
    ap, curve = avg_prec(pairs)
    summary["avg_prec"][name] = round(ap, 6)
    summary["n"][name] = len(pairs)
    json.dump({"prc": curve}, open(f"eval/plots/prc/{name}.json", "w"))
json.dump(summary, open("eval/metrics.json", "w"), indent=2)
mark("evaluate")
"""

HISTORY = _MARK + """
import json
value = json.load(open("eval/metrics.json"))["avg_prec"]["test"]
with open("history.log", "a") as f:
    f.write(f"{value}\\n")
mark("history")
"""

REPORT_PY = _MARK + """
import json, sys
value = json.load(open("eval/metrics.json"))["avg_prec"]["test"]
open("report.txt", "w").write(f"{sys.argv[1]}: {value}\\n")
mark("report")
"""

WORDS = ["plot", "ggplot", "dataframe", "numpy", "pandas", "vector", "list", "loop", "regex",
         "tidyverse", "dplyr", "class", "import", "function", "matrix", "lapply"]
R_WORDS = {"ggplot", "tidyverse", "dplyr", "lapply", "vector"}


def data_csv(rows: int = 120) -> str:
    lines = ["id,label,text"]
    for i in range(rows):
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(4)]
        label = int(bool(R_WORDS & set(words))) ^ (i % 5 == 0)  # some noise: metrics below 1
        lines.append(f"{i},{label},{' '.join(words)}")
    return "\n".join(lines) + "\n"


def dvc_file(data: str) -> str:
    md5 = hashlib.md5(data.encode("utf-8")).hexdigest()
    return f"outs:\n- md5: {md5}\n  size: {len(data.encode())}\n  hash: md5\n  path: data.csv\n"


def write_project(root: Path) -> None:
    """The project's files, as a DVC user has them after `dvc add` and `dvc stage add`
    (DVC wrote data/.gitignore; the repository's own .gitignore has one line)."""
    data = data_csv()
    files = {
        "dvc.yaml": textwrap.dedent(DVC_YAML).lstrip("\n"),
        "params.yaml": PARAMS,
        "report.yaml": REPORT,
        "data/data.csv": data,
        "data/data.csv.dvc": dvc_file(data),
        "data/.gitignore": "/data.csv\n",
        ".gitignore": "/runs\n/seen.txt\n",
        "src/prepare.py": PREPARE,
        "src/featurize.py": FEATURIZE,
        "src/train.py": TRAIN,
        "src/evaluate.py": EVALUATE,
        "src/history.py": HISTORY,
        "src/report.py": REPORT_PY,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
