"""What several tasks share: hub access (:mod:`.hub`), the image models of torchvision, timm and EfficientNet-Lite
(:mod:`.image_models`, :mod:`.efficientnet_lite`), the text encoders that stage 2 and the dual encoders use
(:mod:`.text`), and the dual encoder of an image model with a text encoder (:mod:`.dual`)."""
