"""Latent diffusion: the Stable Diffusion 1.5 UNet (Rombach et al. 2022; diffusers UNet2DConditionModel)."""

from __future__ import annotations

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Graph
from accelsim.workload.zoo._builder import Act, NetBuilder
from accelsim.workload.zoo._transformer import TransformerSpec, transformer_stack

# runwayml/stable-diffusion-v1-5 unet/config.json: block_out_channels, layers_per_block 2,
# attention_head_dim 8 (heads), cross_attention_dim 768, norm_num_groups 32, 4 latent channels;
# CLIP ViT-L/14 text context of 77 tokens; 64x64 latents for 512x512 images (VAE factor 8).
SD_CHANNELS = (320, 640, 1280, 1280)
SD_ATTENTION = (True, True, True, False)     # CrossAttn{Down,Up}Block2D in the first three levels
SD_LAYERS = 2
SD_HEADS = 8
SD_GROUPS = 32
SD_TEXT = (77, 768)
SD_LATENT_CHANNELS = 4
SD_TIME = 1280


class _UNet:
    """Builds the UNet's blocks on one NetBuilder, with the time embedding and text context."""

    def __init__(self, b: NetBuilder, time: Act, text: Act):
        self.b, self.time, self.text = b, time, text

    def conv(self, name: str, x: Act, channels: int, kernel: int = 3, stride: int = 1) -> Act:
        """A biased convolution, padded to keep 'same' size."""
        return self.b.conv2d(name, x, channels, kernel, stride, kernel // 2, bias=True)

    def norm_act(self, name: str, x: Act) -> Act:
        """GroupNorm then SiLU."""
        return self.b.activation(f"{name}.act", self.b.groupnorm(name, x, SD_GROUPS), "silu")

    def resnet(self, name: str, x: Act, channels: int) -> Act:
        """ResnetBlock2D: norm, SiLU, conv, + projected time embedding, norm, SiLU, conv, + skip."""
        b = self.b
        h = self.conv(f"{name}.conv1", self.norm_act(f"{name}.norm1", x), channels)
        h = b.add(f"{name}.time_add", h, b.linear(f"{name}.time_emb_proj", self.time, channels))
        h = self.conv(f"{name}.conv2", self.norm_act(f"{name}.norm2", h), channels)
        skip = self.conv(f"{name}.conv_shortcut", x, channels, 1) if x.shape[1] != channels else x
        return b.add(f"{name}.add", h, skip)

    def transformer(self, name: str, x: Act) -> Act:
        """Transformer2DModel: GroupNorm, 1x1 conv in, one block (self-attention, cross-attention
        over the text, GEGLU MLP), 1x1 conv out, residual."""
        b = self.b
        batch, channels, height, width = x.shape
        spec = TransformerSpec(layers=1, hidden=channels, heads=SD_HEADS, ffn=4 * channels, gated=True,
                               attn_bias=(False, False, False, True))
        h = self.conv(f"{name}.proj_in", b.groupnorm(f"{name}.norm", x, SD_GROUPS), channels, 1)
        tokens = b.view(h, (batch, height * width, channels), "tokens")
        h = transformer_stack(b, f"{name}.transformer_blocks", tokens, spec, context=self.text)
        h = self.conv(f"{name}.proj_out", b.view(h, (batch, channels, height, width), "image"),
                      channels, 1)
        return b.add(f"{name}.add", h, x)

    def level(self, name: str, x: Act, channels: int, attention: bool, inputs: list[Act],
              skips: list[Act] | None = None) -> Act:
        """The resnets (each followed by a transformer where `attention`) of one down or up block;
        down blocks push each output onto `inputs`, up blocks concatenate a popped skip first."""
        for j in range(SD_LAYERS + (skips is not None)):
            if skips is not None:
                x = self.b.concat(f"{name}.cat{j}", x, skips.pop())
            x = self.resnet(f"{name}.resnets.{j}", x, channels)
            if attention:
                x = self.transformer(f"{name}.attentions.{j}", x)
            if skips is None:
                inputs.append(x)
        return x

    def forward(self, latent: Act) -> Act:
        """conv_in, down blocks, mid block, up blocks with skip connections, norm, SiLU, conv_out."""
        b = self.b
        x = self.conv("conv_in", latent, SD_CHANNELS[0])
        skips = [x]
        for i, (channels, attention) in enumerate(zip(SD_CHANNELS, SD_ATTENTION)):
            x = self.level(f"down_blocks.{i}", x, channels, attention, skips)
            if i < len(SD_CHANNELS) - 1:
                x = self.conv(f"down_blocks.{i}.downsamplers.0.conv", x, channels, stride=2)
                skips.append(x)
        x = self.resnet("mid_block.resnets.0", x, SD_CHANNELS[-1])
        x = self.transformer("mid_block.attentions.0", x)
        x = self.resnet("mid_block.resnets.1", x, SD_CHANNELS[-1])
        for i, (channels, attention) in enumerate(zip(SD_CHANNELS[::-1], SD_ATTENTION[::-1])):
            x = self.level(f"up_blocks.{i}", x, channels, attention, [], skips)
            if i < len(SD_CHANNELS) - 1:
                x = self.conv(f"up_blocks.{i}.upsamplers.0.conv",
                              b.upsample(f"up_blocks.{i}.upsamplers.0.upsample", x), channels)
        return self.conv("conv_out", self.norm_act("conv_norm_out", x), SD_LATENT_CHANNELS)


def sd15_unet(batch: int = 1, precision: str = "fp16", image_size: int = 512, steps: int = 1) -> Graph:
    """Stable Diffusion 1.5 UNet (859.5M): ResNet blocks, self- and cross-attention to 77 x 768 text.

    One denoising step at an image_size / 8 latent, or `steps` of them (the weights shared), each
    followed by the sampler's update of the latent. Classifier-free guidance runs the UNet on a
    conditional and an unconditional batch: use batch=2 per image. Text encoder and VAE not included.
    """
    if image_size % 64:
        raise WorkloadError("must be a multiple of 64 (a latent of 8 x 2^3 downsampled levels)",
                            key="image_size")
    b = NetBuilder("sd15_unet", batch, precision)
    size = image_size // 8
    latent = b.input((batch, SD_LATENT_CHANNELS, size, size), "latent")
    text = b.input((batch, *SD_TEXT), "encoder_hidden_states")
    for step in range(steps):
        b.scope = f"step{step}." if steps > 1 else ""
        time = b.input((batch, SD_CHANNELS[0]), "timestep_features")   # sinusoidal, no parameters
        time = b.linear("time_embedding.linear_1", time, SD_TIME)
        time = b.linear("time_embedding.linear_2", b.activation("time_embedding.act", time, "silu"),
                        SD_TIME)
        noise = _UNet(b, b.activation("time_embedding.act_out", time, "silu"), text).forward(latent)
        latent = b.add("scheduler.step", latent, noise)       # the sampler updates the latent
    return b.graph(family="diffusion", image_size=image_size, latent_size=size, steps=steps)
