"""Write the offline referring-expression example: 20 (image, expression, box) samples on 4 of skimage's photos.

    python tools/make_rec_example.py [FOLDER]      # default: data/rec_example (then --datasets rec_example)

Writes FOLDER/refs.jsonl and FOLDER/images/*.png (pipeline.tasks.rec.data.EXAMPLE lists the boxes, drawn by eye).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import defaults  # noqa: E402
from pipeline.tasks.rec.data import write_example  # noqa: E402

if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else defaults.DATA_ROOT / "rec_example"
    print(f"wrote {write_example(folder)}")
