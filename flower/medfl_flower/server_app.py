"""ServerApp for medfl SuperNodes: Flower's own strategies, started from medfl's initial weights.

Run configuration (pyproject `[tool.flwr.app.config]`):

- ``strategy``: ``fedavg`` | ``fedprox`` | ``fedadam`` (Flower's FedAvg, FedProx, FedAdam);
- ``initial-weights``: a directory written by ``medfl flower weights --out DIR``
  (``index.json`` listing ``{name, file, shape}`` in the model's weight order, one
  float32 ``.npy`` per weight). The ArrayRecord keys are the tfjs weight names;
- ``out-dir``: when set, the final global weights are written there in the same
  layout (``final/``), the global weights before round 1 and after every round
  (``round-0/``, ``round-1/``, ...; through the strategy's ``evaluate_fn``) and
  ``history.json`` (per round: replies aggregated, failures, the aggregated
  train and evaluate MetricRecords; the malformed-message probe's replies);
- ``malformed-probe``: when true, before training every node gets three
  malformed messages (an unsupported message type carrying 6.4 MB of arrays, a train message without
  arrays, arrays whose shapes do not match the model) and the error replies
  are recorded: a medfl node answers each with an error and keeps running;
- ``lr``, ``local-epochs``, ``batch-size``, ``seed``: sent in every train
  message's ConfigRecord (FedProx adds ``proximal-mu``; Flower's strategies add
  ``server-round``);
- sampling: ``fraction-train``, ``fraction-evaluate``, ``min-train-nodes``,
  ``min-evaluate-nodes``, ``min-available-nodes``; ``round-timeout`` seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAdam, FedAvg, FedProx

app = ServerApp()

INDEX = "index.json"
FORMAT = "medfl-weights/1"


def load_weights(directory: str) -> dict[str, np.ndarray]:
    """Read a medfl weights directory (index.json + float32 .npy files), in index order."""
    root = Path(directory)
    index_path = root / INDEX
    if not index_path.is_file():
        raise FileNotFoundError(f"initial-weights: no {INDEX} in '{root}' (write it with `medfl flower weights --out {root}`)")
    index = json.loads(index_path.read_text(encoding="utf-8"))
    if index.get("format") != FORMAT:
        raise ValueError(f"{index_path}: format {index.get('format')!r}, expected {FORMAT!r}")
    out: dict[str, np.ndarray] = {}
    for entry in index["arrays"]:
        a = np.load(root / entry["file"], allow_pickle=False)
        if a.dtype != np.float32 or list(a.shape) != list(entry["shape"]):
            raise ValueError(f"{root / entry['file']}: {a.dtype} {list(a.shape)}, expected float32 {entry['shape']}")
        out[entry["name"]] = a
    return out


def save_weights(directory: Path, arrays: ArrayRecord) -> None:
    """Write `arrays` as a medfl weights directory (the layout `load_weights` reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (name, array) in enumerate(arrays.items()):
        a = np.ascontiguousarray(array.numpy(), dtype=np.float32)
        file = f"{i:04d}.npy"
        np.save(directory / file, a, allow_pickle=False)
        entries.append({"name": name, "file": file, "shape": list(a.shape)})
    (directory / INDEX).write_text(json.dumps({"format": FORMAT, "arrays": entries}, indent=1), encoding="utf-8")


def _recording(base: type[FedAvg]) -> type[FedAvg]:
    """`base` that also records, per round, which replies were aggregated and which failed."""

    class Recording(base):  # type: ignore[misc, valid-type]
        history: list[dict[str, Any]]

        def aggregate_train(self, server_round: int, replies: Any):  # type: ignore[no-untyped-def]
            replies = list(replies)
            ok = [m for m in replies if not m.has_error()]
            bad = [m for m in replies if m.has_error()]
            self.history.append(
                {
                    "round": server_round,
                    "results": len(ok),
                    "nodes": sorted(str(m.metadata.src_node_id) for m in ok),
                    "failures": [{"node": str(m.metadata.src_node_id), "code": int(m.error.code), "reason": m.error.reason} for m in bad],
                }
            )
            return super().aggregate_train(server_round, replies)

    Recording.__name__ = base.__name__
    return Recording


def make_strategy(cfg: dict[str, Any]) -> FedAvg:
    """Flower's strategy named by `cfg['strategy']`, with the run config's sampling settings."""
    name = str(cfg.get("strategy", "fedavg")).lower()
    common = {
        "fraction_train": float(cfg.get("fraction-train", 1.0)),
        "fraction_evaluate": float(cfg.get("fraction-evaluate", 1.0)),
        "min_train_nodes": int(cfg.get("min-train-nodes", 2)),
        "min_evaluate_nodes": int(cfg.get("min-evaluate-nodes", 2)),
        "min_available_nodes": int(cfg.get("min-available-nodes", 2)),
    }
    if name == "fedavg":
        strategy = _recording(FedAvg)(**common)
    elif name == "fedprox":
        strategy = _recording(FedProx)(proximal_mu=float(cfg.get("proximal-mu", 0.01)), **common)
    elif name == "fedadam":
        strategy = _recording(FedAdam)(eta=float(cfg.get("server-lr", 0.1)), tau=float(cfg.get("tau", 1e-3)), **common)
    else:
        raise ValueError(f"strategy {name!r} is not one of 'fedavg', 'fedprox', 'fedadam'")
    strategy.history = []
    return strategy


def malformed_probe(grid: Grid, initial: ArrayRecord, timeout: float) -> list[dict[str, Any]]:
    """Send every node three malformed messages; return what each reply carried."""
    big = ArrayRecord({"big": Array(np.random.default_rng(0).standard_normal(1_600_000).astype(np.float32))})
    bad_shape = ArrayRecord({k: Array(np.zeros((1,), dtype=np.float32) if i == 0 else v.numpy()) for i, (k, v) in enumerate(initial.items())})
    cases = {
        # 6.4 MB of arrays: 5 MiB ArrayChunks, each beyond gRPC's default 4 MiB message limit
        "unknown-type": ("query", RecordDict({"arrays": big, "config": ConfigRecord({"server-round": 1})})),
        "missing-arrays": ("train", RecordDict({"config": ConfigRecord({"server-round": 1, "lr": 0.001})})),
        "shape-mismatch": ("train", RecordDict({"arrays": bad_shape, "config": ConfigRecord({"server-round": 1, "lr": 0.001})})),
    }
    out = []
    for case, (message_type, content) in cases.items():
        messages = [Message(content=content, message_type=message_type, dst_node_id=n) for n in grid.get_node_ids()]
        for reply in grid.send_and_receive(messages, timeout=timeout):
            out.append(
                {
                    "case": case,
                    "node": str(reply.metadata.src_node_id),
                    "error": reply.error.reason if reply.has_error() else None,
                    "code": int(reply.error.code) if reply.has_error() else None,
                }
            )
    return out


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = dict(context.run_config)
    out_dir = str(cfg.get("out-dir", ""))
    weights_dir = str(cfg.get("initial-weights", ""))
    if not weights_dir:
        raise ValueError("run config 'initial-weights' is empty: write medfl's initial weights with `medfl flower weights --out DIR` and pass initial-weights=DIR")
    initial = ArrayRecord({k: Array(v) for k, v in load_weights(weights_dir).items()})
    strategy = make_strategy(cfg)
    probe = malformed_probe(grid, initial, float(cfg.get("round-timeout", 600.0))) if bool(cfg.get("malformed-probe", False)) else []

    def save_round(server_round: int, arrays: ArrayRecord) -> None:
        if out_dir:
            save_weights(Path(out_dir) / f"round-{server_round}", arrays)

    train_config = ConfigRecord(
        {
            "lr": float(cfg.get("lr", 0.005)),
            "local-epochs": int(cfg.get("local-epochs", 1)),
            "batch-size": int(cfg.get("batch-size", 8)),
            "seed": int(cfg.get("seed", 0)),
        }
    )
    result = strategy.start(
        grid=grid,
        initial_arrays=initial,
        num_rounds=int(cfg.get("num-server-rounds", 3)),
        timeout=float(cfg.get("round-timeout", 600.0)),
        train_config=train_config,
        evaluate_config=ConfigRecord({"batch-size": int(cfg.get("batch-size", 8))}),
        evaluate_fn=save_round,
    )
    if out_dir:
        out = Path(out_dir)
        save_weights(out / "final", result.arrays)
        history = {
            "strategy": str(cfg.get("strategy", "fedavg")),
            "rounds": strategy.history,
            "train": {str(r): dict(m) for r, m in result.train_metrics_clientapp.items()},
            "evaluate": {str(r): dict(m) for r, m in result.evaluate_metrics_clientapp.items()},
            "probe": probe,
        }
        tmp = out / "history.json.tmp"
        tmp.write_text(json.dumps(history, indent=1), encoding="utf-8")
        os.replace(tmp, out / "history.json")
