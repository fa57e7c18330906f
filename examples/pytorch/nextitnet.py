"""Load a graftrec NextItNet model directory in PyTorch and print user vectors as JSON.

    python3 nextitnet.py MODEL_DIR < histories.json

histories.json: a JSON list of histories, each a list of items, oldest first: integers are item ids (1-based,
in the order of MODEL_DIR/items.json; 0 is padding) and strings are item names from items.json. Output: a JSON
object {"dim": D, "vectors": [[D floats], ...]}, the user vector (the hidden state at the last position) of each
history, the same vectors `graftrec embed` and the library's encodeHistories give.

Needs only torch (and the standard library): model.safetensors is read by parsing its JSON header, not with the
safetensors package. graftrec stores convolution weights [k, Cin, Cout] (PyTorch's conv1d takes [Cout, Cin, k]),
and its convolutions read left padding as zeros, so each convolution's input is masked.
"""
import json
import struct
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "I32": torch.int32}


def read_safetensors(path: Path) -> dict:
    raw = bytearray(path.read_bytes())
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    start = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = DTYPES[entry["dtype"]]
        flat = torch.frombuffer(raw, dtype=dtype, offset=start + begin, count=(end - begin) // 4) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(entry["shape"]).clone()
    return tensors


class NextItNet(torch.nn.Module):
    """x → conv(d) → LayerNorm → ReLU → conv(2d) → LayerNorm → ReLU → + x, per residual block (causal)."""

    def __init__(self, config: dict, weights: dict):
        super().__init__()
        if config.get("backbone", "nextitnet") != "nextitnet" or config["objective"] != "causal" or config["itemEncoder"] != "id":
            raise SystemExit("this loader reads causal nextitnet models with the id item encoder only")
        self.dim = config["dim"]
        self.max_len = config["maxLen"]
        self.eps = config["layerNormEps"]
        self.kernel = config["kernelSize"]
        self.items = weights["items.weight"]
        self.blocks = []
        dilations = config["dilations"]
        for i in range(config["blocks"]):
            d = dilations[i % len(dilations)]
            w = lambda part: weights[f"block.{i}.{part}"]
            self.blocks.append({
                "convs": [(w("conv1.weight").permute(2, 1, 0).contiguous(), w("conv1.bias"), d),
                          (w("conv2.weight").permute(2, 1, 0).contiguous(), w("conv2.bias"), 2 * d)],
                "norms": [(w("ln1.gamma"), w("ln1.beta")), (w("ln2.gamma"), w("ln2.beta"))],
            })

    def conv(self, x: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, dilation: int) -> torch.Tensor:
        # x [B, L, C]; padding reads as zeros; causal: (k-1)·d zeros on the left
        y = (x * mask).transpose(1, 2)
        y = F.pad(y, ((self.kernel - 1) * dilation, 0))
        return F.conv1d(y, weight, bias, dilation=dilation).transpose(1, 2)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """items int64 [B, L], left-padded with 0 → user vectors [B, dim] (the last position)."""
        mask = (items > 0).to(torch.float32).unsqueeze(-1)
        h = self.items[items]
        for block in self.blocks:
            a = h
            for (weight, bias, dilation), (gamma, beta) in zip(block["convs"], block["norms"]):
                a = F.relu(F.layer_norm(self.conv(a, mask, weight, bias, dilation), (self.dim,), gamma, beta, self.eps))
            h = h + a
        return h[:, -1, :]


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python3 nextitnet.py MODEL_DIR < histories.json")
    model_dir = Path(sys.argv[1])
    config = json.loads((model_dir / "config.json").read_text())["model"]
    names = {name: i + 1 for i, name in enumerate(json.loads((model_dir / "items.json").read_text()))}
    model = NextItNet(config, read_safetensors(model_dir / "model.safetensors"))
    histories = []
    for h in json.load(sys.stdin):
        ids = [names[x] if isinstance(x, str) else int(x) for x in h][-model.max_len :]
        if not ids:
            raise SystemExit("every history needs at least one item")
        histories.append(ids)
    length = max(len(h) for h in histories) if histories else 1
    items = torch.zeros((len(histories), length), dtype=torch.int64)
    for b, h in enumerate(histories):
        items[b, length - len(h) :] = torch.tensor(h)
    torch.set_num_threads(1)
    with torch.no_grad():
        vectors = model(items) if histories else torch.zeros((0, model.dim))
    json.dump({"dim": model.dim, "vectors": vectors.tolist()}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
