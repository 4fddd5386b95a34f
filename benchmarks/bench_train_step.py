"""Training-step speed and achieved FLOP/s: shipped, multi-pass and pix2pix configs, one process.

    python -m benchmarks.bench_train_step [--batches=1,8] [--steps=6] [--configs=shipped,multipass,pix2pix]

Configurations (each at batch 1, as in the pix2pix paper, and at the shipped batch):
  shipped  configs/shipped.flags through tfnormals.training.config.TrainConfig and
           tfnormals.training.loop.build_gan (U-Net 32..256 filters, 6 levels, bilinear upsampling;
           normals + depth + albedo heads; dense discriminator; 256 → 128 crops; float32).
  multipass, multipass_fp32
           configs/shipped.flags with the VGG16 encoder (first two blocks frozen), normals + depth + albedo
           heads, 256 → 128 crops, under mixed_bfloat16 and under float32; the
           batches carry depth and albedo so every loss runs. Compared with a bfloat16 and a
           float32 matmul respectively (this CPU has AVX512-BF16).
  pix2pix  written from the paper (Isola et al. 2017, appendix 6.1.1/6.1.2): 256² crops from 286²
           (their jitter), U-Net encoder C64-C128-C256-C512-C512-C512-C512-C512 = our builder with
           base_filters=64, levels=8, max_filters=512, 4×4 transposed-conv upsampling, batch norm,
           dropout 0.5 in the first 3 decoder blocks; the 70×70 PatchGAN C64-C128-C256-C512 (4×4,
           strides 2-2-2-1, batch norm but not on C64, LeakyReLU 0.2) then a 1-channel 4×4 conv,
           built here. Differences from the paper: our generator's head is a 4×4 transposed conv
           to 64 filters + ReLU + 3×3 conv to 3 + L2-normalize (the paper: a transposed conv to 3
           + tanh), which adds FLOPs at full resolution; our bottleneck (1×1) keeps batch norm;
           losses are ours (masked L1 + angular + GAN; the paper: L1 ×100 + GAN, same cost) and
           augmentation is ours (crop/flip plus photometric) at 256². The builder's
           discriminator kind='patch' with d_levels=3 (--p2p_discriminator=builder) lacks the
           stride-1 C512 layer: a 46×46 receptive field and about a third of the FLOPs.

Timing: NormalsGAN.train_step through fit() on in-memory synthetic batches (content does not
change the cost); step time is the median interval between on_train_batch_end calls of a
second fit() after a warm-up fit() (the first step traces); --budget_s caps the timed steps
(at least 3) so the big pix2pix configuration stays short. FLOPs: the train step is traced
(tf.function(gan.train_step) at the fixed batch shape) and the TF profiler's per-op FLOP statistics (the registry behind
tf.compat.v1.profiler ProfileOptionBuilder.float_operation(): Conv2D, Conv2DBackpropInput,
Conv2DBackpropFilter, MatMul, elementwise...) are summed over the ops the step executes —
ancestors of the function's outputs and of its stateful updates. Tracing two GradientTapes
creates gradient ops nothing uses (e.g. discriminator filter gradients on the generator's tape),
which grappler prunes at run time, so the profiler's total over the raw graph (also shown)
overcounts. Gradients are counted directly, no multiplier is applied. Achieved FLOP/s is
compared with a 4096² float32 tf.linalg.matmul measured in the same process before and after.
"""

import collections
import sys

from absl import flags

from benchmarks import common

MODULE = "benchmarks.bench_train_step"
TARGET_FRACTION = 0.5


BF16_CONFIGS = ("multipass",)


def matmul_flops_per_s(n=4096, repeats=3, dtype="float32"):
    """Median FLOP/s of an n×n matmul (2·n³ FLOPs) in `dtype`."""
    import tensorflow as tf
    a = tf.cast(tf.random.normal([n, n]), dtype)
    b = tf.cast(tf.random.normal([n, n]), dtype)
    fn = tf.function(lambda: tf.linalg.matmul(a, b))
    seconds = common.timed(lambda: fn().numpy(), repeats=repeats, warmup=1)
    return 2.0 * n ** 3 / common.median(seconds)


def live_flops(graph):
    """(FLOPs by op type over executed ops, raw total over all ops, op types whose shapes were unknown)."""
    from tensorflow.python.framework import ops as tf_ops
    roots = [t.op for t in graph.outputs] + list(graph.control_outputs)
    live, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op in live:
            continue
        live.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    by_type, raw, unknown = collections.Counter(), 0.0, collections.Counter()
    for op in graph.get_operations():
        try:
            value = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
        except ValueError:  # a shape that is not fully defined
            unknown[op.type] += 1
            continue
        if value:
            raw += float(value)
            if op in live:
                by_type[op.type] += float(value)
    nested = [op.type for op in graph.get_operations() if op.type in ("PartitionedCall", "StatefulPartitionedCall")]
    if nested:  # FLOPs inside nested functions would be missed
        unknown.update(nested)
    return by_type, raw, unknown


def paper_patchgan(input_size, name="discriminator"):
    """The pix2pix 70×70 PatchGAN over concat(plate, normals), with NormalsGAN's two inputs."""
    import keras
    plate = keras.Input((input_size, input_size, 3), name="plate")
    normals = keras.Input((input_size, input_size, 3), name="normals")
    x = keras.layers.Concatenate()([keras.layers.Rescaling(2.0, offset=-1.0)(plate), normals])
    for i, (filters, stride) in enumerate([(64, 2), (128, 2), (256, 2), (512, 1)]):
        if stride == 1:
            x = keras.layers.ZeroPadding2D(1)(x)
        x = keras.layers.Conv2D(filters, 4, strides=stride, padding="same" if stride == 2 else "valid",
                                use_bias=i == 0)(x)
        if i > 0:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.ZeroPadding2D(1)(x)
    logits = keras.layers.Conv2D(1, 4, padding="valid")(x)  # 30×30 logits at 256²
    return keras.Model([plate, normals], logits, name=name)


def build(kind, batch_size, args):
    """(gan, config, load_size) of a configuration."""
    import keras

    from tfnormals.model.discriminator import build_discriminator
    from tfnormals.model.gan import NormalsGAN
    from tfnormals.model.unet import build_generator
    from tfnormals.training.loop import build_gan
    # The flip-consistency term pairs images within a batch: a batch of one has no pair, so it is off there.
    flip = {} if batch_size >= 2 else {"flip_consistency_weight": 0.0}
    if kind == "shipped":
        config = common.train_config(args.train_flags, batch_size=batch_size, init_from="", **flip)
        return build_gan(config), config, config.load_size
    if kind.startswith("multipass"):
        precision = "mixed_bfloat16" if kind in BF16_CONFIGS else "float32"
        config = common.train_config(args.train_flags, batch_size=batch_size, pretrained=False, init_from="",
                                     precision=precision, encoder="vgg16", freeze_blocks=2, **flip)
        return build_gan(config, fresh=False), config, config.load_size
    config = common.train_config(args.train_flags, batch_size=batch_size, crop_size=256, load_size=286,
                                 base_filters=64, levels=8, max_filters=512, norm="batch", dropout=0.5,
                                 upsample="transpose", passes="normals", d_passes="normals", init_from="",
                                 l1_weight=100.0, angular_weight=0.0, g_lr=2e-4, d_lr=2e-4,
                                 beta_1=0.5, **flip)
    generator = build_generator(**config.generator_kwargs())
    if args.p2p_discriminator == "builder":
        discriminator = build_discriminator("patch", input_size=256, base_filters=64, levels=3, norm="batch")
    else:
        discriminator = paper_patchgan(256)
    gan = NormalsGAN(generator, discriminator, augment_config=config.augment, l1_weight=config.l1_weight,
                     angular_weight=config.angular_weight, adversarial_weight=config.adversarial_weight, seed=0)
    gan.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    return gan, config, 286


def synthetic_batch(batch_size, size, seed=0, passes=False):
    """Random batch in the records' format; with passes, also depth and albedo (and their validity)."""
    import tensorflow as tf
    g = tf.random.Generator.from_seed(seed)
    normals = tf.math.l2_normalize(g.normal([batch_size, size, size, 3]) + [0.0, 0.0, 1.5], axis=-1)
    mask = tf.cast(g.uniform([batch_size, size, size, 1]) < 0.8, tf.float32)
    batch = {"beauty": g.uniform([batch_size, size, size, 3]), "normals": normals * mask, "mask": mask}
    if passes:
        batch.update(depth=g.uniform([batch_size, size, size, 1], 1.0, 10.0) * mask,
                     albedo=g.uniform([batch_size, size, size, 3]), has_depth=tf.ones([batch_size]),
                     has_albedo=tf.ones([batch_size]))
    return batch


def forward_flops(fn, *specs):
    """Executed FLOPs of a tf.function traced at fixed input specs."""
    return sum(live_flops(fn.get_concrete_function(*specs).graph)[0].values())


def measure(kind, batch_size, args):
    import keras
    import tensorflow as tf

    from tfnormals.core import conventions
    from tfnormals.data import augment
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    gan, config, load = build(kind, batch_size, args)
    batch = synthetic_batch(batch_size, load, passes=kind.startswith("multipass"))
    data = tf.data.Dataset.from_tensors(batch).repeat()
    warm = common.fit_step_times(gan, data, 0, args.warmup_steps)  # the first step traces the function
    steps = max(3, min(args.steps, int(args.budget_s / warm[-1])))  # big configs get fewer timed steps
    step_s = common.median(common.fit_step_times(gan, data, 0, steps))

    spec = {k: tf.TensorSpec(v.shape, v.dtype) for k, v in batch.items()}
    by_type, raw, unknown = live_flops(tf.function(gan.train_step).get_concrete_function(spec).graph)
    flops = sum(by_type.values())
    conv_fwd = by_type.get("Conv2D", 0.0)
    conv_bwd = by_type.get("Conv2DBackpropInput", 0.0) + by_type.get("Conv2DBackpropFilter", 0.0)

    # Breakdown: augmentation alone, and the networks' inference-mode forward passes at the crop size.
    aug = tf.function(lambda b: augment.augment_batch(b, tf.constant([1, 2], tf.int64), config.augment))
    aug_s = common.median(common.timed(lambda: aug(batch)["beauty"].numpy(), repeats=3, warmup=1))
    crop = synthetic_batch(batch_size, config.crop_size)["beauty"]
    crop_spec = tf.TensorSpec(crop.shape)
    g_fwd = tf.function(lambda x: gan.generator(x, training=False)["normals"])
    g_s = common.median(common.timed(lambda: g_fwd(crop).numpy(), repeats=3, warmup=1))
    d_fwd = tf.function(lambda a, b: gan.discriminator([a, b], training=False))
    d_channels = sum(conventions.PASS_CHANNELS[p] for p in gan.d_passes)  # the passes it judges, stacked
    return {"config": kind, "precision": config.precision, "batch": batch_size, "crop": config.crop_size,
            "step_s": step_s,
            "images_per_s": batch_size / step_s, "first_step_s": warm[0], "timed_steps": steps,
            "flops": flops, "raw_flops": raw, "flops_per_s": flops / step_s, "conv_fwd": conv_fwd,
            "conv_bwd": conv_bwd, "other": flops - conv_fwd - conv_bwd, "unknown_ops": dict(unknown),
            "aug_s": aug_s, "g_fwd_s": g_s, "g_fwd_flops": forward_flops(g_fwd, crop_spec),
            "d_fwd_flops": forward_flops(d_fwd, crop_spec, tf.TensorSpec(crop.shape[:-1] + (d_channels,))),
            "g_params": gan.generator.count_params(), "d_params": gan.discriminator.count_params(),
            "top_ops": {k: float(v) for k, v in by_type.most_common(6)}}


def _peak(row, matmul, matmul_bf16):
    """The matmul reference of a row's precision."""
    return common.median(matmul_bf16 if row["precision"] == "mixed_bfloat16" else matmul)


def report(rows, matmul, matmul_bf16, args):
    headers = ["configuration", "timed steps", "images/s", "ms/step", "GFLOP/step (executed)", "GFLOP raw graph",
               "GFLOP/s", "% of matmul", "augment ms", "G fwd ms", "G fwd GFLOP/s"]
    table = [[f"{r['config']} b{r['batch']} ({r['crop']}²)", r["timed_steps"], r["images_per_s"], 1000 * r["step_s"],
              r["flops"] / 1e9, r["raw_flops"] / 1e9, r["flops_per_s"] / 1e9,
              100 * r["flops_per_s"] / _peak(r, matmul, matmul_bf16),
              1000 * r["aug_s"], 1000 * r["g_fwd_s"], r["g_fwd_flops"] / r["g_fwd_s"] / 1e9] for r in rows]
    models = common.markdown_table(
        ["configuration", "G params", "D params", "G fwd GFLOP/img", "D fwd GFLOP/img", "step GFLOP/img",
         "3·G + 7·D fwd estimate", "conv fwd %", "conv bwd %", "other %"],
        [[f"{r['config']} b{r['batch']}", r["g_params"], r["d_params"], r["g_fwd_flops"] / r["batch"] / 1e9,
          r["d_fwd_flops"] / r["batch"] / 1e9, r["flops"] / r["batch"] / 1e9,
          (3 * r["g_fwd_flops"] + 7 * r["d_fwd_flops"]) / r["batch"] / 1e9, 100 * r["conv_fwd"] / r["flops"],
          100 * r["conv_bwd"] / r["flops"], 100 * r["other"] / r["flops"]] for r in rows])
    unknown = {k: v for r in rows for k, v in r["unknown_ops"].items()}
    d_kind = "builder patch, d_levels=3" if args.p2p_discriminator == "builder" else "the paper's 70×70 PatchGAN"
    n = args.matmul_n
    peak, peak_bf16 = common.median(matmul), common.median(matmul_bf16)
    return ("### Training step (NormalsGAN.train_step via fit, augmentation included; synthetic in-memory batches)"
            "\n\n" + common.markdown_table(headers, table)
            + f"\n\nReference: {n}×{n} float32 matmul {peak / 1e9:.1f} GFLOP/s (median of "
              f"{', '.join(f'{m / 1e9:.1f}' for m in matmul)}, measured before and after in the same process); "
              f"bfloat16 matmul {peak_bf16 / 1e9:.1f} GFLOP/s ({peak_bf16 / peak:.2f}× float32), the reference of "
              f"the mixed_bfloat16 rows. "
              f"pix2pix discriminator: {d_kind}. Executed FLOPs count gradients directly (no multiplier); the "
              f"estimate column is the hand count 3·G + 7·D (G: forward + input and weight gradients; D: two "
              f"forwards, weight and input gradients of both branches on the discriminator tape, input gradients "
              f"of the fake branch on the generator's tape), shown as a cross-check.\n\n"
            + models
            + ("\n\nOps with unknown shapes (FLOPs not counted): " + str(unknown) if unknown else ""))


def targets(rows, matmul, matmul_bf16):
    result = []
    for kind, label in (("shipped", "matmul"), ("multipass", "bf16 matmul")):
        chosen = [r for r in rows if r["config"] == kind]
        if not chosen:
            continue
        r = max(chosen, key=lambda r: r["batch"])
        peak = _peak(r, matmul, matmul_bf16)
        fraction = r["flops_per_s"] / peak
        g_fraction = r["g_fwd_flops"] / r["g_fwd_s"] / peak
        limits = (f"{kind} b{r['batch']}: {r['flops'] / 1e9:.1f} GFLOP in {1000 * r['step_s']:.0f} ms; augmentation "
                  f"{1000 * r['aug_s']:.0f} ms ({100 * r['aug_s'] / r['step_s']:.0f}% of the step); the generator's "
                  f"forward pass alone runs at {100 * g_fraction:.0f}% of {label}; conv backprop is "
                  f"{100 * r['conv_bwd'] / r['flops']:.0f}% of the FLOPs")
        result.append(common.target(f"train step ≥ {100 * TARGET_FRACTION:.0f}% of {label} FLOP/s ({kind}, "
                                    f"b{r['batch']})",
                                    f"{100 * fraction:.0f}% ({r['flops_per_s'] / 1e9:.1f} of {peak / 1e9:.1f} GFLOP/s)",
                                    fraction >= TARGET_FRACTION, limits))
    fp32 = {r["batch"]: r for r in rows if r["config"] == "multipass_fp32"}
    for r in rows:
        if r["config"] == "multipass" and r["batch"] in fp32:
            speedup = fp32[r["batch"]]["step_s"] / r["step_s"]
            result.append(common.target(f"bf16 step faster than float32 (multipass, b{r['batch']})",
                                        f"{speedup:.2f}×", speedup > 1.0,
                                        f"bf16 matmul is {common.median(matmul_bf16) / common.median(matmul):.2f}× "
                                        "float32 on this CPU; the step is also bound by memory-bound ops"))
    return result


def define_flags():
    """Command-line flags (defined only when run as a program)."""
    flags.DEFINE_string("train_flags", common.SHIPPED_FLAGS, "Flagfile of every configuration (pix2pix: its settings).")
    flags.DEFINE_string("configs", "shipped,multipass,multipass_fp32,pix2pix",
                        "Any of shipped, multipass, multipass_fp32, pix2pix.")
    flags.DEFINE_string("batches", "", "Batch sizes (default: 1 and the shipped batch).")
    flags.DEFINE_integer("steps", 6, "Timed steps per configuration.")
    flags.DEFINE_integer("warmup_steps", 2, "Untimed steps first (the first traces the function).")
    flags.DEFINE_float("budget_s", 30.0,
                       "Timed steps are cut so a configuration takes about this long (at least 3 steps).")
    flags.DEFINE_integer("matmul_n", 4096, "Side of the square matmul that measures the CPU's FLOP/s.")
    flags.DEFINE_enum("p2p_discriminator", "paper", ["paper", "builder"],
                      "pix2pix's discriminator: the paper's 70×70 PatchGAN or the builder's.")
    common.define_output_flags(child=False)


def main(args):
    shipped_batch = common.train_config(args.train_flags).batch_size
    batches = [int(b) for b in args.batches.split(",")] if args.batches else sorted({1, shipped_batch})
    matmul = [matmul_flops_per_s(args.matmul_n)]
    matmul_bf16 = [matmul_flops_per_s(args.matmul_n, dtype="bfloat16")]
    rows = []
    for kind in args.configs.split(","):
        for batch_size in batches:
            print(f"[bench_train_step] {kind} batch {batch_size} ...", file=sys.stderr, flush=True)
            rows.append(measure(kind, batch_size, args))
    matmul.append(matmul_flops_per_s(args.matmul_n))
    matmul_bf16.append(matmul_flops_per_s(args.matmul_n, dtype="bfloat16"))
    return common.finish(MODULE, {"name": "train_step", "markdown": report(rows, matmul, matmul_bf16, args),
                                        "rows": rows, "matmul_flops_per_s": matmul,
                                        "matmul_bf16_flops_per_s": matmul_bf16,
                                        "targets": targets(rows, matmul, matmul_bf16)}, args.json_out)


if __name__ == "__main__":
    define_flags()
    common.run(main, MODULE)
