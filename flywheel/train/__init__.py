"""The bundled trainer: perception SFT, cold-start SFT and GRPO over the flywheel's shards (docs/training.md).

Nothing is imported here, so `import flywheel.train` stays cheap; torch, transformers and Ray load inside the
modules that need them.
"""
