"""The offline text-QA example: 40 extractive questions on 8 short paragraphs, written as a qa.jsonl table.

    python tools/make_tqa_example.py [FOLDER]       # default: data/tqa_example (then --datasets tqa_example)

Each answer is a span of its paragraph (the reader finds its first occurrence). The bundled all-MiniLM-L6-v2 is
the offline candidate; the example shows the three stages run offline, its ranking of one model means nothing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

TABLE = "qa.jsonl"
PARAGRAPHS = [
    ("The river Thames flows through London and reaches the North Sea at its estuary. It is about 346 kilometres "
     "long, and more than two hundred bridges cross it.",
     [("Which city does the Thames flow through?", "London"), ("Where does the Thames reach the sea?", "its estuary"),
      ("Which sea does the Thames reach?", "the North Sea"), ("How long is the Thames?", "about 346 kilometres"),
      ("How many bridges cross the Thames?", "more than two hundred")]),
    ("Marie Curie was born in Warsaw in 1867. She shared the Nobel Prize in Physics in 1903 and won the Nobel "
     "Prize in Chemistry alone in 1911 for her work on radium and polonium.",
     [("Where was Marie Curie born?", "Warsaw"), ("When was Marie Curie born?", "1867"),
      ("Which prize did she share in 1903?", "the Nobel Prize in Physics"),
      ("When did she win the prize in chemistry?", "1911"), ("Which elements did she work on?", "radium and polonium")]),
    ("Honey bees live in colonies of up to sixty thousand workers and one queen. The workers collect nectar from "
     "flowers and turn it into honey, which the colony eats during the winter.",
     [("How many workers can a colony hold?", "up to sixty thousand"), ("How many queens does a colony have?", "one"),
      ("What do the workers collect?", "nectar"), ("What do the bees turn nectar into?", "honey"),
      ("When does the colony eat the honey?", "during the winter")]),
    ("The first public railway to use steam locomotives opened between Stockton and Darlington in 1825. George "
     "Stephenson built its engine, Locomotion No. 1, which pulled coal and passengers.",
     [("When did the railway open?", "1825"), ("Which towns did the railway join?", "Stockton and Darlington"),
      ("Who built the engine?", "George Stephenson"), ("What was the engine called?", "Locomotion No. 1"),
      ("What did the engine pull?", "coal and passengers")]),
    ("Mount Kilimanjaro in Tanzania is the highest mountain in Africa. Its summit, Uhuru Peak, stands 5,895 metres "
     "above the sea, and glaciers still cover part of it.",
     [("In which country is Kilimanjaro?", "Tanzania"), ("What is the summit called?", "Uhuru Peak"),
      ("How high is the summit?", "5,895 metres"), ("What still covers part of the summit?", "glaciers"),
      ("Kilimanjaro is the highest mountain of which continent?", "Africa")]),
    ("A violin has four strings tuned in fifths: G, D, A and E. The player draws a bow strung with horsehair across "
     "the strings, and the wooden body makes the sound louder.",
     [("How many strings does a violin have?", "four"), ("How are the strings tuned?", "in fifths"),
      ("What is the bow strung with?", "horsehair"), ("What makes the sound louder?", "the wooden body"),
      ("Which is the highest string?", "E")]),
    ("Photosynthesis takes place in the chloroplasts of plant cells. Using the energy of sunlight, the plant turns "
     "water and carbon dioxide into sugar and releases oxygen into the air.",
     [("Where does photosynthesis take place?", "the chloroplasts"), ("Which energy does the plant use?", "sunlight"),
      ("What does the plant make?", "sugar"), ("What does the plant release?", "oxygen"),
      ("What does the plant take in besides water?", "carbon dioxide")]),
    ("The Great Library of Alexandria was founded in the third century BC under the Ptolemies. Scholars there "
     "copied scrolls brought by ships that called at the harbour.",
     [("Where was the Great Library?", "Alexandria"), ("When was the library founded?", "the third century BC"),
      ("Under which rulers was it founded?", "the Ptolemies"), ("What did the scholars copy?", "scrolls"),
      ("Where did the ships call?", "the harbour")]),
]


def write_example(folder: str | os.PathLike) -> Path:
    """Write ``folder/qa.jsonl`` (one question a line, its paragraph as context); returns the table."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"p{number}q{k}", "question": question, "context": context, "answer": answer})
             for number, (context, questions) in enumerate(PARAGRAPHS) for k, (question, answer) in enumerate(questions)]
    table = folder / TABLE
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return table
