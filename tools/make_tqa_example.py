"""Write the offline text-QA example: 40 questions on 8 short paragraphs, as a qa.jsonl table.

    python tools/make_tqa_example.py [FOLDER]      # default: data/tqa_example (then --datasets tqa_example)

Writes FOLDER/qa.jsonl (pipeline/tasks/tqa/example.py holds the paragraphs and questions).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import defaults  # noqa: E402
from pipeline.tasks.tqa.example import write_example  # noqa: E402

if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else defaults.DATA_ROOT / "tqa_example"
    print(f"wrote {write_example(folder)}")
