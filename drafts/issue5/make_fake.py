"""Fake small-data results (dev only): plausible numbers with the real config names."""
import json, random
from pathlib import Path
from dropkey_lib.experiments import grid_runs
from dataclasses import asdict
root = Path("/tmp/fake_results/small-data")
rng = random.Random(0)
effects = {"none": 0, "dropout-0.1": .005, "dropout-0.2": .008, "dropout-0.3": .004, "dropkey-0.1": .01, "dropkey-0.2": .02,
           "dropkey-0.3": .018, "dropkey-0.2-linear_down": .025, "dropkey-0.2-linear_up": .01, "dropkey_block-0.2": .012, "dropkey_cross-0.2": .02}
seed_eff = [0.0, -0.01, 0.008]
for run in grid_runs("small-data", 3):
    s = run.config.seed
    acc = 0.45 + effects[run.name] + seed_eff[s] + rng.gauss(0, 0.004)
    tr = 0.70 - 2 * effects[run.name] + rng.gauss(0, 0.01)
    ent = [3.2 + 0.1 * l + 3 * effects[run.name] + rng.gauss(0, .02) for l in range(4)]
    dist = [9 + 1.5 * l + 20 * effects[run.name] + rng.gauss(0, .2) for l in range(4)]
    m = {"run": run.name, "seed": s, "config": asdict(run.config), "test_accuracy": acc, "test_loss": 1.6 - acc,
         "train_accuracy": tr, "gap": tr - acc, "attention_entropy": ent, "attention_distance": dist,
         "train_seconds": 230 + rng.random() * 40, "wall_seconds_this_session": 260.0,
         "hardware": "Intel(R) Xeon(R) Processor; torch 2.14.1+cu130, 1 thread(s)",
         "data": "CIFAR-10 from /work/shared/data/cifar10-jpeg.tar.gz"}
    d = root / run.folder
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.json").write_text(json.dumps(m, indent=2))
    (d / "config.json").write_text(json.dumps(asdict(run.config), indent=2))
print("ok")
