"""What several tasks share: hub access (:mod:`.hub`), the image models of torchvision, timm and EfficientNet-Lite
(:mod:`.image_models`, :mod:`.efficientnet_lite`), the text encoders that stage 2 and the dual encoders use
(:mod:`.text`). The dual encoders of an image model with a text encoder are each task's own
(:mod:`pipeline.tasks.vqa.models`, :mod:`pipeline.tasks.rec.models`)."""
