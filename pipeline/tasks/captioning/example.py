"""The offline captioning example: 48 (image, caption) pairs on 12 of skimage's photos, and three tiny captioners.

The paper's nine captioners are private fine-tunes, and no captioner is bundled with a PyPI package, so the
example's candidates are tiny random-init ``VisionEncoderDecoderModel``s (ViT encoder, BERT or GPT-2 decoder, a
WordPiece vocabulary of the captions' words) written as checkpoint folders, built from configs without a download.
Their ranking means nothing; the example shows the three stages run offline on real photos and real captions, and
the models load through the same path as a user's fine-tune (``--checkpoint-dir``).

    python tools/make_caption_example.py [FOLDER]     # default: data/caption_example
"""
from __future__ import annotations

import os
from pathlib import Path

CAPTIONS = {
    "astronaut": ("an astronaut in a white suit", "a woman smiling in front of a flag",
                  "a portrait of an astronaut holding a helmet", "a person in a space suit"),
    "coffee": ("a cup of coffee on a saucer", "a white cup with a spoon", "coffee in a cup on a table",
               "a hot drink in a white cup"),
    "chelsea": ("a cat looking to the side", "a striped cat with green eyes", "the face of a tabby cat",
                "a cat sitting on a rug"),
    "rocket": ("a rocket on the launch pad", "a space rocket ready to launch", "a tall rocket under a blue sky",
               "a launch tower beside a rocket"),
    "camera": ("a man with a camera on a tripod", "a photographer in a field", "a black and white photo of a man",
               "a man looking through a camera"),
    "coins": ("coins on a dark table", "many old coins in rows", "a black and white photo of coins",
              "round coins of different sizes"),
    "moon": ("the surface of the moon", "craters on the moon", "a grey photo of the moon",
             "a close view of the moon"),
    "horse": ("a horse drawn in black", "the shape of a running horse", "a black horse on white",
              "a horse with its legs apart"),
    "clock": ("a clock on a wall", "a round clock with hands", "a grey photo of a clock",
              "a clock showing the time"),
    "hubble_deep_field": ("galaxies in deep space", "many small stars and galaxies", "a photo of the night sky",
                          "bright galaxies on black"),
    "immunohistochemistry": ("cells under a microscope", "stained tissue in brown and blue",
                             "a microscope photo of tissue", "many cells in a sample"),
    "colorwheel": ("a wheel of colours", "a circle of every colour", "a colour wheel on white",
                   "red green and blue in a circle"),
}
TABLE = "captions.csv"
CHECKPOINTS = "ckpts"
# name -> (decoder, encoder width, seed): three candidates of different widths and decoders
CAPTIONERS = {"tiny_vit_bert": ("bert", 32, 0), "tiny_vit_gpt2": ("gpt2", 48, 1), "tiny_vit_bert_wide": ("bert", 64, 2)}


def write_example(folder: str | os.PathLike) -> Path:
    """Write ``folder/captions.csv`` (image,caption rows, the four captions of a photo apart so images repeat),
    the photos in ``folder/images/`` and the captioners in ``folder/ckpts/<name>/``; returns the table."""
    import csv

    import skimage.data
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for photo in CAPTIONS:
        Image.fromarray(getattr(skimage.data, photo)()).convert("RGB").save(folder / "images" / f"{photo}.png")
    table = folder / TABLE
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        for version in range(4):
            writer.writerows([f"images/{photo}.png", captions[version]] for photo, captions in CAPTIONS.items())
    words = sorted({word for captions in CAPTIONS.values() for caption in captions for word in caption.split()})
    for name, (decoder, width, seed) in CAPTIONERS.items():
        tiny_captioner(folder / CHECKPOINTS / name, words, decoder=decoder, encoder_dim=width, seed=seed)
    return table


def tiny_captioner(folder: Path, words, *, decoder: str = "bert", encoder_dim: int = 32, seed: int = 0) -> Path:
    """A random-init ViT + BERT (or GPT-2) ``VisionEncoderDecoderModel`` at 32 px with a WordPiece vocabulary of
    `words`, saved with its tokenizer and image processor in `folder` (seeded; the global torch generator is left
    as it was)."""
    import torch
    from transformers import (BertConfig, BertTokenizer, GPT2Config, ViTConfig, ViTImageProcessor,
                              VisionEncoderDecoderConfig, VisionEncoderDecoderModel)

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"))
    encoder = ViTConfig(image_size=32, patch_size=8, hidden_size=encoder_dim, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    if decoder == "bert":
        decoder_config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64, is_decoder=True,
                                    add_cross_attention=True)
    else:
        decoder_config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                    add_cross_attention=True, bos_token_id=tokenizer.cls_token_id,
                                    eos_token_id=tokenizer.sep_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = VisionEncoderDecoderModel(VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder,
                                                                                                   decoder_config))
    model.config.decoder_start_token_id = tokenizer.cls_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
