"""Convolutional networks: AlexNet, VGG-16, ResNet-50, MobileNetV2 (torchvision layouts), BlazeFace."""

from __future__ import annotations

from accelsim.workload.ir import Graph
from accelsim.workload.zoo._builder import Act, NetBuilder

IMAGENET_CLASSES = 1000


def _image(b: NetBuilder, image_size: int) -> Act:
    """An RGB image batch [B, 3, H, W]."""
    return b.input((b.batch, 3, image_size, image_size), "image")


def _classifier(b: NetBuilder, x: Act, widths: tuple[int, ...]) -> Act:
    """Flatten, then fc6, fc7, ... with ReLU between them (dropout is identity at inference)."""
    x = b.view(x, (b.batch, x.tensor.elements // b.batch))
    for i, width in enumerate(widths, start=6):
        x = b.linear(f"fc{i}", x, width)
        if i < 5 + len(widths):
            x = b.activation(f"relu{i}", x, "relu")
    return x


def alexnet(batch: int = 1, precision: str = "fp16", image_size: int = 224) -> Graph:
    """AlexNet (Krizhevsky et al. 2012) in torchvision's single-tower layout."""
    b = NetBuilder("alexnet", batch, precision)
    x = _image(b, image_size)
    layers = ((1, 64, 11, 4, 2, True), (2, 192, 5, 1, 2, True), (3, 384, 3, 1, 1, False),
              (4, 256, 3, 1, 1, False), (5, 256, 3, 1, 1, True))
    for i, channels, kernel, stride, padding, pooled in layers:
        x = b.conv2d(f"conv{i}", x, channels, kernel, stride, padding, bias=True)
        x = b.activation(f"relu{i}", x, "relu")
        if pooled:
            x = b.pool(f"pool{i}", x, "max", 3, 2)
    x = b.adaptive_pool("avgpool", x, (6, 6))
    _classifier(b, x, (4096, 4096, IMAGENET_CLASSES))
    return b.graph(family="cnn", image_size=image_size)


def vgg16(batch: int = 1, precision: str = "fp16", image_size: int = 224) -> Graph:
    """VGG-16, configuration D of Simonyan & Zisserman 2014 (torchvision, no batchnorm)."""
    b = NetBuilder("vgg16", batch, precision)
    x = _image(b, image_size)
    for stage, (channels, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), 1):
        for j in range(1, convs + 1):
            x = b.conv2d(f"conv{stage}_{j}", x, channels, 3, padding=1, bias=True)
            x = b.activation(f"relu{stage}_{j}", x, "relu")
        x = b.pool(f"pool{stage}", x, "max", 2)
    x = b.adaptive_pool("avgpool", x, (7, 7))
    _classifier(b, x, (4096, 4096, IMAGENET_CLASSES))
    return b.graph(family="cnn", image_size=image_size)


def _conv_bn(b: NetBuilder, name: str, x: Act, channels: int, kernel: int, stride: int = 1,
             groups: int = 1, act: str | None = "relu", suffix: str = "") -> Act:
    """conv{suffix} -> bn{suffix} -> act{suffix}, convolution padded to keep 'same' size."""
    x = b.conv2d(f"{name}conv{suffix}", x, channels, kernel, stride, kernel // 2, groups)
    x = b.batchnorm(f"{name}bn{suffix}", x)
    return b.activation(f"{name}{act}{suffix}", x, act) if act else x


def _bottleneck(b: NetBuilder, name: str, x: Act, width: int, stride: int) -> Act:
    """ResNet v1.5 bottleneck: 1x1 reduce, 3x3 (carries the stride), 1x1 expand x4, residual."""
    out = width * 4
    y = _conv_bn(b, name, x, width, 1, suffix="1")
    y = _conv_bn(b, name, y, width, 3, stride, suffix="2")
    y = _conv_bn(b, name, y, out, 1, act=None, suffix="3")
    if stride != 1 or x.shape[1] != out:
        x = b.batchnorm(f"{name}downsample.1", b.conv2d(f"{name}downsample.0", x, out, 1, stride))
    return b.activation(f"{name}relu3", b.add(f"{name}add", y, x), "relu")


def resnet50(batch: int = 1, precision: str = "fp16", image_size: int = 224) -> Graph:
    """ResNet-50 (He et al. 2016), torchvision v1.5: stride in the 3x3 conv of each bottleneck."""
    b = NetBuilder("resnet50", batch, precision)
    x = _conv_bn(b, "", _image(b, image_size), 64, 7, 2, suffix="1")
    x = b.pool("maxpool", x, "max", 3, 2, padding=1)
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for i in range(blocks):
            x = _bottleneck(b, f"layer{stage}.{i}.", x, width, 2 if i == 0 and stage > 1 else 1)
    x = b.adaptive_pool("avgpool", x)
    b.linear("fc", b.view(x, (batch, x.shape[1])), IMAGENET_CLASSES)
    return b.graph(family="cnn", image_size=image_size)


# MobileNetV2 (Sandler et al. 2018) Table 2: expansion t, channels c, repeats n, first stride s.
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _inverted_residual(b: NetBuilder, name: str, x: Act, expansion: int, out: int,
                       stride: int) -> Act:
    """Expand 1x1 (skipped when t=1) -> depthwise 3x3 -> linear project 1x1, residual if shapes match."""
    hidden = x.shape[1] * expansion
    y = _conv_bn(b, f"{name}expand.", x, hidden, 1, act="relu6") if expansion != 1 else x
    y = _conv_bn(b, f"{name}dw.", y, hidden, 3, stride, groups=hidden, act="relu6")
    y = _conv_bn(b, f"{name}project.", y, out, 1, act=None)
    return b.add(f"{name}add", y, x) if stride == 1 and x.shape[1] == out else y


def mobilenet_v2(batch: int = 1, precision: str = "fp16", image_size: int = 224) -> Graph:
    """MobileNetV2 width 1.0 (torchvision): inverted residuals with linear bottlenecks."""
    b = NetBuilder("mobilenet_v2", batch, precision)
    x = _conv_bn(b, "features.0.", _image(b, image_size), 32, 3, 2, act="relu6")
    index = 1
    for expansion, channels, repeats, stride in MOBILENET_V2_SETTINGS:
        for i in range(repeats):
            x = _inverted_residual(b, f"features.{index}.", x, expansion, channels, stride if i == 0 else 1)
            index += 1
    x = _conv_bn(b, f"features.{index}.", x, 1280, 1, act="relu6")
    x = b.adaptive_pool("avgpool", x)
    b.linear("classifier", b.view(x, (batch, 1280)), IMAGENET_CLASSES)
    return b.graph(family="cnn", image_size=image_size)


# BlazeFace front model: (in, out, stride) of each BlazeBlock in backbone1 and backbone2.
BLAZEFACE_BACKBONE1 = ((24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1),
                       (42, 48, 2), (48, 56, 1), (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1))
BLAZEFACE_BACKBONE2 = ((88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1))


def _blaze_block(b: NetBuilder, name: str, x: Act, out: int, stride: int) -> Act:
    """Depthwise 3x3 + pointwise 1x1 (with biases); the skip is max-pooled on stride 2, zero-padded."""
    y = b.conv2d(f"{name}dw", x, x.shape[1], 3, stride, 1, groups=x.shape[1], bias=True)
    y = b.conv2d(f"{name}pw", y, out, 1, bias=True)
    skip = b.pool(f"{name}skip_pool", x, "max", 2) if stride == 2 else x
    return b.activation(f"{name}relu", b.add(f"{name}add", y, skip), "relu")


def facedet(batch: int = 1, precision: str = "fp16", image_size: int = 128) -> Graph:
    """BlazeFace front-camera detector (Bazarevsky et al. 2019; MediaPipe face_detection_front).

    Follows the MediaPipe model as ported in hollance/BlazeFace-PyTorch: single BlazeBlocks with
    3x3 depthwise kernels, batchnorm folded into conv biases, and 896 anchors on 16x16 and 8x8 grids.
    """
    b = NetBuilder("facedet", batch, precision)
    x = b.conv2d("conv0", _image(b, image_size), 24, 5, 2, 2, bias=True)
    x = b.activation("relu0", x, "relu")
    for i, (_, out, stride) in enumerate(BLAZEFACE_BACKBONE1):
        x = _blaze_block(b, f"backbone1.{i}.", x, out, stride)
    fine = x
    for i, (_, out, stride) in enumerate(BLAZEFACE_BACKBONE2):
        x = _blaze_block(b, f"backbone2.{i}.", x, out, stride)
    for grid, features, anchors in (("8", fine, 2), ("16", x, 6)):   # anchors per cell
        b.conv2d(f"classifier_{grid}", features, anchors, 1, bias=True)
        b.conv2d(f"regressor_{grid}", features, anchors * 16, 1, bias=True)
    return b.graph(family="cnn", image_size=image_size)
