"""Write the offline captioning example: 48 (image, caption) pairs on 12 of skimage's photos, 3 tiny captioners.

    python tools/make_caption_example.py [FOLDER]      # default: data/caption_example

Writes FOLDER/captions.csv, FOLDER/images/*.png and FOLDER/ckpts/<captioner>/ (see
pipeline/tasks/captioning/example.py: the captioners are random-init, built offline from configs).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import defaults  # noqa: E402
from pipeline.tasks.captioning.example import write_example  # noqa: E402

if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else defaults.DATA_ROOT / "caption_example"
    print(f"wrote {write_example(folder)}")
