"""Regenerate ``torchvision_video_resnet_keys.json``: torchvision's own VideoResNet classes, run with torch only.

torchvision's compiled ops do not load against every torch build, so the golden file is made from the
*source* of its video ResNets, not an import of the package::

    unzip -o torchvision-0.28.0-cp311-cp311-manylinux_2_28_x86_64.whl torchvision/models/video/resnet.py -d /tmp/tv
    python tests/golden/make_torchvision_video_keys.py /tmp/tv/torchvision/models/video/resnet.py

The file's package-relative imports (transforms presets, ``_log_api_usage_once``, the weights registry,
the Kinetics category list, the legacy-interface decorator) are replaced by inert stubs; the model
classes (``VideoResNet``, the blocks, stems and ``r2plus1d_18`` / ``r3d_18`` / ``mc3_18``) run as shipped.
The output records, per architecture, every ``state_dict()`` key with its shape, in order.
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

OUT = Path(__file__).resolve().parent / "torchvision_video_resnet_keys.json"
ARCHS = ("r2plus1d_18", "r3d_18", "mc3_18")


def _stub_package() -> None:
    """Inert stand-ins for the modules ``resnet.py`` imports relative to its package (``tvstub``)."""

    class Weights:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

    class WeightsEnum:
        @classmethod
        def verify(cls, weights):
            return weights

    def _identity_decorator(*_args, **_kwargs):
        return lambda fn: fn

    stubs = {
        "tvstub": {},
        "tvstub.transforms": {},
        "tvstub.transforms._presets": {"VideoClassification": object},
        "tvstub.utils": {"_log_api_usage_once": lambda _obj: None},
        "tvstub.models": {},
        "tvstub.models._api": {"register_model": _identity_decorator, "Weights": Weights, "WeightsEnum": WeightsEnum},
        "tvstub.models._meta": {"_KINETICS400_CATEGORIES": [f"class{i}" for i in range(400)]},
        "tvstub.models._utils": {
            "_ovewrite_named_param": lambda kwargs, name, value: kwargs.__setitem__(name, value),
            "handle_legacy_interface": _identity_decorator,
            "_ModelURLs": dict,
        },
        "tvstub.models.video": {},
    }
    for name, attrs in stubs.items():
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so relative imports resolve
        module.__dict__.update(attrs)
        sys.modules[name] = module


def main(source: str) -> None:
    """Execute ``source`` (torchvision's ``models/video/resnet.py``) and write the golden key file."""
    text = Path(source).read_text()
    _stub_package()
    module = types.ModuleType("tvstub.models.video.resnet")
    module.__package__ = "tvstub.models.video"
    exec(compile(text, source, "exec"), module.__dict__)  # torchvision's own source, from its wheel
    out = {
        "_how": __doc__.strip().splitlines()[0] + " See tests/golden/make_torchvision_video_keys.py.",
        "_source": f"torchvision 0.28.0 wheel, torchvision/models/video/resnet.py (sha256 "
        f"{hashlib.sha256(text.encode()).hexdigest()})",
    }
    for arch in ARCHS:
        model = getattr(module, arch)(weights=None)
        out[arch] = {k: list(v.shape) for k, v in model.state_dict().items()}
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in out.items() if isinstance(v, str)]
    for arch in ARCHS:
        rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps(shape)}" for k, shape in out[arch].items())
        lines.append(f"{json.dumps(arch)}: {{\n{rows}\n }}")
    OUT.write_text("{\n " + ",\n ".join(lines) + "\n}\n")
    print(f"wrote {OUT}: " + ", ".join(f"{a} {len(out[a])} tensors" for a in ARCHS))


if __name__ == "__main__":
    main(sys.argv[1])
