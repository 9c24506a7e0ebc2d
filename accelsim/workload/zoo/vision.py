"""Phone-class vision models: YOLOv8n detection (Ultralytics) and MediaPipe selfie segmentation."""

from __future__ import annotations

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Graph
from accelsim.workload.zoo._builder import Act, NetBuilder
from accelsim.workload.zoo.cnn import _conv_bn

# Ultralytics yolov8.yaml at scale n (depth 0.33, width 0.25): COCO's 80 classes, 16 DFL bins per
# box side, strides 8, 16 and 32.
YOLO_CLASSES = 80
YOLO_REG_MAX = 16


def _conv(b: NetBuilder, name: str, x: Act, channels: int, kernel: int = 1, stride: int = 1) -> Act:
    """Ultralytics Conv: convolution without bias, BatchNorm, SiLU."""
    return _conv_bn(b, f"{name}.", x, channels, kernel, stride, act="silu")


def _c2f(b: NetBuilder, name: str, x: Act, channels: int, blocks: int, shortcut: bool) -> Act:
    """C2f: a 1x1 conv split in two halves, `blocks` bottlenecks (two 3x3 convs, residual when
    `shortcut`) chained on the second half, every piece concatenated into a 1x1 conv."""
    hidden = channels // 2
    y = _conv(b, f"{name}.cv1", x, 2 * hidden)
    batch, _, h, w = y.shape
    parts = [b.view(y, (batch, hidden, h, w), f"half{i}") for i in range(2)]
    for i in range(blocks):
        z = _conv(b, f"{name}.m.{i}.cv2", _conv(b, f"{name}.m.{i}.cv1", parts[-1], hidden, 3), hidden, 3)
        parts.append(b.add(f"{name}.m.{i}.add", z, parts[-1]) if shortcut else z)
    return _conv(b, f"{name}.cv2", b.concat(f"{name}.cat", *parts), channels)


def _sppf(b: NetBuilder, name: str, x: Act, channels: int) -> Act:
    """SPPF: a 1x1 conv, three chained 5x5 stride-1 max pools, all four concatenated, a 1x1 conv."""
    parts = [_conv(b, f"{name}.cv1", x, x.shape[1] // 2)]
    for i in range(3):
        parts.append(b.pool(f"{name}.m{i}", parts[-1], "max", 5, 1, padding=2))
    return _conv(b, f"{name}.cv2", b.concat(f"{name}.cat", *parts), channels)


def _detect(b: NetBuilder, levels: list[Act]) -> None:
    """Decoupled head per level (box: 4 x 16 DFL logits, class: 80 logits, two 3x3 convs each), then
    the DFL expectation over all anchors: a softmax over the 16 bins and a fixed 1x1 conv."""
    box_width = max(16, levels[0].shape[1] // 4, 4 * YOLO_REG_MAX)
    cls_width = max(levels[0].shape[1], min(YOLO_CLASSES, 100))
    boxes, scores = [], []
    for i, x in enumerate(levels):
        for branch, width, out, outputs in (("cv2", box_width, 4 * YOLO_REG_MAX, boxes),
                                            ("cv3", cls_width, YOLO_CLASSES, scores)):
            y = _conv(b, f"model.22.{branch}.{i}.1", _conv(b, f"model.22.{branch}.{i}.0", x, width, 3),
                      width, 3)
            y = b.conv2d(f"model.22.{branch}.{i}.2", y, out, 1, bias=True)
            outputs.append(b.view(y, (b.batch, out, y.shape[2] * y.shape[3], 1)))
    box = b.concat("model.22.box_cat", *boxes, axis=2)
    anchors = box.shape[2]
    bins = b.softmax("model.22.dfl.softmax", b.view(box, (b.batch, 4, anchors, YOLO_REG_MAX)))
    b.conv2d("model.22.dfl.conv", b.view(bins, (b.batch, YOLO_REG_MAX, 4, anchors), "bins"), 1, 1)
    b.activation("model.22.cls_sigmoid", b.concat("model.22.cls_cat", *scores, axis=2), "sigmoid")


def yolov8n(batch: int = 1, precision: str = "fp16", image_size: int = 640) -> Graph:
    """YOLOv8n (Ultralytics 2023): CSP backbone with C2f blocks, SPPF, PAN neck, anchor-free head."""
    if image_size % 32:
        raise WorkloadError("must be a multiple of the largest stride, 32", key="image_size")
    b = NetBuilder("yolov8n", batch, precision)
    x = _conv(b, "model.0", b.input((batch, 3, image_size, image_size), "image"), 16, 3, 2)
    x = _conv(b, "model.1", x, 32, 3, 2)
    x = _c2f(b, "model.2", x, 32, 1, True)
    x = _conv(b, "model.3", x, 64, 3, 2)
    p3 = _c2f(b, "model.4", x, 64, 2, True)
    x = _conv(b, "model.5", p3, 128, 3, 2)
    p4 = _c2f(b, "model.6", x, 128, 2, True)
    x = _conv(b, "model.7", p4, 256, 3, 2)
    x = _c2f(b, "model.8", x, 256, 1, True)
    p5 = _sppf(b, "model.9", x, 256)
    x = b.concat("model.11", b.upsample("model.10", p5), p4)
    h4 = _c2f(b, "model.12", x, 128, 1, False)
    x = b.concat("model.14", b.upsample("model.13", h4), p3)
    out3 = _c2f(b, "model.15", x, 64, 1, False)
    x = b.concat("model.17", _conv(b, "model.16", out3, 64, 3, 2), h4)
    out4 = _c2f(b, "model.18", x, 128, 1, False)
    x = b.concat("model.20", _conv(b, "model.19", out4, 128, 3, 2), p5)
    out5 = _c2f(b, "model.21", x, 256, 1, False)
    _detect(b, [out3, out4, out5])
    return b.graph(family="cnn", image_size=image_size)


class _Selfie:
    """Layers of the MediaPipe selfie segmenter: biased convs with an activation."""

    def __init__(self, b: NetBuilder):
        self.b = b

    def conv(self, name: str, x: Act, channels: int, act: str | None = None, kernel: int = 1,
             stride: int = 1, depthwise: bool = False) -> Act:
        """A biased (depthwise) convolution, padded to keep 'same' size, then `act`."""
        groups = x.shape[1] if depthwise else 1
        y = self.b.conv2d(name, x, channels, kernel, stride, kernel // 2, groups, bias=True)
        return self.b.activation(f"{name}.{act}", y, act) if act else y

    def gate(self, name: str, x: Act, source: Act, squeeze: int, first: str, second: str) -> Act:
        """x * sigmoid(conv(act(conv(source)))): squeeze-excitation without pooling (landscape)."""
        s = self.conv(f"{name}.{first}", source, squeeze, "relu")
        return self.b.mul(f"{name}.mul", x, self.conv(f"{name}.{second}", s, x.shape[1], "sigmoid"))

    def bottleneck(self, name: str, x: Act, expand: int, out: int, kernel: int, stride: int,
                   act: str, squeeze: int | None, convs: tuple[str, ...]) -> Act:
        """MobileNetV3 block: 1x1 expand, depthwise, optional gate, 1x1 project, residual if it fits."""
        e, d, *rest = convs
        y = self.conv(f"{name}.{e}", x, expand, act)
        y = self.conv(f"{name}.{d}", y, expand, act, kernel, stride, depthwise=True)
        if squeeze:
            y = self.gate(name, y, y, squeeze, rest[0], rest[1])
        y = self.conv(f"{name}.{rest[-1]}", y, out)
        return self.b.add(f"{name}.add", y, x) if stride == 1 and x.shape == y.shape else y

    def decoder(self, name: str, x: Act, skip: Act, channels: int, convs: tuple[str, ...]) -> Act:
        """Upsample, 1x1 conv, gate the skip by the sum, 1x1 conv, depthwise residual refinement."""
        up, a, c, proj, dw = convs
        x = self.conv(f"{name}.{up}", self.b.upsample(f"{name}.upsample", x, bilinear=True), channels)
        both = self.b.add(f"{name}.sum", skip, x)
        x = self.b.add(f"{name}.fuse", x, self.gate(name, skip, both, channels, a, c))
        x = self.conv(f"{name}.{proj}", x, channels, "relu")
        return self.b.add(f"{name}.refine", x, self.conv(f"{name}.{dw}", x, channels, "relu", 3,
                                                          depthwise=True))


def selfie_seg(batch: int = 1, precision: str = "fp16") -> Graph:
    """MediaPipe selfie segmentation, landscape model (144 x 256 RGB in, a 144 x 256 person mask out).

    MobileNetV3-like encoder and a gated decoder, as reconstructed from the TFLite model by Qualcomm
    AI Hub (qai_hub_models mediapipe_selfie, image_type='landscape': no average pools).
    """
    b = NetBuilder("selfie_seg", batch, precision)
    s = _Selfie(b)
    x1 = s.conv("conv1", b.input((batch, 3, 144, 256), "image"), 16, "hardswish", 3, 2)
    x = s.conv("depthwise1", s.conv("conv2", x1, 16, "relu"), 16, "relu", 3, 2, depthwise=True)
    x3 = s.conv("conv5", s.gate("block1", x, x, 8, "conv3", "conv4"), 16)
    x = s.bottleneck("block2", x3, 72, 24, 3, 2, "relu", None, ("conv6", "depthwise2", "conv7"))
    x2 = s.bottleneck("block3", x, 88, 24, 3, 1, "relu", None, ("conv8", "depthwise3", "conv9"))
    x = s.bottleneck("block4", x2, 96, 32, 5, 2, "hardswish", 24,
                     ("conv10", "depthwise4", "conv11", "conv12", "conv13"))
    for i, (expand, squeeze) in enumerate(((128, 32), (128, 32), (96, 24), (96, 24))):
        n = 14 + 4 * i
        x = s.bottleneck(f"block{5 + i}", x, expand, 32, 5, 1, "hardswish", squeeze,
                         (f"conv{n}", f"depthwise{5 + i}", f"conv{n + 1}", f"conv{n + 2}", f"conv{n + 3}"))
    head = s.conv("conv30", x, 128, "relu")
    x = b.mul("head.mul", head, s.conv("conv31", x, 128, "sigmoid"))
    x = s.decoder("decoder1", x, x2, 24, ("conv32", "conv33", "conv34", "conv35", "depthwise9"))
    x = s.decoder("decoder2", x, x3, 16, ("conv36", "conv37", "conv38", "conv39", "depthwise10"))
    x = s.decoder("decoder3", x, x1, 16, ("conv40", "conv41", "conv42", "conv43", "depthwise11"))
    b.activation("mask", b.conv_transpose2d("transpose_conv", x, 1, 2), "sigmoid")
    return b.graph(family="cnn", image_size=(144, 256))
