"""Write the offline VQA set of docs/vqa.md: pairs of MNIST digits side by side, three questions each.

    python tools/make_vqa_digit_pairs.py data/digit_pairs --pairs 200
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.tasks.vqa.data import write_digit_pairs  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="where images/ and questions.csv are written")
    parser.add_argument("--pairs", type=int, default=100, help="images (three questions each)")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    print(f"wrote {write_digit_pairs(options.folder, options.pairs, options.seed)}")
